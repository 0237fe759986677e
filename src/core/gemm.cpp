// Row-major float32 GEMM on the CPU. oneDNN's sgemm reaches 72-94% of a core's FMA peak on the main
// convolution shapes of the presets where Eigen's reaches 51-75% (one core, Zen 4), so it is the default;
// Eigen remains for builds without oneDNN.
#include <minicnn/gemm.h>

#include <minicnn/check.h>

#if MINICNN_ONEDNN
#include <dnnl.h>
#else
#include <Eigen/Core>
#endif

namespace minicnn::cpu {
namespace {

// C (M, N) = beta * C, the whole product when K == 0 (which oneDNN refuses).
void scale(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
  }
}

#if MINICNN_ONEDNN

void product(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
             const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb,
                                          beta, C, ldc);
  MINICNN_ASSERT(status == dnnl_success, "dnnl_sgemm failed");
}

constexpr const char* kBackend = "oneDNN";

#else

void product(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
             const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using In = Eigen::Map<const RowMat, 0, Eigen::OuterStride<>>;
  using Out = Eigen::Map<RowMat, 0, Eigen::OuterStride<>>;
  Out c(C, M, N, Eigen::OuterStride<>(ldc));
  const In a(A, trans_a ? K : M, trans_a ? M : K, Eigen::OuterStride<>(lda));
  const In b(B, trans_b ? N : K, trans_b ? K : N, Eigen::OuterStride<>(ldb));
  auto run = [&](const auto& pa, const auto& pb) {
    if (beta == 0.0f) {
      c.noalias() = alpha * (pa * pb);
    } else {
      if (beta != 1.0f) c *= beta;
      c.noalias() += alpha * (pa * pb);
    }
  };
  if (trans_a && trans_b) run(a.transpose(), b.transpose());
  else if (trans_a) run(a.transpose(), b);
  else if (trans_b) run(a, b.transpose());
  else run(a, b);
}

constexpr const char* kBackend = "Eigen";

#endif

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) return scale(M, N, beta, C, ldc);
  product(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char* gemm_backend() { return kBackend; }

}  // namespace minicnn::cpu
