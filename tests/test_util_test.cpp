// The tests' own tensor comparisons (test_util.h): what agrees, what fails, and what a NaN does.
#include <gtest/gtest.h>

#include <limits>

#include "test_util.h"

namespace minicnn {
namespace {

using testing::close_values;
using testing::same_values;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

Tensor values(std::vector<float> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_vector({n}, std::move(v));
}

TEST(TensorComparison, SameValuesTakesAnyNaNForAnyNaNButNothingElse) {
  EXPECT_TRUE(same_values(values({1, kNaN, -kInf}), values({1, -kNaN, -kInf})));
  EXPECT_FALSE(same_values(values({1, kNaN}), values({1, 2})));
  EXPECT_FALSE(same_values(values({1, 2}), values({1, kNaN})));
  EXPECT_FALSE(same_values(values({0.0f}), values({-0.0f})));  // bit for bit
  EXPECT_FALSE(same_values(values({1, 2}), Tensor::from_vector({1, 2}, {1, 2})));
}

TEST(TensorComparison, SameValuesComparesIndicesAsIntegersOfTheSameDtype) {
  const Tensor a = Tensor::from_vector_i32({2}, {3, 7});
  EXPECT_TRUE(same_values(a, Tensor::from_vector_i32({2}, {3, 7})));
  EXPECT_FALSE(same_values(a, Tensor::from_vector_i32({2}, {3, 8})));
  EXPECT_FALSE(same_values(a, values({3, 7})));
}

TEST(TensorComparison, CloseValuesAllowsAbsPlusRelOfTheLargestExpectedMagnitude) {
  EXPECT_TRUE(close_values(values({1.0f, 2.0f}), values({1.0f, 2.5f}), {.abs = 0.5}));
  EXPECT_FALSE(close_values(values({1.0f, 2.0f}), values({1.0f, 2.5f}), {.abs = 0.4}));
  // 0.1 + 0.1 * 4 allows 0.5 everywhere, also next to the small value.
  EXPECT_TRUE(close_values(values({0.5f, 4.0f}), values({0.0f, 4.0f}), {.abs = 0.1, .rel = 0.1}));
  EXPECT_FALSE(close_values(values({0.6f, 4.0f}), values({0.0f, 4.0f}), {.abs = 0.1, .rel = 0.1}));
}

TEST(TensorComparison, CloseValuesFailsOnANaNOrInfinityAnywhereEvenWhenBothHaveIt) {
  EXPECT_FALSE(close_values(values({kNaN, 0}), values({0, 0}), {.abs = 1}));  // a NaN first, then agreement
  EXPECT_FALSE(close_values(values({0, 0}), values({0, kNaN}), {.abs = 1}));
  EXPECT_FALSE(close_values(values({kNaN}), values({kNaN}), {.abs = 1}));
  EXPECT_FALSE(close_values(values({kInf}), values({kInf}), {.abs = 1}));
  EXPECT_FALSE(close_values(values({0, 1}), values({kInf, 1}), {.abs = 1, .rel = 1}));
}

}  // namespace
}  // namespace minicnn
