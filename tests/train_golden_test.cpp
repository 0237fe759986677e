// PyTorch parity for the airbench94 recipe's training pieces, each on its own: GELU, the label-smoothed
// summed cross-entropy, the warmup-warmdown schedule, and a tiny model trained with parameter groups, then
// frozen parameters, then the lookahead average (tests/golden/train, made by tests/golden/make_golden.py).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <string>

#include <minicnn/gelu.h>
#include <minicnn/lookahead.h>
#include <minicnn/loss.h>
#include <minicnn/lr_scheduler.h>
#include <minicnn/npy.h>
#include <minicnn/optimizer_factory.h>
#include <minicnn/parameter_rules.h>
#include <minicnn/registry.h>
#include "test_util.h"

namespace minicnn {
namespace {

const std::string kDir = std::string(MINICNN_SOURCE_DIR) + "/tests/golden/train/";

nlohmann::json manifest() {
  std::ifstream in(kDir + "manifest.json");
  return nlohmann::json::parse(in);
}

Tensor golden(const std::string& file) {
  return load_npy(kDir + file);
}

TEST(TrainGolden, GeluMatchesTorchInBothForms) {
  const Tensor x = golden("gelu.x.npy"), dy = golden("gelu.dy.npy");
  for (const auto& [form, approximate] :
       {std::pair{"none", GeluApproximate::None}, {"tanh", GeluApproximate::Tanh}}) {
    GELU gelu(approximate);
    EXPECT_TRUE(testing::close_values(gelu.forward(x, Mode::Train),
                                      golden(std::string("gelu.") + form + ".y.npy"),
                                      {.abs = 2e-6, .rel = 1e-6}))
        << form;
    EXPECT_TRUE(testing::close_values(gelu.backward(dy), golden(std::string("gelu.") + form + ".dx.npy"),
                                      {.abs = 2e-6, .rel = 1e-6}))
        << form;
  }
}

TEST(TrainGolden, LabelSmoothedSummedCrossEntropyMatchesTorch) {
  CrossEntropyLoss ce(
      CrossEntropyLossOptions().label_smoothing(0.2f).reduction(CrossEntropyLossOptions::Reduction::Sum));
  const LossResult r = ce.forward(golden("ce.logits.npy"), golden("ce.targets.npy"));
  const double expected = manifest()["ce_loss"].get<double>();
  EXPECT_NEAR(r.loss, expected, 1e-6 * std::fabs(expected));
  EXPECT_TRUE(testing::close_values(ce.backward(), golden("ce.dlogits.npy"), {.abs = 1e-6}));
}

TEST(TrainGolden, WarmupWarmdownGivesTorchsLearningRates) {
  const auto lrs = manifest()["warmup_warmdown_476"].get<std::vector<double>>();
  ASSERT_EQ(lrs.size(), 476u);
  const WarmupWarmdownLR schedule(476);
  for (size_t step = 0; step < lrs.size(); ++step) {
    EXPECT_DOUBLE_EQ(schedule.lr_at(static_cast<int64_t>(step), 0.0014648437500000002), lrs[step])
        << "step " << step;
  }
}

// The tiny model of the manifest trained six steps as make_golden.py's train_tiny does: `frozen` applies
// FreezeRules (conv weight and BatchNorm weight throughout, the conv bias from step 3), `lookahead` the
// average every 2 steps; each step's weights against torch's.
void replay_tiny(const std::string& run, bool frozen, bool lookahead) {
  const nlohmann::json m = manifest()["tiny"];
  const int64_t steps = m["steps"].get<int64_t>();
  Model model = parse_model(m["spec"].get<std::string>());
  model.build({3, 7, 7}, 0);
  for (const NamedTensor& t : model.state_dict()) {
    if (t.tensor->dtype() == DType::Float32) t.tensor->copy_from(golden("tiny.init." + t.name + ".npy"));
  }
  Recipe recipe;
  recipe.lr = m["lr"].get<double>();
  recipe.weight_decay = m["weight_decay"].get<double>();
  recipe.momentum = m["momentum"].get<double>();
  recipe.nesterov = true;
  recipe.groups = {{"BatchNorm2d.bias", m["bias_lr_scale"].get<double>()}};
  if (frozen) recipe.frozen = {{"0.weight", 0}, {"BatchNorm2d.weight", 0}, {"0.bias", 2}};
  std::unique_ptr<Optimizer> opt = make_optimizer(recipe, model);
  std::vector<double> base;
  for (const ParamGroup& g : opt->groups()) base.push_back(g.lr);
  const WarmupWarmdownLR schedule(steps);
  CrossEntropyLoss ce(CrossEntropyLossOptions()
                          .label_smoothing(m["label_smoothing"].get<float>())
                          .reduction(CrossEntropyLossOptions::Reduction::Sum));
  LookaheadAverage average(model, {m["lookahead_every"].get<int64_t>(), std::pow(0.95, 5), 3}, steps);
  const auto losses = m[run + "_losses"].get<std::vector<double>>();
  for (int64_t step = 1; step <= steps; ++step) {
    apply_freeze_rules(model, recipe.frozen, step - 1);  // a step of this test is an epoch of the rules
    for (size_t g = 0; g < base.size(); ++g) opt->groups()[g].lr = schedule.lr_at(step - 1, base[g]);
    const std::string b = std::to_string(step - 1);
    const LossResult r =
        ce.forward(model.forward(golden("tiny.x" + b + ".npy"), Mode::Train), golden("tiny.t" + b + ".npy"));
    EXPECT_NEAR(r.loss, losses[static_cast<size_t>(step - 1)],
                1e-5 * std::fabs(losses[static_cast<size_t>(step - 1)]))
        << run << " step " << step;
    opt->zero_grad();
    model.backward(ce.backward());
    opt->step();
    if (lookahead) average.after_step(model, step);
    for (const NamedTensor& t : model.state_dict()) {
      if (t.tensor->dtype() != DType::Float32) continue;
      const std::string file = "tiny." + run + ".step" + std::to_string(step) + "." + t.name + ".npy";
      EXPECT_TRUE(testing::close_values(*t.tensor, golden(file), {.abs = 1e-5, .rel = 1e-5})) << file;
    }
  }
}

TEST(TrainGolden, ParameterGroupsWithNesterovMatchTorch) {
  replay_tiny("groups", false, false);
}

TEST(TrainGolden, FrozenParametersStayAndLeaveTheStepLikeTorch) {
  replay_tiny("frozen", true, false);
}

TEST(TrainGolden, LookaheadAverageMatchesTorch) {
  replay_tiny("lookahead", true, true);
}

}  // namespace
}  // namespace minicnn
