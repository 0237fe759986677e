// SGD on CUDA: one fused element-wise pass per parameter, the CPU's formula.
#include <minicnn/cuda/check.h>
#include <minicnn/cuda/context.h>
#include <minicnn/cuda/elementwise.h>
#include <minicnn/cuda/grid.h>
#include <minicnn/sgd.h>

namespace minicnn::cuda {
namespace {

__global__ void sgd_step_kernel(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ buf,
                                int64_t n, float lr, float momentum, float dampening, float weight_decay,
                                bool nesterov, bool first_step) {
  for (int64_t i = thread_index<int64_t>(); i < n; i += grid_stride<int64_t>()) {
    cpu::sgd_update(p[i], g[i], buf != nullptr ? buf + i : nullptr, lr, momentum, dampening, weight_decay, nesterov,
                    first_step);
  }
}

}  // namespace

void sgd_step(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float dampening,
              float weight_decay, bool nesterov, bool first_step) {
  if (n <= 0) return;
  sgd_step_kernel<<<blocks_for(n), kThreads, 0, current_stream()>>>(p, g, buf, n, lr, momentum, dampening,
                                                                    weight_decay, nesterov, first_step);
  MINICNN_CUDA_CHECK_LAUNCH("sgd_step");
}

}  // namespace minicnn::cuda
