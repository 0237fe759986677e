// Finite-difference gradient checks for every layer and the loss, and proof that backward adds.
#include <gtest/gtest.h>

#include <cmath>

#include <minicnn/check.h>
#include <minicnn/conv2d.h>
#include <minicnn/flatten.h>
#include <minicnn/gradcheck.h>
#include "gradcheck.h"
#include <minicnn/linear.h>
#include <minicnn/loss.h>
#include <minicnn/model.h>
#include <minicnn/pool2d.h>
#include <minicnn/registry.h>
#include <minicnn/relu.h>

namespace minicnn {
namespace {

using testing::check_layer_gradients;
using testing::spaced_values;
using testing::uniform_values;

void init_layer(Layer& layer, const Shape& in, uint64_t seed = 3) {
  layer.materialize(in);
  Generator gen(seed);
  layer.reset_parameters(gen);
}

TEST(Conv2d, GradientsMatchFiniteDifferences) {
  Conv2d conv(Conv2dOptions(2, 3, 3));
  init_layer(conv, {2, 2, 6, 6});
  check_layer_gradients(conv, uniform_values({2, 2, 6, 6}, 1));
}

TEST(Conv2d, GradientsMatchWithStrideTwoAndPadding) {
  Conv2d conv(Conv2dOptions(2, 4, 3).stride(2).padding(1));
  init_layer(conv, {2, 2, 7, 7});
  check_layer_gradients(conv, uniform_values({2, 2, 7, 7}, 2));
}

TEST(Conv2d, GradientsMatchWithDilationAndRectangularKernel) {
  Conv2d conv(Conv2dOptions(3, 2, IntPair(3, 2)).stride(IntPair(1, 2)).padding(IntPair(2, 1)).dilation(IntPair(2, 1)));
  init_layer(conv, {1, 3, 7, 8});
  check_layer_gradients(conv, uniform_values({1, 3, 7, 8}, 3));
}

TEST(Conv2d, GradientsMatchWithoutBias) {
  Conv2d conv(Conv2dOptions(1, 2, 2).bias(false));
  init_layer(conv, {3, 1, 5, 5});
  EXPECT_EQ(conv.parameters().size(), 1u);
  check_layer_gradients(conv, uniform_values({3, 1, 5, 5}, 4));
}

TEST(ReLU, GradientsMatchFiniteDifferences) {
  ReLU relu;
  check_layer_gradients(relu, spaced_values({2, 3, 4, 4}, 5));
}

TEST(MaxPool2d, GradientsMatchWithOverlappingWindows) {
  MaxPool2d pool(MaxPool2dOptions(3).stride(2));
  check_layer_gradients(pool, spaced_values({2, 2, 7, 7}, 6));
}

TEST(MaxPool2d, GradientsMatchWithPaddingDilationAndCeilMode) {
  MaxPool2d pool(MaxPool2dOptions(IntPair(3, 2)).stride(IntPair(2, 1)).padding(1).dilation(IntPair(1, 2)).ceil_mode(true));
  check_layer_gradients(pool, spaced_values({1, 2, 8, 7}, 7));
}

// The centre of a 5x5 input is the maximum of all four 3x3/stride-2 windows, so its gradient is the sum
// of all four output gradients: 1 + 2 + 3 + 4 = 10. A backward that overwrites instead of adding gives 4.
TEST(MaxPool2d, OverlappingWindowsAccumulateInBackward) {
  MaxPool2d pool(MaxPool2dOptions(3).stride(2));
  Tensor x = Tensor::zeros({1, 1, 5, 5});
  x.data()[2 * 5 + 2] = 9.0f;
  Tensor y = pool.forward(x, Mode::Train);
  ASSERT_EQ(y.shape(), Shape({1, 1, 2, 2}));
  EXPECT_EQ(pool.indices().to_vector_i32(), std::vector<int32_t>({12, 12, 12, 12}));
  Tensor dx = pool.backward(Tensor::from_vector({1, 1, 2, 2}, {1, 2, 3, 4}));
  EXPECT_FLOAT_EQ(dx.data()[12], 10.0f);
  float total = 0;
  for (float v : dx.to_vector()) total += v;
  EXPECT_FLOAT_EQ(total, 10.0f);
}

TEST(AvgPool2d, GradientsMatchFiniteDifferences) {
  AvgPool2d pool(AvgPool2dOptions(3).stride(2).padding(1));
  check_layer_gradients(pool, uniform_values({2, 2, 7, 7}, 8));
}

TEST(AvgPool2d, GradientsMatchWithCeilModeAndExcludedPadding) {
  AvgPool2d pool(AvgPool2dOptions(IntPair(2, 3)).stride(2).padding(1).ceil_mode(true).count_include_pad(false));
  check_layer_gradients(pool, uniform_values({1, 2, 6, 7}, 9));
}

TEST(AvgPool2d, GradientsMatchWithDivisorOverride) {
  AvgPool2d pool(AvgPool2dOptions(2).divisor_override(3));
  check_layer_gradients(pool, uniform_values({1, 1, 4, 4}, 10));
}

TEST(AdaptiveAvgPool2d, GradientsMatchFiniteDifferences) {
  AdaptiveAvgPool2d pool({3, 2});
  check_layer_gradients(pool, uniform_values({2, 2, 7, 5}, 11));
}

TEST(AdaptiveMaxPool2d, GradientsMatchFiniteDifferences) {
  AdaptiveMaxPool2d pool({3, 2});
  check_layer_gradients(pool, spaced_values({2, 2, 7, 5}, 12));
}

TEST(Linear, GradientsMatchFiniteDifferences) {
  Linear fc(LinearOptions(7, 5));
  init_layer(fc, {3, 7});
  check_layer_gradients(fc, uniform_values({3, 7}, 13));
}

TEST(Flatten, GradientIsTheReshapedUpstreamGradient) {
  Flatten flat;
  check_layer_gradients(flat, uniform_values({2, 3, 2, 2}, 14));
}

TEST(CrossEntropyLoss, GradientMatchesFiniteDifferences) {
  Tensor logits = uniform_values({4, 5}, 15, -2.0f, 2.0f);
  Tensor targets = Tensor::from_vector_i32({4}, {0, 3, 4, 1});
  for (float smoothing : {0.0f, 0.1f}) {
    CrossEntropyLoss ce(CrossEntropyLossOptions().label_smoothing(smoothing));
    ce.forward(logits, targets);
    const Tensor grad = ce.backward();
    const double h = 1e-2;
    for (int64_t i = 0; i < logits.numel(); ++i) {
      const float orig = logits.data()[i];
      logits.data()[i] = orig + static_cast<float>(h);
      const double plus = ce.forward(logits, targets).loss;
      logits.data()[i] = orig - static_cast<float>(h);
      const double minus = ce.forward(logits, targets).loss;
      logits.data()[i] = orig;
      EXPECT_NEAR(grad.data()[i], (plus - minus) / (2 * h), 1e-4) << "logit " << i << " smoothing " << smoothing;
    }
  }
}

TEST(CrossEntropyLoss, IsStableForHugeLogits) {
  CrossEntropyLoss ce;
  const LossResult r = ce.forward(Tensor::from_vector({1, 3}, {1000.0f, 0.0f, -1000.0f}), Tensor::from_vector_i32({1}, {1}));
  EXPECT_NEAR(r.loss, 1000.0, 1e-3);
  EXPECT_TRUE(std::isfinite(r.loss));
}

// y = x * w with one weight, and a backward that can be wrong in the two ways a user's layer often is.
class ScaleLayer : public Layer {
 public:
  enum class Bug { None, WrongInputGradient, OverwritesWeightGradient };
  explicit ScaleLayer(Bug bug) : bug_(bug) {
    weight_.name = "weight";
    weight_.value = Tensor::from_vector({1}, {1.5f});
    weight_.grad = Tensor::zeros({1});
  }
  std::string type_name() const override { return "Scale"; }
  std::string repr() const override { return "Scale()"; }
  Shape output_shape(const Shape& in) const override { return in; }
  Tensor forward(const Tensor& x, Mode) override {
    x_ = x.clone();
    Tensor y = x.clone();
    for (int64_t i = 0; i < y.numel(); ++i) y.data()[i] *= weight_.value.data()[0];
    return y;
  }
  Tensor backward(const Tensor& dy) override {
    check_backward("Scale", x_, dy);
    Tensor dx = dy.clone();
    double dw = 0;
    for (int64_t i = 0; i < dx.numel(); ++i) {
      dw += static_cast<double>(dy.data()[i]) * x_.data()[i];
      dx.data()[i] *= bug_ == Bug::WrongInputGradient ? -weight_.value.data()[0] : weight_.value.data()[0];
    }
    if (bug_ == Bug::OverwritesWeightGradient) weight_.grad.data()[0] = 0;
    weight_.grad.data()[0] += static_cast<float>(dw);
    return dx;
  }
  std::vector<Parameter*> parameters() override { return {&weight_}; }

