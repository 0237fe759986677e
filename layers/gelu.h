// GELU: x * Phi(x) element-wise, mirrors torch.nn.GELU (approximate='none' with erf, or 'tanh').
#pragma once

#include <math.h>

#include <minicnn/host_device.h>
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
  bool supports(Device) const override { return true; }
  GeluApproximate approximate() const { return approximate_; }

 private:
  GeluApproximate approximate_;
  Tensor input_;  // backward's derivative reads x
};

// torch's constants (aten/src/ATen/native/cpu/Activation.cpp names them kAlpha, kBeta, kKappa).
constexpr float kGeluSqrtHalf = 0.70710678118654752440f;     // 1/sqrt(2)
constexpr float kGeluInvSqrt2Pi = 0.39894228040143267794f;   // 1/sqrt(2*pi): the normal density's factor
constexpr float kGeluSqrt2OverPi = 0.79788456080286535588f;  // sqrt(2/pi)
constexpr float kGeluKappa = 0.044715f;

/// GELU(x) and dy * GELU'(x) for one float with the C library's erff, expf and tanhf: what the CUDA kernels
/// run per element (the CPU's vectorised loops use Eigen's versions of the same formulas).
MINICNN_HD float gelu_of(float x, GeluApproximate approximate) {
  if (approximate == GeluApproximate::None) return 0.5f * x * (1.0f + erff(x * kGeluSqrtHalf));
  return 0.5f * x * (1.0f + tanhf(kGeluSqrt2OverPi * (x + kGeluKappa * x * x * x)));
}
MINICNN_HD float gelu_grad_of(float x, float dy, GeluApproximate approximate) {
  if (approximate == GeluApproximate::None) {
    // d/dx [x Phi(x)] = Phi(x) + x phi(x).
    return dy * (0.5f * (1.0f + erff(x * kGeluSqrtHalf)) + x * kGeluInvSqrt2Pi * expf(-0.5f * x * x));
  }
  // With u = sqrt(2/pi) (x + kappa x^3) and t = tanh(u): 0.5 (1 + t) + 0.5 x (1 - t^2) du/dx.
  const float t = tanhf(kGeluSqrt2OverPi * (x + kGeluKappa * x * x * x));
  return dy * (0.5f * (1.0f + t) +
               0.5f * x * (1.0f - t * t) * kGeluSqrt2OverPi * (1.0f + 3.0f * kGeluKappa * x * x));
}

namespace cpu {
/// y = GELU(x) and dx = dy * GELU'(x) over n floats (x == y allowed in forward), vectorised with Eigen's
/// erf, exp and tanh (within a few ulp of the libm functions; torch's CPU kernels approximate them too).
void gelu_forward(const float* x, float* y, int64_t n, GeluApproximate approximate);
void gelu_backward(const float* x, const float* dy, float* dx, int64_t n, GeluApproximate approximate);
}  // namespace cpu

namespace cuda {
// The same on device buffers (layers/gelu.cu), gelu_of and gelu_grad_of per element.
void gelu_forward(const float* x, float* y, int64_t n, GeluApproximate approximate);
void gelu_backward(const float* x, const float* dy, float* dx, int64_t n, GeluApproximate approximate);
}  // namespace cuda

}  // namespace minicnn
