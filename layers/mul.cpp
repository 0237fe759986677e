// Mul: one vectorised pass each way on the CPU, one kernel on CUDA (backward needs nothing but the scale).
#include <minicnn/mul.h>

#include <fmt/format.h>

#if MINICNN_CUDA
#include <minicnn/cuda/elementwise.h>
#endif

namespace minicnn {
namespace {

// y = x * scale on the tensors' device: the device dispatch.
void scale_by(const Tensor& x, Tensor& y, float scale) {
  const float* xp = x.data();
  float* yp = y.data();
  const int64_t n = x.numel();
#if MINICNN_CUDA
  if (x.is_cuda()) return cuda::scale(xp, yp, n, scale);
#endif
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) yp[i] = xp[i] * scale;
}

}  // namespace

std::string Mul::repr() const {
  return fmt::format("Mul(scale={:.9g})", scale_);
}

Tensor Mul::forward(const Tensor& x, Mode) {
  Tensor y = Tensor::empty(x.shape(), DType::Float32, x.device());
  scale_by(x, y, scale_);
  return y;
}

Tensor Mul::backward(const Tensor& dy) {
  Tensor dx = Tensor::empty(dy.shape(), DType::Float32, dy.device());
  scale_by(dy, dx, scale_);
  return dx;
}

}  // namespace minicnn
