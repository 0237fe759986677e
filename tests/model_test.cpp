// Model's ReLU fusion (a CPU-only optimisation that build() and to() switch, and that changes no bit) and
// the devices its layers support.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <minicnn/device.h>
#include <minicnn/loss.h>
#include <minicnn/model.h>
#include <minicnn/registry.h>
#include "gradcheck.h"

namespace minicnn {
namespace {

// The ReLUs that pass a negative value through, because the layer before them applies them.
std::vector<size_t> fused_relus(Model& m) {
  std::vector<size_t> fused;
  for (size_t i = 0; i < m.size(); ++i) {
    if (m.layer(i).type_name() != "ReLU") continue;
    if (m.layer(i).forward(Tensor::full({1}, -1.0f), Mode::Eval).data()[0] < 0.0f) fused.push_back(i);
  }
  return fused;
}

// The layers whose Eval output, layer by layer from x, holds a negative value.
std::vector<size_t> layers_with_negative_outputs(Model& m, const Tensor& x) {
  std::vector<size_t> out;
  Tensor h = x;
  for (size_t i = 0; i < m.size(); ++i) {
    h = m.layer(i).forward(h, Mode::Eval);
    const std::vector<float> v = h.to_vector();
    if (std::any_of(v.begin(), v.end(), [](float f) { return f < 0.0f; })) out.push_back(i);
  }
  return out;
}

// The logits of a Train step, then every parameter's gradient.
std::vector<std::vector<float>> train_step(Model& m, const Tensor& x, const Tensor& targets) {
  CrossEntropyLoss ce;
  m.zero_grad();
  const Tensor logits = m.forward(x, Mode::Train);
  ce.forward(logits, targets);
  m.backward(ce.backward());
  std::vector<std::vector<float>> out{logits.to_vector()};
  for (Parameter* p : m.parameters()) out.push_back(p->grad.to_vector());
  return out;
}

// On CUDA the ReLUs run as layers of their own: to(cuda) unfuses them through fuse_relus(false), which
// this machine-independent test calls directly, and to(cpu) fuses them again.
TEST(Model, FusesTheReLUsAfterConvLinearAndBatchNormOnTheCpuOnlyWithTheSameBits) {
  Model m = parse_model(
      "Conv2d(1, 4, 3, padding=1) ReLU MaxPool2d(2) ReLU Conv2d(4, 4, 3) BatchNorm2d(4) ReLU Flatten "
      "Linear(16, 8) ReLU Linear(8, 3)");
  m.build({1, 8, 8}, 5);
  const Tensor x = testing::uniform_values({2, 1, 8, 8}, 6);
  const Tensor targets = Tensor::from_vector_i32({2}, {0, 2});
  const std::vector<size_t> fused = {1, 6, 9};  // not 3: MaxPool2d applies no ReLU

  EXPECT_EQ(fused_relus(m), fused);
  // Fused, Conv2d 0, BatchNorm2d 5 and Linear 8 apply the ReLUs themselves.
  EXPECT_EQ(layers_with_negative_outputs(m, x), (std::vector<size_t>{4, 10}));
  const auto with_fusion = train_step(m, x, targets);

  m.fuse_relus(false);
  EXPECT_EQ(fused_relus(m), std::vector<size_t>{});
  EXPECT_EQ(layers_with_negative_outputs(m, x), (std::vector<size_t>{0, 4, 5, 8, 10}));
  EXPECT_EQ(train_step(m, x, targets), with_fusion);

  m.to(Device::cpu());
  EXPECT_EQ(fused_relus(m), fused);
  EXPECT_EQ(train_step(m, x, targets), with_fusion);
}

// A layer with CPU kernels only, as a user's own layer starts out.
class CpuOnlyScale : public Layer {
 public:
  std::string type_name() const override { return "CpuOnlyScale"; }
  std::string repr() const override { return "CpuOnlyScale()"; }
  Shape output_shape(const Shape& in) const override { return in; }
  Tensor forward(const Tensor& x, Mode) override { return x; }
  Tensor backward(const Tensor& dy) override { return dy; }
};

TEST(Model, NamesTheFirstLayerWithoutKernelsForADevice) {
  Model m = parse_model("Conv2d(1, 2, 3) ReLU Flatten");
  m.add(std::make_unique<CpuOnlyScale>());
  m.add(std::make_unique<CpuOnlyScale>());
  m.build({1, 5, 5}, 0);
  EXPECT_EQ(m.unsupported_layer(Device::cuda()), "CpuOnlyScale (layer 3)");
  EXPECT_EQ(m.unsupported_layer(Device::cpu()), "");
  const auto rows = m.summary_rows({1, 5, 5});
  EXPECT_EQ(rows[0].devices, cuda_built() ? "cpu,cuda" : "cpu");
  EXPECT_EQ(rows[3].devices, "cpu");
  const std::string table = m.summary({1, 5, 5});
  EXPECT_NE(table.find("devices"), std::string::npos) << table;
  EXPECT_NE(table.find("CpuOnlyScale"), std::string::npos) << table;
}

}  // namespace
}  // namespace minicnn
