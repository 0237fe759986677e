// The gradient checker: analytic gradients from backward() against central differences in double.
#include <minicnn/gradcheck.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include <minicnn/check.h>
#include <minicnn/init.h>

namespace minicnn {

namespace {

constexpr size_t kMaxMismatches = 10;

double weighted_sum(const Tensor& y, const Tensor& r) {
  double s = 0.0;
  for (int64_t i = 0; i < y.numel(); ++i) s += static_cast<double>(y.data()[i]) * r.data()[i];
  return s;
}

void compare(const std::string& what, int64_t i, double analytic, double numeric, const GradCheckOptions& o,
             GradCheckResult& result) {
  ++result.checked;
  const double err = std::abs(analytic - numeric);
  const double tol = o.abs_tol + o.rel_tol * std::max(std::abs(analytic), std::abs(numeric));
  if (err > tol && result.mismatches.size() < kMaxMismatches)
    result.mismatches.push_back({what, i, analytic, numeric});
}

// The central difference of `loss` in element i of `t`, which is left as it was.
template <typename Loss>
double central_difference(Tensor& t, int64_t i, double step, Loss&& loss) {
  const float orig = t.data()[i];
  t.data()[i] = orig + static_cast<float>(step);
  const double plus = loss();
  t.data()[i] = orig - static_cast<float>(step);
  const double minus = loss();
  t.data()[i] = orig;
  return (plus - minus) / (2 * step);
}

}  // namespace

std::string GradCheckResult::describe() const {
  std::string text;
  for (const GradientMismatch& m : mismatches) {
    text += fmt::format("{}[{}]: backward gives {}, finite differences give {}\n", m.what, m.index,
                        m.analytic, m.numeric);
  }
  return text;
}

GradCheckResult check_gradients(Layer& layer, Tensor x, const GradCheckOptions& o) {
  MINICNN_CHECK(!x.is_cuda(), "check_gradients: expected an input on the CPU, but got one on ",
                x.device().str());
  const Tensor y = layer.forward(x, Mode::Train);
  Tensor r = Tensor::empty(y.shape());
  Generator gen(12345);
  uniform_(r, -1.0f, 1.0f, gen);
  constexpr float kPrior = 0.25f;
  for (Parameter* p : layer.parameters()) {
    for (int64_t i = 0; i < p->grad.numel(); ++i) p->grad.data()[i] = kPrior;
  }
  layer.set_needs_input_grad(true);
  const Tensor dx = layer.backward(r.clone());
  MINICNN_CHECK(dx.defined() && dx.shape() == x.shape(), "check_gradients: ", layer.type_name(),
                "'s backward should return a gradient of shape ", x.shape().str(), ", but returned ",
                dx.defined() ? dx.shape().str() : std::string("none"));

  GradCheckResult result;
  auto loss = [&] { return weighted_sum(layer.forward(x, Mode::Train), r); };
  for (int64_t i = 0; i < x.numel(); ++i) {
    compare("dL/dx", i, dx.data()[i], central_difference(x, i, o.step, loss), o, result);
  }
  for (Parameter* p : layer.parameters()) {
    for (int64_t i = 0; i < p->value.numel(); ++i) {
      compare("dL/d" + p->name, i, p->grad.data()[i] - kPrior, central_difference(p->value, i, o.step, loss),
              o, result);
    }
  }
  return result;
}

}  // namespace minicnn
