// Row-major float32 GEMM on the current stream through cuBLAS (which is column-major underneath).
#pragma once

#include <cstdint>

namespace minicnn::cuda {

/// C (M, N) = alpha * op(A) op(B) + beta * C, every matrix row-major and contiguous. op(A) is (M, K):
/// A is stored (M, K), or (K, M) when `trans_a`; op(B) is (K, N): B is stored (K, N), or (N, K) when
/// `trans_b`. Exact float32 (cuBLAS's default math mode, no TF32). Example: gemm(false, true, N, out, in,
/// 1, x, w, 0, y) is Linear's y = x W^T.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          const float* B, float beta, float* C);

}  // namespace minicnn::cuda
