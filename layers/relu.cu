// ReLU on CUDA: the CPU's element-wise rules (NaN propagates; gradient where the output is > 0).
#include <minicnn/cuda/check.h>
#include <minicnn/cuda/context.h>
#include <minicnn/cuda/elementwise.h>
#include <minicnn/cuda/grid.h>
#include <minicnn/relu.h>

namespace minicnn::cuda {
namespace {

__global__ void relu_forward_kernel(const float* x, float* y, int64_t n) {
  for (int64_t i = thread_index<int64_t>(); i < n; i += grid_stride<int64_t>()) y[i] = cpu::relu_of(x[i]);
}

__global__ void relu_backward_kernel(const float* __restrict__ y, const float* __restrict__ dy,
                                     float* __restrict__ dx, int64_t n) {
  for (int64_t i = thread_index<int64_t>(); i < n; i += grid_stride<int64_t>()) dx[i] = cpu::relu_grad(y[i], dy[i]);
}

}  // namespace

void relu_forward(const float* x, float* y, int64_t n) {
  if (n <= 0) return;
  relu_forward_kernel<<<blocks_for(n), kThreads, 0, current_stream()>>>(x, y, n);
  MINICNN_CUDA_CHECK_LAUNCH("relu_forward");
}

void relu_backward(const float* y, const float* dy, float* dx, int64_t n) {
  if (n <= 0) return;
  relu_backward_kernel<<<blocks_for(n), kThreads, 0, current_stream()>>>(y, dy, dx, n);
  MINICNN_CUDA_CHECK_LAUNCH("relu_backward");
}

}  // namespace minicnn::cuda
