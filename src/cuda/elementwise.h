// Small element-wise and reduction kernels the CUDA layers share (bias, products, deterministic sums).
#pragma once

#include <cstdint>

namespace minicnn::cuda {

/// out[i] = a[i] * b[i].
void multiply(const float* a, const float* b, float* out, int64_t n);
/// y[i] = x[i] * s.
void scale(const float* x, float* y, int64_t n, float s);
/// avg[i] = lerp_of(avg[i], w[i], weight) and w[i] = avg[i] (<minicnn/lerp.h>): the lookahead average's
/// blend.
void lerp_and_assign(float* avg, float* w, int64_t n, float weight);
/// *flag = 1 when some x[i] is NaN or infinite; *flag is left as it is otherwise.
void flag_non_finite(const float* x, int64_t n, int32_t* flag);
/// y[r, c] += bias[c] for a row-major (rows, cols) y.
void add_row_vector(float* y, const float* bias, int64_t rows, int64_t cols);
/// out[r] += sum over c of a[r, c] for a row-major (rows, cols) a; a fixed summation order, so the same
/// input always gives the same bits (no atomics).
void sum_rows_add(const float* a, float* out, int64_t rows, int64_t cols);
/// out[c] += sum over r of a[r, c], rows in order (deterministic).
void sum_cols_add(const float* a, float* out, int64_t rows, int64_t cols);

/// Threads per block and the block count for one thread per element of `n` (grid-stride loops cover
/// the rest when `n` needs more than the cap).
constexpr int kThreads = 256;
inline unsigned blocks_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > (int64_t{1} << 30) ? (int64_t{1} << 30) : b));
}

}  // namespace minicnn::cuda
