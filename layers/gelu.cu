// GELU on CUDA: gelu_of and gelu_grad_of (layers/gelu.h) per element.
#include <minicnn/cuda/check.h>
#include <minicnn/cuda/context.h>
#include <minicnn/cuda/elementwise.h>
#include <minicnn/cuda/grid.h>
#include <minicnn/gelu.h>

namespace minicnn::cuda {
namespace {

__global__ void gelu_forward_kernel(const float* x, float* y, int64_t n, GeluApproximate approximate) {
  for (int64_t i = thread_index<int64_t>(); i < n; i += grid_stride<int64_t>())
    y[i] = gelu_of(x[i], approximate);
}

__global__ void gelu_backward_kernel(const float* __restrict__ x, const float* __restrict__ dy,
                                     float* __restrict__ dx, int64_t n, GeluApproximate approximate) {
  for (int64_t i = thread_index<int64_t>(); i < n; i += grid_stride<int64_t>()) {
    dx[i] = gelu_grad_of(x[i], dy[i], approximate);
  }
}

}  // namespace

void gelu_forward(const float* x, float* y, int64_t n, GeluApproximate approximate) {
  if (n <= 0) return;
  gelu_forward_kernel<<<blocks_for(n), kThreads, 0, current_stream()>>>(x, y, n, approximate);
  MINICNN_CUDA_CHECK_LAUNCH("gelu_forward");
}

void gelu_backward(const float* x, const float* dy, float* dx, int64_t n, GeluApproximate approximate) {
  if (n <= 0) return;
  gelu_backward_kernel<<<blocks_for(n), kThreads, 0, current_stream()>>>(x, dy, dx, n, approximate);
  MINICNN_CUDA_CHECK_LAUNCH("gelu_backward");
}

}  // namespace minicnn::cuda
