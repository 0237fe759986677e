// Dropout on CUDA: the CPU's hashed masks element by element (the same masks for the same seed).
#include <minicnn/cuda/check.h>
#include <minicnn/cuda/context.h>
#include <minicnn/cuda/elementwise.h>
#include <minicnn/cuda/grid.h>
#include <minicnn/dropout.h>
#include "dropout_mask.h"

namespace minicnn::cuda {
namespace {

__global__ void dropout_forward_kernel(const float* x, float* y, float* __restrict__ mask, int64_t n,
                                       uint64_t base, uint32_t threshold, float keep_scale) {
  for (int64_t i = thread_index<int64_t>(); i < n; i += grid_stride<int64_t>()) {
    const float m = dropout_mask_at(base, static_cast<uint64_t>(i), threshold, keep_scale);
    mask[i] = m;
    y[i] = x[i] * m;
  }
}

}  // namespace

void dropout_forward(const float* x, float* y, float* mask, int64_t n, uint64_t base, uint32_t threshold,
                     float keep_scale) {
  if (n <= 0) return;
  dropout_forward_kernel<<<blocks_for(n), kThreads, 0, current_stream()>>>(x, y, mask, n, base, threshold,
                                                                           keep_scale);
  MINICNN_CUDA_CHECK_LAUNCH("dropout_forward");
}

void dropout_backward(const float* dy, const float* mask, float* dx, int64_t n) {
  multiply(dy, mask, dx, n);
}

}  // namespace minicnn::cuda
