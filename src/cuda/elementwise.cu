// Element-wise kernels (fill, multiply, bias) and deterministic row and column sums.
#include <minicnn/cuda/check.h>
#include <minicnn/cuda/context.h>
#include <minicnn/cuda/elementwise.h>
#include <minicnn/cuda/grid.h>
#include <minicnn/cuda/memory.h>
#include <minicnn/lerp.h>

namespace minicnn::cuda {
namespace {

__global__ void fill_kernel(float* p, float value, int64_t n) {
  for (int64_t i = thread_index<int64_t>(); i < n; i += grid_stride<int64_t>()) {
    p[i] = value;
  }
}

__global__ void multiply_kernel(const float* __restrict__ a, const float* __restrict__ b,
                                float* __restrict__ out, int64_t n) {
  for (int64_t i = thread_index<int64_t>(); i < n; i += grid_stride<int64_t>()) {
    out[i] = a[i] * b[i];
  }
}

__global__ void scale_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n, float s) {
  for (int64_t i = thread_index<int64_t>(); i < n; i += grid_stride<int64_t>()) y[i] = x[i] * s;
}

__global__ void lerp_and_assign_kernel(float* __restrict__ avg, float* __restrict__ w, int64_t n,
                                       float weight) {
  for (int64_t i = thread_index<int64_t>(); i < n; i += grid_stride<int64_t>()) {
    const float a = lerp_of(avg[i], w[i], weight);
    avg[i] = a;
    w[i] = a;
  }
}

// Every thread that sees a non-finite value writes the same 1, so the race is harmless.
__global__ void flag_non_finite_kernel(const float* __restrict__ x, int64_t n, int32_t* flag) {
  for (int64_t i = thread_index<int64_t>(); i < n; i += grid_stride<int64_t>()) {
    if (!isfinite(x[i])) *flag = 1;
  }
}

__global__ void add_row_vector_kernel(float* __restrict__ y, const float* __restrict__ bias, int64_t rows,
                                      int64_t cols) {
  const int64_t n = rows * cols;
  for (int64_t i = thread_index<int64_t>(); i < n; i += grid_stride<int64_t>()) {
    y[i] += bias[i % cols];
  }
}

// One block per row: each thread sums a strided slice in order, then a fixed-shape tree in shared memory.
__global__ void sum_rows_add_kernel(const float* __restrict__ a, float* __restrict__ out, int64_t cols) {
  __shared__ float partial[kThreads];
  const float* row = a + blockIdx.x * cols;
  float s = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += kThreads) s += row[c];
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] += partial[0];
}

__global__ void sum_cols_add_kernel(const float* __restrict__ a, float* __restrict__ out, int64_t rows,
                                    int64_t cols) {
  for (int64_t c = thread_index<int64_t>(); c < cols; c += grid_stride<int64_t>()) {
    float s = 0.0f;
    for (int64_t r = 0; r < rows; ++r) s += a[r * cols + c];
    out[c] += s;
  }
}

}  // namespace

void fill(float* ptr, float value, int64_t count) {
  if (count <= 0) return;
  fill_kernel<<<blocks_for(count), kThreads, 0, current_stream()>>>(ptr, value, count);
  MINICNN_CUDA_CHECK_LAUNCH("fill");
}

void multiply(const float* a, const float* b, float* out, int64_t n) {
  if (n <= 0) return;
  multiply_kernel<<<blocks_for(n), kThreads, 0, current_stream()>>>(a, b, out, n);
  MINICNN_CUDA_CHECK_LAUNCH("multiply");
}

void scale(const float* x, float* y, int64_t n, float s) {
  if (n <= 0) return;
  scale_kernel<<<blocks_for(n), kThreads, 0, current_stream()>>>(x, y, n, s);
  MINICNN_CUDA_CHECK_LAUNCH("scale");
}

void lerp_and_assign(float* avg, float* w, int64_t n, float weight) {
  if (n <= 0) return;
  lerp_and_assign_kernel<<<blocks_for(n), kThreads, 0, current_stream()>>>(avg, w, n, weight);
  MINICNN_CUDA_CHECK_LAUNCH("lerp_and_assign");
}

void flag_non_finite(const float* x, int64_t n, int32_t* flag) {
  if (n <= 0) return;
  flag_non_finite_kernel<<<blocks_for(n), kThreads, 0, current_stream()>>>(x, n, flag);
  MINICNN_CUDA_CHECK_LAUNCH("flag_non_finite");
}

void add_row_vector(float* y, const float* bias, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  add_row_vector_kernel<<<blocks_for(rows * cols), kThreads, 0, current_stream()>>>(y, bias, rows, cols);
  MINICNN_CUDA_CHECK_LAUNCH("add_row_vector");
}

void sum_rows_add(const float* a, float* out, int64_t rows, int64_t cols) {
  if (rows <= 0) return;
  MINICNN_CHECK(rows <= (int64_t{1} << 31) - 1, "CUDA: sum_rows_add supports at most 2^31-1 rows, but got ",
                rows);
  sum_rows_add_kernel<<<static_cast<unsigned>(rows), kThreads, 0, current_stream()>>>(a, out, cols);
  MINICNN_CUDA_CHECK_LAUNCH("sum_rows_add");
}

void sum_cols_add(const float* a, float* out, int64_t rows, int64_t cols) {
  if (cols <= 0) return;
  sum_cols_add_kernel<<<blocks_for(cols), kThreads, 0, current_stream()>>>(a, out, rows, cols);
  MINICNN_CUDA_CHECK_LAUNCH("sum_cols_add");
}

}  // namespace minicnn::cuda
