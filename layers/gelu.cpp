// GELU on the CPU: Eigen's vectorised erf/exp/tanh over OpenMP chunks; the layer caches its input.
#include <minicnn/gelu.h>

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>

#include <omp.h>

#include <algorithm>
#include <cmath>

#include <minicnn/check.h>

namespace minicnn {

namespace cpu {
namespace {

using Array = Eigen::Map<Eigen::ArrayXf>;
using ConstArray = Eigen::Map<const Eigen::ArrayXf>;

// torch's constants (aten/src/ATen/native/cpu/Activation.cpp names them kAlpha, kBeta, kKappa).
constexpr float kSqrtHalf = 0.70710678118654752440f;     // 1/sqrt(2)
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;   // 1/sqrt(2*pi): the normal density's factor
constexpr float kSqrt2OverPi = 0.79788456080286535588f;  // sqrt(2/pi)
constexpr float kKappa = 0.044715f;

// Runs f(begin, count) over n elements in chunks of whole vectors, one chunk per OpenMP thread.
template <typename F>
void for_chunks(int64_t n, const F& f) {
  constexpr int64_t kMinChunk = 16384;
#pragma omp parallel if (n > kMinChunk)
  {
#ifdef _OPENMP
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
#else
    const int64_t threads = 1, t = 0;
#endif
    const int64_t per = ((n + threads - 1) / threads + 15) / 16 * 16;
    const int64_t begin = std::min(n, t * per), end = std::min(n, begin + per);
    if (end > begin) f(begin, end - begin);
  }
}

}  // namespace

void gelu_forward(const float* x, float* y, int64_t n, GeluApproximate approximate) {
  for_chunks(n, [&](int64_t b, int64_t m) {
    const ConstArray X(x + b, m);
    Array Y(y + b, m);
    if (approximate == GeluApproximate::None) {
      Y = 0.5f * X * (1.0f + (X * kSqrtHalf).erf());
    } else {
      Y = 0.5f * X * (1.0f + (kSqrt2OverPi * (X + kKappa * X.cube())).tanh());
    }
  });
}

void gelu_backward(const float* x, const float* dy, float* dx, int64_t n, GeluApproximate approximate) {
  for_chunks(n, [&](int64_t b, int64_t m) {
    const ConstArray X(x + b, m), DY(dy + b, m);
    Array DX(dx + b, m);
    if (approximate == GeluApproximate::None) {
      // d/dx [x Phi(x)] = Phi(x) + x phi(x).
      DX = DY * (0.5f * (1.0f + (X * kSqrtHalf).erf()) + X * kInvSqrt2Pi * (-0.5f * X.square()).exp());
    } else {
      // With u = sqrt(2/pi) (x + kappa x^3) and t = tanh(u): 0.5 (1 + t) + 0.5 x (1 - t^2) du/dx.
      const Eigen::ArrayXf t = (kSqrt2OverPi * (X + kKappa * X.cube())).tanh();
      DX = DY * (0.5f * (1.0f + t) +
                 0.5f * X * (1.0f - t.square()) * kSqrt2OverPi * (1.0f + 3.0f * kKappa * X.square()));
    }
  });
}

}  // namespace cpu

std::string GELU::repr() const {
  return approximate_ == GeluApproximate::None ? "GELU(approximate='none')" : "GELU(approximate='tanh')";
}

Tensor GELU::forward(const Tensor& x, Mode mode) {
  MINICNN_CHECK(!x.is_cuda(), "GELU: runs on the CPU only, but got a tensor on ", x.device().str());
  Tensor y = Tensor::empty(x.shape(), DType::Float32, x.device());
  cpu::gelu_forward(x.data(), y.data(), x.numel(), approximate_);
  input_ = mode == Mode::Train ? x : Tensor();
  return y;
}

Tensor GELU::backward(const Tensor& dy) {
  check_backward("GELU", input_, dy);
  Tensor dx = Tensor::empty(dy.shape(), DType::Float32, dy.device());
  cpu::gelu_backward(input_.data(), dy.data(), dx.data(), dy.numel(), approximate_);
  return dx;
}

}  // namespace minicnn
