// The gradient checker: analytic gradients from backward() against central differences in double.
#include "gradcheck.h"

#include <gtest/gtest.h>

#include <cmath>

#include <minicnn/random.h>

namespace minicnn::testing {

Tensor spaced_values(const Shape& shape, uint64_t seed, float gap) {
  Generator gen(seed);
  const int64_t n = shape.numel();
  const std::vector<int64_t> perm = random_permutation(n, gen);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < n; ++i) {
    t.data()[i] = (static_cast<float>(perm[static_cast<size_t>(i)]) - static_cast<float>(n / 2)) * gap + gap / 2;
  }
  return t;
}

Tensor uniform_values(const Shape& shape, uint64_t seed, float lo, float hi) {
  Generator gen(seed);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = gen.uniform(lo, hi);
  return t;
}

namespace {

double weighted_sum(const Tensor& y, const Tensor& r) {
  double s = 0.0;
  for (int64_t i = 0; i < y.numel(); ++i) s += static_cast<double>(y.data()[i]) * r.data()[i];
  return s;
}

void compare(const std::string& what, int64_t i, double analytic, double numeric, const GradCheckOptions& o,
             int& failures) {
  const double err = std::abs(analytic - numeric);
  const double tol = o.abs_tol + o.rel_tol * std::max(std::abs(analytic), std::abs(numeric));
  if (err > tol && failures < 10) {
    ADD_FAILURE() << what << "[" << i << "]: backward gives " << analytic << ", finite differences give " << numeric;
    ++failures;
  }
}

}  // namespace

void check_layer_gradients(Layer& layer, Tensor x, const GradCheckOptions& o) {
  Tensor y = layer.forward(x, Mode::Train);
  const Tensor r = uniform_values(y.shape(), 12345);
  constexpr float kPrior = 0.25f;
  for (Parameter* p : layer.parameters()) {
    for (int64_t i = 0; i < p->grad.numel(); ++i) p->grad.data()[i] = kPrior;
  }
  layer.set_needs_input_grad(true);
  const Tensor dx = layer.backward(r.clone());
  ASSERT_TRUE(dx.defined());
  ASSERT_EQ(dx.shape(), x.shape());

  auto loss = [&] { return weighted_sum(layer.forward(x, Mode::Train), r); };
  int failures = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float orig = x.data()[i];
    x.data()[i] = orig + static_cast<float>(o.step);
    const double plus = loss();
    x.data()[i] = orig - static_cast<float>(o.step);
    const double minus = loss();
    x.data()[i] = orig;
    compare("dL/dx", i, dx.data()[i], (plus - minus) / (2 * o.step), o, failures);
  }
  for (Parameter* p : layer.parameters()) {
    for (int64_t i = 0; i < p->value.numel(); ++i) {
      const float orig = p->value.data()[i];
      p->value.data()[i] = orig + static_cast<float>(o.step);
      const double plus = loss();
      p->value.data()[i] = orig - static_cast<float>(o.step);
      const double minus = loss();
      p->value.data()[i] = orig;
      compare("dL/d" + p->name, i, p->grad.data()[i] - kPrior, (plus - minus) / (2 * o.step), o, failures);
    }
  }
}

}  // namespace minicnn::testing
