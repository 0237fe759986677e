// ReLU on the CPU: vectorisable element-wise loops over OpenMP chunks.
#include <minicnn/relu.h>

namespace minicnn {

namespace cpu {

void relu_forward(const float* x, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) y[i] = relu_of(x[i]);
}

void relu_backward(const float* y, const float* dy, float* dx, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) dx[i] = relu_grad(y[i], dy[i]);
}

}  // namespace cpu

namespace {

// ---- Device dispatch: the one place that knows which backends this build has.

void forward_on(const Tensor& x, Tensor& y) {
#if MINICNN_CUDA
  if (x.is_cuda()) return cuda::relu_forward(x.data(), y.data(), x.numel());
#endif
  cpu::relu_forward(x.data(), y.data(), x.numel());
}

void backward_on(const Tensor& y, const Tensor& dy, Tensor& dx) {
#if MINICNN_CUDA
  if (dy.is_cuda()) return cuda::relu_backward(y.data(), dy.data(), dx.data(), dy.numel());
#endif
  cpu::relu_backward(y.data(), dy.data(), dx.data(), dy.numel());
}

}  // namespace

Tensor ReLU::forward(const Tensor& x, Mode mode) {
  if (fused_) return x;
  Tensor y = inplace_ ? x : Tensor::empty(x.shape(), DType::Float32, x.device());
  forward_on(x, y);
  output_ = mode == Mode::Train ? y : Tensor();
  return y;
}

Tensor ReLU::backward(const Tensor& dy) {
  const ReleaseAfterBackward release(output_);
  if (fused_) return dy;
  check_backward(type_name(), output_, dy);
  Tensor dx = Tensor::empty(dy.shape(), DType::Float32, dy.device());
  backward_on(output_, dy, dx);
  return dx;
}

}  // namespace minicnn
