// Mul on the CPU: one vectorised pass each way (backward needs nothing from forward but the scale).
#include <minicnn/mul.h>

#include <fmt/format.h>

#include <minicnn/check.h>

namespace minicnn {
namespace {

void scale_by(const float* x, float* y, int64_t n, float scale) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
}

}  // namespace

std::string Mul::repr() const {
  return fmt::format("Mul(scale={:.9g})", scale_);
}

Tensor Mul::forward(const Tensor& x, Mode) {
  MINICNN_CHECK(!x.is_cuda(), "Mul: runs on the CPU only, but got a tensor on ", x.device().str());
  Tensor y = Tensor::empty(x.shape(), DType::Float32, x.device());
  scale_by(x.data(), y.data(), x.numel(), scale_);
  return y;
}

Tensor Mul::backward(const Tensor& dy) {
  Tensor dx = Tensor::empty(dy.shape(), DType::Float32, dy.device());
  scale_by(dy.data(), dx.data(), dy.numel(), scale_);
  return dx;
}

}  // namespace minicnn
