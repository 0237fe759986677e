// Row-major float32 GEMM on the CPU: oneDNN's sgemm when the build has it, Eigen's otherwise.
#pragma once

#include <cstdint>

namespace minicnn::cpu {

/// C (M, N) = alpha * op(A) op(B) + beta * C on row-major matrices with leading dimensions (row strides)
/// lda, ldb, ldc. op(A) is (M, K): A is stored (M, K), or (K, M) when `trans_a`; op(B) is (K, N): B is
/// stored (K, N), or (N, K) when `trans_b`. With beta == 0, C is not read (it may hold anything).
/// Inside an OpenMP parallel region it runs on the calling thread alone; outside, on num_threads().
/// Example: gemm(false, true, N, out, in, 1, x, in, w, in, 0, y, out) is Linear's y = x W^T.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

/// The implementation gemm() uses in this build: "oneDNN" or "Eigen".
const char* gemm_backend();

}  // namespace minicnn::cpu
