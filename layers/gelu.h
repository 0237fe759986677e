// GELU: x * Phi(x) element-wise, mirrors torch.nn.GELU (approximate='none' with erf, or 'tanh').
#pragma once

#include <minicnn/layer.h>

namespace minicnn {

/// torch.nn.GELU's `approximate`: 'none' is x * (1 + erf(x / sqrt(2))) / 2; 'tanh' is
/// x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))) / 2.
enum class GeluApproximate { None, Tanh };

/// Example: GELU gelu; Tensor y = gelu.forward(x, Mode::Eval);   GELU fast(GeluApproximate::Tanh);
class GELU : public Layer {
 public:
  explicit GELU(GeluApproximate approximate = GeluApproximate::None) : approximate_(approximate) {}
  std::string type_name() const override { return "GELU"; }
  std::string repr() const override;
  Shape output_shape(const Shape& in) const override { return in; }
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  GeluApproximate approximate() const { return approximate_; }

 private:
  GeluApproximate approximate_;
  Tensor input_;  // backward's derivative reads x
};

namespace cpu {
/// y = GELU(x) and dx = dy * GELU'(x) over n floats (x == y allowed in forward), vectorised with Eigen's
/// erf, exp and tanh (within a few ulp of the libm functions; torch's CPU kernels approximate them too).
void gelu_forward(const float* x, float* y, int64_t n, GeluApproximate approximate);
void gelu_backward(const float* x, const float* dy, float* dx, int64_t n, GeluApproximate approximate);
}  // namespace cpu

}  // namespace minicnn
