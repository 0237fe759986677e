// BatchNorm2d: PyTorch parity (train steps, running statistics, eval), finite-difference gradients, errors.
#include <gtest/gtest.h>

#include <minicnn/batchnorm2d.h>
#include "gradcheck.h"
#include <minicnn/npy.h>
#include <minicnn/registry.h>
#include "test_util.h"

namespace minicnn {
namespace {

const std::string kDir = std::string(MINICNN_SOURCE_DIR) + "/tests/golden/batchnorm/";

// `got` against torch's values in `file`, each within `tol`.
void expect_near(const Tensor& got, const std::string& file, double tol) {
  EXPECT_TRUE(testing::close_values(got, load_npy(kDir + file), {.abs = tol})) << file;
}

TEST(BatchNorm2d, MatchesTorchInTrainAndEvalMode) {
  BatchNorm2d bn(BatchNorm2dOptions(3).momentum(0.2));
  bn.weight().value.copy_from(load_npy(kDir + "weight.npy"));
  bn.bias().value.copy_from(load_npy(kDir + "bias.npy"));
  for (int step = 0; step < 2; ++step) {
    const std::string s = "step" + std::to_string(step) + ".";
    bn.weight().grad.zero_();
    bn.bias().grad.zero_();
    expect_near(bn.forward(load_npy(kDir + s + "x.npy"), Mode::Train), s + "y.npy", 1e-5);
    expect_near(bn.backward(load_npy(kDir + s + "dy.npy")), s + "dx.npy", 1e-5);
    expect_near(bn.weight().grad, s + "dweight.npy", 1e-4);
    expect_near(bn.bias().grad, s + "dbias.npy", 1e-4);
    expect_near(bn.running_mean(), s + "running_mean.npy", 1e-6);
    expect_near(bn.running_var(), s + "running_var.npy", 1e-5);
  }
  expect_near(bn.forward(load_npy(kDir + "eval.x.npy"), Mode::Eval), "eval.y.npy", 1e-5);
  EXPECT_EQ(bn.buffers()[2]->value.data_i32()[0], 2);
}

TEST(BatchNorm2d, GradientsMatchFiniteDifferences) {
  BatchNorm2d bn(BatchNorm2dOptions(2));
  bn.weight().value.copy_from(Tensor::from_vector({2}, {1.5f, 0.7f}));
  bn.bias().value.copy_from(Tensor::from_vector({2}, {0.1f, -0.3f}));
  testing::GradCheckOptions o;
  o.step = 1e-2;
  o.rel_tol = 2e-2;
  o.abs_tol = 2e-3;
  testing::check_layer_gradients(bn, testing::uniform_values({3, 2, 3, 3}, 21, -2.0f, 2.0f), o);
}

TEST(BatchNorm2d, NamesFollowTorchAndTheSpecInfersLazySizes) {
  Model m = parse_model("Conv2d(1, 4, 3) LazyBatchNorm2d ReLU");
  m.build({1, 6, 6}, 0);
  std::vector<std::string> names;
  for (const NamedTensor& t : m.state_dict()) names.push_back(t.name);
  EXPECT_EQ(names, std::vector<std::string>({"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                             "1.running_var", "1.num_batches_tracked"}));
  EXPECT_EQ(m.num_parameters(), 4 * 9 + 4 + 8);
  EXPECT_EQ(testing::error_of([] { BatchNorm2d(BatchNorm2dOptions(3)).output_shape({1, 4, 2, 2}); }),
            "BatchNorm2d: expected 3 channels (num_features), but got 4 channels in shape [1, 4, 2, 2]");
}

}  // namespace
}  // namespace minicnn
