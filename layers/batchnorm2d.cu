// BatchNorm2d on CUDA: one block per channel sums the statistics in double (a fixed tree, so the same input
// gives the same bits), then one thread per element normalises; the per-channel rules are batchnorm2d.h's.
#include <minicnn/batchnorm2d.h>
#include <minicnn/cuda/check.h>
#include <minicnn/cuda/context.h>
#include <minicnn/cuda/elementwise.h>
#include <minicnn/cuda/grid.h>

namespace minicnn::cuda {
namespace {

constexpr int kReduceThreads = 256;

// The block's sum of each thread's `v` (every thread gets it), through a fixed tree in shared memory.
__device__ double block_sum(double v, double* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int half = kReduceThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  const double total = shared[0];
  __syncthreads();
  return total;
}

// Element k (of N*HW) of channel c: image k / HW, position k % HW.
__device__ __forceinline__ int64_t channel_offset(int64_t k, int64_t c, const BatchNorm2dCall& call) {
  return ((k / call.HW) * call.C + c) * call.HW + k % call.HW;
}

__global__ void count_batch_kernel(int32_t* tracked) {
  ++*tracked;
}

// Block c: mean[c] and inv_std[c] from the batch (mean first, then the squared deviations, as the CPU
// does) or from the running statistics; with update_running, the running statistics move.
__global__ void stats_kernel(const float* __restrict__ x, float* __restrict__ mean_out,
                             float* __restrict__ inv_std, float* running_mean, float* running_var,
                             const int32_t* tracked, BatchNorm2dCall call) {
  __shared__ double shared[kReduceThreads];
  const int64_t c = blockIdx.x, M = call.N * call.HW;
  if (!call.batch_stats) {
    if (threadIdx.x == 0) {
      mean_out[c] = running_mean[c];
      inv_std[c] = inv_std_of(running_var[c], call.eps);
    }
    return;
  }
  double sum = 0;
  for (int64_t k = threadIdx.x; k < M; k += kReduceThreads) sum += x[channel_offset(k, c, call)];
  const double mean = block_sum(sum, shared) / static_cast<double>(M);
  double sq = 0;
  for (int64_t k = threadIdx.x; k < M; k += kReduceThreads) {
    const double d = x[channel_offset(k, c, call)] - mean;
    sq += d * d;
  }
  sq = block_sum(sq, shared);
  if (threadIdx.x != 0) return;
  const double var = sq / static_cast<double>(M);
  if (call.update_running && running_mean != nullptr) {
    const double momentum = call.momentum < 0 ? 1.0 / *tracked : call.momentum;
    running_mean[c] = running_stat_update(running_mean[c], mean, momentum);
    running_var[c] = running_stat_update(running_var[c], unbiased_variance(sq, M), momentum);
  }
  mean_out[c] = static_cast<float>(mean);
  inv_std[c] = inv_std_of(var, call.eps);
}

__global__ void normalize_kernel(const float* __restrict__ x, float* __restrict__ y, float* __restrict__ xhat,
                                 const float* __restrict__ mean, const float* __restrict__ inv_std,
                                 const float* __restrict__ gamma, const float* __restrict__ beta,
                                 BatchNorm2dCall call) {
  const int64_t total = call.N * call.C * call.HW;
  for (int64_t i = thread_index<int64_t>(); i < total; i += grid_stride<int64_t>()) {
    const int64_t c = (i / call.HW) % call.C;
    const float h = (x[i] - mean[c]) * inv_std[c];
    if (xhat != nullptr) xhat[i] = h;
    y[i] = h * (gamma != nullptr ? gamma[c] : 1.0f) + (beta != nullptr ? beta[c] : 0.0f);
  }
}

// Block c: the sums of dy and dy * xhat; adds them to dbeta and dgamma and leaves, per channel, the
// factor gamma * inv_std and the two means the input gradient subtracts (coef: 3 x C).
__global__ void grad_stats_kernel(const float* __restrict__ dy, const float* __restrict__ xhat,
                                  const float* __restrict__ inv_std, const float* __restrict__ gamma,
                                  float* __restrict__ dgamma, float* __restrict__ dbeta,
                                  float* __restrict__ coef, BatchNorm2dCall call) {
  __shared__ double shared[kReduceThreads];
  const int64_t c = blockIdx.x, M = call.N * call.HW;
  double sum_dy = 0, sum_dy_xhat = 0;
  for (int64_t k = threadIdx.x; k < M; k += kReduceThreads) {
    const int64_t i = channel_offset(k, c, call);
    sum_dy += dy[i];
    sum_dy_xhat += static_cast<double>(dy[i]) * xhat[i];
  }
  sum_dy = block_sum(sum_dy, shared);
  sum_dy_xhat = block_sum(sum_dy_xhat, shared);
  if (threadIdx.x != 0) return;
  if (dgamma != nullptr) {
    dgamma[c] += static_cast<float>(sum_dy_xhat);
    dbeta[c] += static_cast<float>(sum_dy);
  }
  coef[c] = (gamma != nullptr ? gamma[c] : 1.0f) * inv_std[c];
  coef[call.C + c] = call.batch_stats ? static_cast<float>(sum_dy / static_cast<double>(M)) : 0.0f;
  coef[2 * call.C + c] = call.batch_stats ? static_cast<float>(sum_dy_xhat / static_cast<double>(M)) : 0.0f;
}

// Batch statistics: dx = gamma*inv_std * (dy - mean(dy) - xhat * mean(dy*xhat)); running: gamma*inv_std*dy.
__global__ void input_grad_kernel(const float* __restrict__ dy, const float* __restrict__ xhat,
                                  const float* __restrict__ coef, float* __restrict__ dx,
                                  BatchNorm2dCall call) {
  const int64_t total = call.N * call.C * call.HW;
  for (int64_t i = thread_index<int64_t>(); i < total; i += grid_stride<int64_t>()) {
    const int64_t c = (i / call.HW) % call.C;
    dx[i] = coef[c] * (dy[i] - coef[call.C + c] - xhat[i] * coef[2 * call.C + c]);
  }
}

Tensor channel_buffer(int64_t floats) {
  return Tensor::empty({floats}, DType::Float32, Device::cuda(current_device()));
}

}  // namespace

void batchnorm2d_forward(const float* x, float* y, float* xhat, float* inv_std, const float* gamma,
                         const float* beta, float* running_mean, float* running_var, int32_t* tracked,
                         const BatchNorm2dCall& call) {
  const int64_t total = call.N * call.C * call.HW;
  if (total == 0) return;
  if (call.update_running && tracked != nullptr) {
    count_batch_kernel<<<1, 1, 0, current_stream()>>>(tracked);
    MINICNN_CUDA_CHECK_LAUNCH("batchnorm2d count_batch");
  }
  Tensor mean = channel_buffer(call.C);
  stats_kernel<<<static_cast<unsigned>(call.C), kReduceThreads, 0, current_stream()>>>(
      x, mean.data(), inv_std, running_mean, running_var, tracked, call);
  MINICNN_CUDA_CHECK_LAUNCH("batchnorm2d stats");
  normalize_kernel<<<blocks_for(total), kThreads, 0, current_stream()>>>(x, y, xhat, mean.data(), inv_std,
                                                                         gamma, beta, call);
  MINICNN_CUDA_CHECK_LAUNCH("batchnorm2d normalize");
}

void batchnorm2d_backward(const float* dy, const float* xhat, const float* inv_std, const float* gamma,
                          float* dx, float* dgamma, float* dbeta, const BatchNorm2dCall& call) {
  const int64_t total = call.N * call.C * call.HW;
  if (total == 0) return;
  Tensor coef = channel_buffer(3 * call.C);
  grad_stats_kernel<<<static_cast<unsigned>(call.C), kReduceThreads, 0, current_stream()>>>(
      dy, xhat, inv_std, gamma, dgamma, dbeta, coef.data(), call);
  MINICNN_CUDA_CHECK_LAUNCH("batchnorm2d grad_stats");
  input_grad_kernel<<<blocks_for(total), kThreads, 0, current_stream()>>>(dy, xhat, coef.data(), dx, call);
  MINICNN_CUDA_CHECK_LAUNCH("batchnorm2d input_grad");
}

}  // namespace minicnn::cuda
