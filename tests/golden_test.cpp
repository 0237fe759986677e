// PyTorch parity for a whole model: replays tests/golden/lenet (made by tests/golden/make_golden.py):
// logits, loss, every parameter gradient, then three SGD-momentum and three Adam steps, losses and weights.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <minicnn/adam.h>
#include <minicnn/loss.h>
#include <minicnn/model.h>
#include <minicnn/npy.h>
#include <minicnn/registry.h>
#include <minicnn/sgd.h>
#include "test_util.h"

namespace minicnn {
namespace {

const std::string kLenetDir = std::string(MINICNN_SOURCE_DIR) + "/tests/golden/lenet/";

nlohmann::json read_manifest() {
  std::ifstream in(kLenetDir + "manifest.json");
  if (!in) return nullptr;
  return nlohmann::json::parse(in);
}

Tensor golden(const std::string& relative) { return load_npy(kLenetDir + relative); }

void expect_relative(double actual, double expected, double rel_tol, const std::string& what) {
  EXPECT_LE(std::fabs(actual - expected), rel_tol * std::fabs(expected))
      << what << ": minicnn " << actual << ", torch " << expected;
}

// The LeNet of the manifest, built and then loaded with torch's initial weights.
class LenetGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    manifest_ = read_manifest();
    ASSERT_FALSE(manifest_.is_null()) << "missing " << kLenetDir
                                      << "manifest.json; run /usr/bin/python3 tests/golden/make_golden.py";
    x_ = golden("x.npy");
    targets_ = golden("targets.npy");
    ASSERT_EQ(targets_.dtype(), DType::Int32);
  }

  Model fresh_model() {
    Model model = parse_model(manifest_["spec"].get<std::string>());
    const auto chw = manifest_["input_chw"].get<std::vector<int64_t>>();
    model.build(Shape(chw), /*seed=*/1);  // every parameter is overwritten below
    std::vector<std::string> names;
    for (auto& [name, p] : model.named_parameters()) {
      Tensor w = golden(name + ".npy");
      EXPECT_EQ(p->value.shape(), w.shape()) << name;
      p->value.copy_from(w);
      names.push_back(name);
    }
    EXPECT_EQ(names, manifest_["parameters"].get<std::vector<std::string>>());
    return model;
  }

  // Runs `steps` optimizer steps on the same batch, returning the loss measured before each one.
  std::vector<double> train(Model& model, Optimizer& opt, int steps) {
    CrossEntropyLoss ce;
    std::vector<double> losses;
    for (int s = 0; s < steps; ++s) {
      opt.zero_grad();
      const LossResult r = ce.forward(model.forward(x_, Mode::Train), targets_);
      losses.push_back(r.loss);
      model.backward(ce.backward());
      opt.step();
    }
    return losses;
  }

  void expect_weights(Model& model, const std::string& folder) {
    for (auto& [name, p] : model.named_parameters()) {
      EXPECT_TRUE(testing::close_values(p->value, golden(folder + "/" + name + ".npy"), {.abs = 1e-4}))
          << folder << " weights " << name;
    }
  }

  void expect_losses(const std::vector<double>& losses, const std::string& key) {
    const auto expected = manifest_[key]["losses"].get<std::vector<double>>();
    const Tensor saved = golden(key + "_losses.npy");
    ASSERT_EQ(losses.size(), expected.size());
    ASSERT_EQ(saved.numel(), static_cast<int64_t>(expected.size()));
    for (size_t i = 0; i < losses.size(); ++i) {
      expect_relative(losses[i], expected[i], 1e-4, key + " loss before step " + std::to_string(i + 1));
      expect_relative(losses[i], saved.to_vector()[i], 1e-4, key + " loss (npy) before step " + std::to_string(i + 1));
    }
  }

  nlohmann::json manifest_;
  Tensor x_, targets_;
};

TEST_F(LenetGolden, ForwardLossAndEveryGradientMatchTorch) {
  Model model = fresh_model();
  model.zero_grad();
  const Tensor logits = model.forward(x_, Mode::Train);
  EXPECT_TRUE(testing::close_values(logits, golden("logits.npy"), {.abs = 1e-5})) << "logits";

  CrossEntropyLoss ce;
  const LossResult r = ce.forward(logits, targets_);
  expect_relative(r.loss, golden("loss.npy").item(), 1e-4, "loss");
  expect_relative(r.loss, manifest_["loss_value"].get<double>(), 1e-4, "loss (manifest)");

  model.backward(ce.backward());
  for (auto& [name, p] : model.named_parameters()) {
    EXPECT_TRUE(testing::close_values(p->grad, golden("grad/" + name + ".npy"), {.abs = 1e-4}))
        << "gradient of " << name;
  }
}

TEST_F(LenetGolden, ThreeSgdMomentumStepsMatchTorch) {
  Model model = fresh_model();
  const auto& o = manifest_["sgd"]["options"];
  SGD opt(model.parameters(), SGDOptions(o["lr"].get<double>())
                                  .momentum(o["momentum"].get<double>())
                                  .weight_decay(o["weight_decay"].get<double>()));
  const std::vector<double> losses = train(model, opt, manifest_["sgd"]["steps"].get<int>());
  expect_losses(losses, "sgd");
  expect_weights(model, "sgd");
}

TEST_F(LenetGolden, ThreeAdamStepsMatchTorch) {
  Model model = fresh_model();
  Adam opt(model.parameters(), AdamOptions(manifest_["adam"]["options"]["lr"].get<double>()));
  const std::vector<double> losses = train(model, opt, manifest_["adam"]["steps"].get<int>());
  expect_losses(losses, "adam");
  expect_weights(model, "adam");
}

}  // namespace
}  // namespace minicnn
