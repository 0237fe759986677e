// Adam/AdamW on CUDA: one fused element-wise pass per parameter, the CPU's formula.
#include <minicnn/adam.h>
#include <minicnn/cuda/check.h>
#include <minicnn/cuda/context.h>
#include <minicnn/cuda/elementwise.h>
#include <minicnn/cuda/grid.h>

namespace minicnn::cuda {
namespace {

__global__ void adam_step_kernel(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                                 float* __restrict__ v, float* __restrict__ vmax, int64_t n,
                                 cpu::AdamStep s) {
  for (int64_t i = thread_index<int64_t>(); i < n; i += grid_stride<int64_t>()) {
    cpu::adam_update(p[i], g[i], m[i], v[i], vmax != nullptr ? vmax + i : nullptr, s);
  }
}

}  // namespace

void adam_step(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const cpu::AdamStep& s) {
  if (n <= 0) return;
  adam_step_kernel<<<blocks_for(n), kThreads, 0, current_stream()>>>(p, g, m, v, vmax, n, s);
  MINICNN_CUDA_CHECK_LAUNCH("adam_step");
}

}  // namespace minicnn::cuda
