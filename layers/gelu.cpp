// GELU on the CPU: Eigen's vectorised erf/exp/tanh over OpenMP chunks; the layer caches its input and
// dispatches CUDA tensors to layers/gelu.cu.
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
      Y = 0.5f * X * (1.0f + (X * kGeluSqrtHalf).erf());
    } else {
      Y = 0.5f * X * (1.0f + (kGeluSqrt2OverPi * (X + kGeluKappa * X.cube())).tanh());
    }
  });
}

void gelu_backward(const float* x, const float* dy, float* dx, int64_t n, GeluApproximate approximate) {
  for_chunks(n, [&](int64_t b, int64_t m) {
    const ConstArray X(x + b, m), DY(dy + b, m);
    Array DX(dx + b, m);
    if (approximate == GeluApproximate::None) {
      // d/dx [x Phi(x)] = Phi(x) + x phi(x).
      DX =
          DY * (0.5f * (1.0f + (X * kGeluSqrtHalf).erf()) + X * kGeluInvSqrt2Pi * (-0.5f * X.square()).exp());
    } else {
      // With u = sqrt(2/pi) (x + kappa x^3) and t = tanh(u): 0.5 (1 + t) + 0.5 x (1 - t^2) du/dx.
      const Eigen::ArrayXf t = (kGeluSqrt2OverPi * (X + kGeluKappa * X.cube())).tanh();
      DX = DY * (0.5f * (1.0f + t) +
                 0.5f * X * (1.0f - t.square()) * kGeluSqrt2OverPi * (1.0f + 3.0f * kGeluKappa * X.square()));
    }
  });
}

}  // namespace cpu

std::string GELU::repr() const {
  return approximate_ == GeluApproximate::None ? "GELU(approximate='none')" : "GELU(approximate='tanh')";
}

namespace {

// ---- Device dispatch: the one place that knows which backends this build has.

void forward_on(const Tensor& x, Tensor& y, GeluApproximate approximate) {
#if MINICNN_CUDA
  if (x.is_cuda()) return cuda::gelu_forward(x.data(), y.data(), x.numel(), approximate);
#endif
  cpu::gelu_forward(x.data(), y.data(), x.numel(), approximate);
}

void backward_on(const Tensor& x, const Tensor& dy, Tensor& dx, GeluApproximate approximate) {
#if MINICNN_CUDA
  if (dy.is_cuda()) return cuda::gelu_backward(x.data(), dy.data(), dx.data(), dy.numel(), approximate);
#endif
  cpu::gelu_backward(x.data(), dy.data(), dx.data(), dy.numel(), approximate);
}

}  // namespace

Tensor GELU::forward(const Tensor& x, Mode mode) {
  Tensor y = Tensor::empty(x.shape(), DType::Float32, x.device());
  forward_on(x, y, approximate_);
  input_ = mode == Mode::Train ? x : Tensor();
  return y;
}

Tensor GELU::backward(const Tensor& dy) {
  const ReleaseAfterBackward release(input_);
  check_backward("GELU", input_, dy);
  Tensor dx = Tensor::empty(dy.shape(), DType::Float32, dy.device());
  backward_on(input_, dy, dx, approximate_);
  return dx;
}

}  // namespace minicnn