 private:
  Bug bug_;
  Parameter weight_;
  Tensor x_;
};

TEST(GradCheck, PassesALayerWhoseBackwardIsRight) {
  ScaleLayer layer(ScaleLayer::Bug::None);
  const GradCheckResult r = check_gradients(layer, uniform_values({2, 3}, 4));
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.checked, 7);  // six inputs and one weight
}

TEST(GradCheck, NamesTheElementsOfAWrongInputGradient) {
  ScaleLayer layer(ScaleLayer::Bug::WrongInputGradient);
  const GradCheckResult r = check_gradients(layer, uniform_values({2, 3}, 4));
  ASSERT_EQ(r.mismatches.size(), 6u);
  EXPECT_EQ(r.mismatches[0].what, "dL/dx");
  EXPECT_EQ(r.mismatches[0].index, 0);
  EXPECT_NEAR(r.mismatches[0].analytic, -r.mismatches[0].numeric, 1e-3);
  EXPECT_NE(r.describe().find("dL/dx[5]: backward gives "), std::string::npos) << r.describe();
}

TEST(GradCheck, CatchesABackwardThatOverwritesParameterGradients) {
  ScaleLayer layer(ScaleLayer::Bug::OverwritesWeightGradient);
  const GradCheckResult r = check_gradients(layer, uniform_values({2, 3}, 4));
  ASSERT_EQ(r.mismatches.size(), 1u);
  EXPECT_EQ(r.mismatches[0].what, "dL/dweight");
}

// What a Train forward keeps goes with a successful backward (the model's activations are freed layer by
// layer as backward reaches them); a rejected gradient leaves it, and MaxPool2d keeps its indices.
TEST(Model, BackwardReleasesWhatForwardKeptButNotOnARejectedGradient) {
  Model model = parse_model("Conv2d(1, 2, 3) GELU MaxPool2d(2) Flatten LazyLinear(3)");
  model.build({1, 6, 6}, 1);
  const Tensor x = uniform_values({2, 1, 6, 6}, 17);
  const Tensor y = model.forward(x, Mode::Train);
  EXPECT_THROW(model.backward(Tensor::zeros({2, 4})), Error);  // the Linear refuses it: nothing released
  model.backward(Tensor::full(y.shape(), 0.5f));
  const std::vector<std::pair<size_t, Shape>> dys{{0, Shape({2, 2, 4, 4})}, {1, Shape({2, 2, 4, 4})}, {4, Shape({2, 3})}};
  for (const auto& [i, shape] : dys) {
    Layer& layer = const_cast<Layer&>(model.layer(i));
    try {
      layer.backward(Tensor::zeros(shape));
      ADD_FAILURE() << layer.type_name() << " kept its forward's tensors after backward";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("without a Train-mode forward"), std::string::npos) << e.what();
    }
  }
  const auto* pool = dynamic_cast<const MaxPool2d*>(&model.layer(2));
  ASSERT_NE(pool, nullptr);
  EXPECT_TRUE(pool->indices().defined());
}

