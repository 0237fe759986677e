// The row-major GEMM: C^T = op(B)^T op(A)^T in cuBLAS's column-major terms, so no data is transposed.
#include <minicnn/cuda/blas.h>

#include <limits>

#include <minicnn/cuda/check.h>
#include <minicnn/cuda/context.h>

namespace minicnn::cuda {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          const float* B, float beta, float* C) {
  if (M == 0 || N == 0) return;
  constexpr int64_t kMax = std::numeric_limits<int>::max();
  MINICNN_CHECK(M <= kMax && N <= kMax && K <= kMax, "CUDA: a matrix product of (", M, " x ", K, ") by (", K,
                " x ", N, ") is too large for cuBLAS's 32-bit sizes");
  // Row-major X (r, c) is column-major X^T with leading dimension c.
  const int lda = static_cast<int>(std::max<int64_t>(1, trans_a ? M : K));
  const int ldb = static_cast<int>(std::max<int64_t>(1, trans_b ? K : N));
  const int ldc = static_cast<int>(N);
  MINICNN_CUBLAS_CHECK(cublasSgemm(
      cublas_handle(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
      static_cast<int>(N), static_cast<int>(M), static_cast<int>(K), &alpha, B, ldb, A, lda, &beta, C, ldc));
}

}  // namespace minicnn::cuda
