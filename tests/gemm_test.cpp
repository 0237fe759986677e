// cpu::gemm against a double-precision triple loop: every transpose combination, leading dimensions wider
// than the rows, alpha/beta, and beta == 0 ignoring whatever C held.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <minicnn/gemm.h>

namespace minicnn {
namespace {

struct Case {
  bool ta, tb;
  int64_t M, N, K;
  float alpha, beta;
};

void check(const Case& c) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int64_t pad = 3;  // extra columns in every matrix: the leading dimension is not the row length
  const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = c.N + pad;
  std::vector<float> A(a_rows * lda), B(b_rows * ldb), C(c.M * ldc);
  for (float& v : A) v = u(rng);
  for (float& v : B) v = u(rng);
  for (float& v : C) v = c.beta == 0.0f ? std::numeric_limits<float>::quiet_NaN() : u(rng);
  const std::vector<float> C0 = C;
  cpu::gemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc);
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      double sum = 0.0;
      for (int64_t k = 0; k < c.K; ++k) {
        const double a = c.ta ? A[k * lda + i] : A[i * lda + k];
        const double b = c.tb ? B[j * ldb + k] : B[k * ldb + j];
        sum += a * b;
      }
      const double expected = c.alpha * sum + (c.beta == 0.0f ? 0.0 : c.beta * C0[i * ldc + j]);
      ASSERT_NEAR(C[i * ldc + j], expected, 1e-4 * (1.0 + std::abs(expected)))
          << "ta=" << c.ta << " tb=" << c.tb << " M=" << c.M << " N=" << c.N << " K=" << c.K << " at (" << i << ", "
          << j << ")";
    }
    for (int64_t j = c.N; j < ldc; ++j) {  // the padding columns of C are never written
      const float before = C0[i * ldc + j], after = C[i * ldc + j];
      ASSERT_TRUE(before == after || (std::isnan(before) && std::isnan(after))) << "column " << j << " was written";
    }
  }
}

TEST(Gemm, MatchesReferenceForEveryTransposeAndStride) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      check({ta, tb, 37, 53, 29, 1.0f, 0.0f});
      check({ta, tb, 64, 196, 288, 1.0f, 1.0f});  // mnist-cnn's second convolution, accumulating
      check({ta, tb, 5, 3, 70, -0.5f, 2.0f});
    }
  }
}

TEST(Gemm, EmptyInnerDimensionScalesC) {
  check({false, false, 4, 6, 0, 1.0f, 0.0f});
  check({false, true, 4, 6, 0, 1.0f, 0.5f});
}

}  // namespace
}  // namespace minicnn