TEST(Model, BackwardAddsIntoParameterGradients) {
  Model model = parse_model("Conv2d(1, 2, 3) ReLU Flatten LazyLinear(3)");
  model.build({1, 5, 5}, 1);
  Tensor x = uniform_values({2, 1, 5, 5}, 16);
  Tensor targets = Tensor::from_vector_i32({2}, {0, 2});
  CrossEntropyLoss ce;
  auto grads_after_one_backward = [&] {
    ce.forward(model.forward(x, Mode::Train), targets);
    model.backward(ce.backward());
    std::vector<std::vector<float>> g;
    for (Parameter* p : model.parameters()) g.push_back(p->grad.to_vector());
    return g;
  };
  model.zero_grad();
  const auto once = grads_after_one_backward();
  const auto twice = grads_after_one_backward();  // no zero_grad in between
  for (size_t p = 0; p < once.size(); ++p) {
    for (size_t i = 0; i < once[p].size(); ++i) EXPECT_NEAR(twice[p][i], 2 * once[p][i], 1e-6);
  }
  model.zero_grad();
  for (Parameter* p : model.parameters()) {
    for (float v : p->grad.to_vector()) EXPECT_EQ(v, 0.0f);
  }
}

TEST(Model, WholeModelGradientsMatchFiniteDifferences) {
  Model model = parse_model("Conv2d(1, 2, 3, padding=1) ReLU MaxPool2d(2) Flatten Linear(8, 3)");
  model.build({1, 4, 4}, 2);
  Tensor x = spaced_values({2, 1, 4, 4}, 17, 0.15f);
  Tensor targets = Tensor::from_vector_i32({2}, {1, 2});
  CrossEntropyLoss ce;
  model.zero_grad();
  ce.forward(model.forward(x, Mode::Train), targets);
  model.backward(ce.backward());
  const double h = 1e-3;
  for (auto& [name, p] : model.named_parameters()) {
    for (int64_t i = 0; i < p->value.numel(); ++i) {
      const float orig = p->value.data()[i];
      p->value.data()[i] = orig + static_cast<float>(h);
      const double plus = ce.forward(model.forward(x, Mode::Eval), targets).loss;
      p->value.data()[i] = orig - static_cast<float>(h);
      const double minus = ce.forward(model.forward(x, Mode::Eval), targets).loss;
      p->value.data()[i] = orig;
      EXPECT_NEAR(p->grad.data()[i], (plus - minus) / (2 * h), 2e-3) << name << "[" << i << "]";
    }
  }
}

}  // namespace
}  // namespace minicnn
