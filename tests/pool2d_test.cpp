// Pooling rules, one test each: the tutorial's examples, PyTorch's output-size and padding rules, -inf
// padding, tie and NaN handling, empty windows, the average divisor, indices and the error sentences.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <minicnn/check.h>
#include "gradcheck.h"
#include <minicnn/pool2d.h>
#include <minicnn/pool2d_window.h>
#include "test_util.h"

namespace minicnn {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

Tensor one_to_sixteen(float sign = 1.0f) {
  std::vector<float> v;
  for (int i = 1; i <= 16; ++i) v.push_back(sign * static_cast<float>(i));
  return Tensor::from_vector({1, 1, 4, 4}, v);
}

using testing::error_of;

// ---- The tutorial in shared/reference, reproduced exactly.

TEST(MaxPool2d, TutorialKernel2Stride2) {
  MaxPool2d pool(MaxPool2dOptions(2).stride(2));
  auto [y, idx] = pool.forward_with_indices(one_to_sixteen());
  EXPECT_EQ(y.shape(), Shape({1, 1, 2, 2}));
  EXPECT_EQ(y.to_vector(), std::vector<float>({6, 8, 14, 16}));
  EXPECT_EQ(idx.to_vector_i32(), std::vector<int32_t>({5, 7, 13, 15}));
}

TEST(MaxPool2d, TutorialKernel2Stride1Overlaps) {
  MaxPool2d pool(MaxPool2dOptions(2).stride(1));
  Tensor y = pool.forward(one_to_sixteen(), Mode::Eval);
  EXPECT_EQ(y.shape(), Shape({1, 1, 3, 3}));
  EXPECT_EQ(y.to_vector(), std::vector<float>({6, 7, 8, 10, 11, 12, 14, 15, 16}));
}

TEST(MaxPool2d, TutorialKernel2Stride2Padding1) {
  MaxPool2d pool(MaxPool2dOptions(2).stride(2).padding(1));
  Tensor y = pool.forward(one_to_sixteen(), Mode::Eval);
  EXPECT_EQ(y.shape(), Shape({1, 1, 3, 3}));
  EXPECT_EQ(y.to_vector(), std::vector<float>({1, 3, 4, 9, 11, 12, 13, 15, 16}));
}

TEST(MaxPool2d, TutorialMultiChannelShape) {
  MaxPool2d pool(MaxPool2dOptions(2).stride(2));
  EXPECT_EQ(pool.forward(testing::uniform_values({2, 3, 8, 8}, 1), Mode::Eval).shape(), Shape({2, 3, 4, 4}));
}

// The case the tutorial misses: padding is -inf for max pooling, so a negative input never sees a 0.
TEST(MaxPool2d, PaddingIsMinusInfinityNotZero) {
  MaxPool2d pool(MaxPool2dOptions(2).stride(2).padding(1));
  Tensor y = pool.forward(one_to_sixteen(-1.0f), Mode::Eval);
  EXPECT_EQ(y.to_vector(), std::vector<float>({-1, -2, -4, -5, -6, -8, -13, -14, -16}));
}

TEST(MaxPool2d, StrideDefaultsToKernelSize) {
  MaxPool2d pool(MaxPool2dOptions(2));
  EXPECT_EQ(pool.output_shape({1, 1, 4, 4}), Shape({1, 1, 2, 2}));
  EXPECT_EQ(pool.repr(), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
}

// ---- Output size.

TEST(Pool2dGeometry, OutputSizeFloorsByDefault) {
  EXPECT_EQ(window_output_size(6, 3, 2, 0, 1, false), 2);  // (6 - 3) / 2 + 1
  EXPECT_EQ(window_output_size(16, 4, 2, 1, 1, false), 8);  // the tutorial's quiz
  EXPECT_EQ(window_output_size(7, 3, 1, 0, 2, false), 3);  // effective kernel 5
}

TEST(Pool2dGeometry, CeilModeRoundsUp) {
  EXPECT_EQ(window_output_size(6, 3, 2, 0, 1, true), 3);
  MaxPool2d pool(MaxPool2dOptions(3).stride(2).ceil_mode(true));
  EXPECT_EQ(pool.output_shape({1, 1, 6, 6}), Shape({1, 1, 3, 3}));
}

// H=5, K=2, S=2, P=1: rounding up gives 4 windows, but the 4th would start at 6 - 1 = 5, inside the
// bottom padding, so PyTorch drops it and the output has 3.
TEST(Pool2dGeometry, CeilModeDropsAWindowStartingInThePadding) {
  EXPECT_EQ(window_output_size(5, 2, 2, 1, 1, true), 3);
  EXPECT_EQ(window_output_size(5, 2, 2, 1, 1, false), 3);
  EXPECT_EQ(window_output_size(4, 2, 2, 1, 1, true), 3);
}

TEST(MaxPool2d, PaddingAtMostHalfTheEffectiveKernel) {
  EXPECT_EQ(error_of([] { MaxPool2d(MaxPool2dOptions(3).padding(2)); }),
            "MaxPool2d: padding should be at most half of effective kernel size, but got padding=(2, 2), "
            "kernel_size=(3, 3), dilation=(1, 1)");
  // Dilation 2 makes the effective kernel 5, so padding 2 is allowed (current PyTorch's rule).
  MaxPool2d dilated(MaxPool2dOptions(3).stride(1).padding(2).dilation(2));
  EXPECT_EQ(dilated.output_shape({1, 1, 5, 5}), Shape({1, 1, 5, 5}));
}

// ---- Max pooling rules.

TEST(MaxPool2d, FirstMaximumWinsTies) {
  // After ReLU many windows are all zeros: the index is the window's first element (row-major).
  MaxPool2d pool(MaxPool2dOptions(2));
  Tensor x = Tensor::from_vector({1, 1, 2, 4}, {0, 0, 3, 1, 0, 0, 3, 3});
  auto [y, idx] = pool.forward_with_indices(x);
  EXPECT_EQ(y.to_vector(), std::vector<float>({0, 3}));
  EXPECT_EQ(idx.to_vector_i32(), std::vector<int32_t>({0, 2}));
}

TEST(MaxPool2d, NaNPropagatesAndTheLastNaNsIndexWins) {
  MaxPool2d pool(MaxPool2dOptions(2));
  Tensor x = Tensor::from_vector({1, 1, 2, 4}, {kNaN, 5, 1, kNaN, 7, kNaN, 2, 3});
  auto [y, idx] = pool.forward_with_indices(x);
  EXPECT_TRUE(std::isnan(y.data()[0]));
  EXPECT_TRUE(std::isnan(y.data()[1]));
  EXPECT_EQ(idx.to_vector_i32(), std::vector<int32_t>({5, 3}));
}

TEST(MaxPool2d, AllMinusInfinityWindowKeepsItsFirstValidIndex) {
  MaxPool2d pool(MaxPool2dOptions(2).padding(1));
  Tensor x = Tensor::full({1, 1, 2, 2}, -kInf);
  auto [y, idx] = pool.forward_with_indices(x);
  EXPECT_EQ(y.shape(), Shape({1, 1, 2, 2}));
  for (float v : y.to_vector()) EXPECT_EQ(v, -kInf);
  EXPECT_EQ(idx.to_vector_i32(), std::vector<int32_t>({0, 1, 2, 3}));
}

TEST(MaxPool2d, IndicesAreFlatWithinEachPlane) {
  MaxPool2d pool(MaxPool2dOptions(2));
  Tensor x = testing::spaced_values({2, 3, 4, 6}, 3);
  auto [y, idx] = pool.forward_with_indices(x);
  ASSERT_EQ(idx.dtype(), DType::Int32);
  ASSERT_EQ(idx.shape(), Shape({2, 3, 2, 3}));
  for (int64_t plane = 0; plane < 6; ++plane) {
    for (int64_t o = 0; o < 6; ++o) {
      const int32_t i = idx.data_i32()[plane * 6 + o];
      ASSERT_GE(i, 0);
      ASSERT_LT(i, 24);
      EXPECT_EQ(y.data()[plane * 6 + o], x.data()[plane * 24 + i]);
      const int64_t oh = o / 3, ow = o % 3, h = i / 6, w = i % 6;
      EXPECT_TRUE(h / 2 == oh && w / 2 == ow) << "index " << i << " is outside window " << o;
    }
  }
}

// Kernel 2, dilation 3, padding 2, stride 1 on a 2x2 input: along each axis window 0 taps -2 and 1 (1 is
// inside), window 1 taps -1 and 2 (both outside), window 2 taps 0 and 3 (0 is inside). So the windows in
// row 1 or column 1 (5 of 9) hold no valid element; the other 4 each hold exactly one.
TEST(MaxPool2d, WindowWithNoValidElementGivesMinusInfinityAndIndexMinusOne) {
  MaxPool2d pool(MaxPool2dOptions(2).dilation(3).padding(2).stride(1));
  Tensor x = Tensor::from_vector({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor y = pool.forward(x, Mode::Train);
  ASSERT_EQ(y.shape(), Shape({1, 1, 3, 3}));
  EXPECT_EQ(y.to_vector(), std::vector<float>({4, -kInf, 3, -kInf, -kInf, -kInf, 2, -kInf, 1}));
  EXPECT_EQ(pool.indices().to_vector_i32(), std::vector<int32_t>({3, -1, 2, -1, -1, -1, 1, -1, 0}));
  Tensor dx = pool.backward(Tensor::from_vector({1, 1, 3, 3}, {1, 10, 2, 10, 10, 10, 3, 10, 4}));
  EXPECT_EQ(dx.to_vector(), std::vector<float>({4, 3, 2, 1}));  // the empty windows send nothing
}

TEST(MaxPool2d, AcceptsUnbatchedInput) {
  MaxPool2d pool(MaxPool2dOptions(2));
  Tensor x = testing::uniform_values({3, 4, 4}, 4);
  Tensor y = pool.forward(x, Mode::Train);
  EXPECT_EQ(y.shape(), Shape({3, 2, 2}));
  EXPECT_EQ(pool.backward(Tensor::full({3, 2, 2}, 1.0f)).shape(), Shape({3, 4, 4}));
}

// ---- Average pooling.

// 4x4 ones, kernel 3, stride 2, padding 1, ceil_mode: the last window spans rows 3..5, clipped to
// H + P = 5, so it divides by 2*2 = 4 (sum 1: 0.25), not by 9. The first window divides by 9 (sum 4).
TEST(AvgPool2d, DivisorIsClippedAtInputPlusPaddingWithCeilMode) {
  AvgPool2d pool(AvgPool2dOptions(3).stride(2).padding(1).ceil_mode(true));
  Tensor y = pool.forward(Tensor::full({1, 1, 4, 4}, 1.0f), Mode::Eval);
  ASSERT_EQ(y.shape(), Shape({1, 1, 3, 3}));
  EXPECT_FLOAT_EQ(y.data()[0], 4.0f / 9.0f);
  EXPECT_FLOAT_EQ(y.data()[8], 0.25f);
  EXPECT_FLOAT_EQ(y.data()[2], 2.0f / 6.0f);  // rows -1..1 (3), cols 3..4 (2): sum 2 over 6
}

TEST(AvgPool2d, CountIncludePadFalseDividesByValidElements) {
  AvgPool2d pool(AvgPool2dOptions(2).padding(1).count_include_pad(false));
  Tensor y = pool.forward(one_to_sixteen(), Mode::Eval);
  EXPECT_FLOAT_EQ(y.data()[0], 1.0f);          // only x[0][0] is inside
  EXPECT_FLOAT_EQ(y.data()[1], (2 + 3) / 2.0f);
  AvgPool2d with_pad(AvgPool2dOptions(2).padding(1));
  EXPECT_FLOAT_EQ(with_pad.forward(one_to_sixteen(), Mode::Eval).data()[0], 0.25f);
}

TEST(AvgPool2d, DivisorOverrideReplacesTheDivisor) {
  AvgPool2d pool(AvgPool2dOptions(2).divisor_override(1));
  EXPECT_EQ(pool.forward(one_to_sixteen(), Mode::Eval).to_vector(),
            std::vector<float>({1 + 2 + 5 + 6, 3 + 4 + 7 + 8, 9 + 10 + 13 + 14, 11 + 12 + 15 + 16}));
  EXPECT_EQ(error_of([] { AvgPool2d(AvgPool2dOptions(2).divisor_override(0)); }),
            "AvgPool2d: divisor_override should be non-zero, but got 0");
}

TEST(AvgPool2d, PaddedZerosPullTheAverageDown) {
  AvgPool2d pool(AvgPool2dOptions(2).stride(2).padding(1));
  Tensor y = pool.forward(one_to_sixteen(-1.0f), Mode::Eval);
  EXPECT_FLOAT_EQ(y.data()[0], -0.25f);
}

// ---- Adaptive, global, unpooling.

TEST(AdaptiveAvgPool2d, OutputSizeOneIsGlobalAveragePooling) {
  AdaptiveAvgPool2d gap({1, 1});
  Tensor y = gap.forward(one_to_sixteen(), Mode::Eval);
  EXPECT_EQ(y.shape(), Shape({1, 1, 1, 1}));
  EXPECT_FLOAT_EQ(y.data()[0], 8.5f);
}

TEST(AdaptiveAvgPool2d, WindowsFollowFloorAndCeil) {
  // 5 -> 3: windows [0, 2), [1, 4), [3, 5).
  AdaptiveAvgPool2d pool({1, 3});
  Tensor y = pool.forward(Tensor::from_vector({1, 1, 1, 5}, {1, 2, 3, 4, 5}), Mode::Eval);
  EXPECT_EQ(y.to_vector(), std::vector<float>({1.5f, 3.0f, 4.5f}));
}

TEST(AdaptiveMaxPool2d, GlobalMaxWithIndex) {
  AdaptiveMaxPool2d pool({1, 1});
  Tensor y = pool.forward(one_to_sixteen(), Mode::Train);
  EXPECT_EQ(y.data()[0], 16.0f);
  EXPECT_EQ(pool.indices().data_i32()[0], 15);
}

TEST(MaxUnpool2d, PutsValuesBackAtTheirIndices) {
  MaxPool2d pool(MaxPool2dOptions(2));
  auto [y, idx] = pool.forward_with_indices(one_to_sixteen());
  MaxUnpool2d unpool(MaxUnpool2dOptions(2));
  Tensor r = unpool.forward(y, idx);
  EXPECT_EQ(r.shape(), Shape({1, 1, 4, 4}));
  EXPECT_EQ(r.to_vector(), std::vector<float>({0, 0, 0, 0, 0, 6, 0, 8, 0, 0, 0, 0, 0, 14, 0, 16}));
  Tensor dy = testing::uniform_values({1, 1, 4, 4}, 5);
  Tensor dx = unpool.backward(dy);
  EXPECT_EQ(dx.to_vector(), std::vector<float>({dy.data()[5], dy.data()[7], dy.data()[13], dy.data()[15]}));
  EXPECT_NE(error_of([&] { unpool.forward(y, Tensor::from_vector_i32({1, 1, 2, 2}, {0, 1, 2, 99})); }), "(no error)");
}

// ---- Errors: one sentence that says what to change.

TEST(MaxPool2d, RejectsWrongRank) {
  MaxPool2d pool(MaxPool2dOptions(2));
  EXPECT_EQ(error_of([&] { pool.forward(Tensor::zeros({7, 7}), Mode::Eval); }),
            "MaxPool2d: expected 3D (C, H, W) or 4D (N, C, H, W) input, but got shape [7, 7]");
}

TEST(MaxPool2d, RejectsInputSmallerThanKernel) {
  MaxPool2d pool(MaxPool2dOptions(3));
  EXPECT_EQ(error_of([&] { pool.forward(Tensor::zeros({1, 3, 2, 2}), Mode::Eval); }),
            "MaxPool2d: output size is too small: input [1, 3, 2, 2] with kernel_size=(3, 3), stride=(3, 3), "
            "padding=(0, 0), dilation=(1, 1) gives 0x0; the input must be at least 3x3 (use a smaller kernel_size, "
            "add padding, or pool fewer times)");
}

TEST(MaxPool2d, RejectsNonPositiveKernelStrideOrDilation) {
  EXPECT_EQ(error_of([] { MaxPool2d(MaxPool2dOptions(IntPair(0, 2))); }),
            "MaxPool2d: kernel_size should be greater than zero, but got kernel_size=(0, 2)");
  EXPECT_EQ(error_of([] { MaxPool2d(MaxPool2dOptions(2).stride(0)); }),
            "MaxPool2d: stride should be greater than zero, but got stride=(0, 0)");
  EXPECT_EQ(error_of([] { MaxPool2d(MaxPool2dOptions(2).dilation(IntPair(1, -1))); }),
            "MaxPool2d: dilation should be greater than zero, but got dilation=(1, -1)");
  EXPECT_EQ(error_of([] { MaxPool2d(MaxPool2dOptions(2).padding(-1)); }),
            "MaxPool2d: padding should be non-negative, but got padding=(-1, -1)");
}

TEST(MaxPool2d, RejectsAPlaneTooLargeForInt32Indices) {
  EXPECT_EQ(error_of([] { pool2d_geometry("MaxPool2d", Shape{1, 1, 50000, 50000}, Pool2dArgs{IntPair(2), {}, IntPair(0), IntPair(1), false}); }),
            "MaxPool2d: an input plane of 50000x50000 = 2500000000 elements is too large for int32 indices (at most "
            "2147483647)");
}

TEST(MaxPool2d, RejectsAGradientOfTheWrongShape) {
  MaxPool2d pool(MaxPool2dOptions(2));
  pool.forward(one_to_sixteen(), Mode::Train);
  EXPECT_EQ(error_of([&] { pool.backward(Tensor::zeros({1, 1, 3, 3})); }),
            "MaxPool2d: expected a gradient of shape [1, 1, 2, 2], but got [1, 1, 3, 3]");
}

TEST(MaxUnpool2d, RejectsAGradientOfTheWrongShape) {
  MaxPool2d pool(MaxPool2dOptions(2));
  auto [y, idx] = pool.forward_with_indices(one_to_sixteen());
  MaxUnpool2d unpool(MaxUnpool2dOptions(2));
  unpool.forward(y, idx);
  EXPECT_EQ(error_of([&] { unpool.backward(Tensor::zeros({1, 1, 2, 2})); }),
            "MaxUnpool2d: expected a gradient of shape [1, 1, 4, 4], but got [1, 1, 2, 2]");
}

TEST(AvgPool2d, RejectsPaddingLargerThanHalfTheKernel) {
  EXPECT_EQ(error_of([] { AvgPool2d(AvgPool2dOptions(2).padding(2)); }),
            "AvgPool2d: padding should be at most half of effective kernel size, but got padding=(2, 2), "
            "kernel_size=(2, 2), dilation=(1, 1)");
}

TEST(MaxPool2d, CudnnImplementationNeedsACudaTensor) {
  MaxPool2d pool(MaxPool2dOptions(2).impl(PoolImpl::Cudnn));
  EXPECT_EQ(error_of([&] { pool.forward(one_to_sixteen(), Mode::Eval); }),
            "MaxPool2d: impl=cudnn runs on CUDA tensors only, but got a tensor on cpu; use impl=native on the CPU");
}

// ---- The index arithmetic the CUDA kernels share, checked against brute force on the host.

TEST(Pool2dWindow, ValidTapsMatchBruteForce) {
  for (int64_t size = 1; size <= 7; ++size) {
    for (int64_t K = 1; K <= 4; ++K) {
      for (int64_t D = 1; D <= 3; ++D) {
        for (int64_t start = -4; start <= size + 1; ++start) {
          const TapRange r = valid_taps(start, D, K, size);
          int64_t k0 = -1, k1 = -1;
          for (int64_t k = 0; k < K; ++k) {
            const int64_t i = start + k * D;
            if (i >= 0 && i < size) {
              if (k0 < 0) k0 = k;
              k1 = k + 1;
            }
          }
          if (k0 < 0) {
            EXPECT_GE(r.k0, r.k1) << size << " " << K << " " << D << " " << start;
          } else {
            EXPECT_EQ(r.k0, k0);
            EXPECT_EQ(r.k1, k1);
          }
        }
      }
    }
  }
}

TEST(Pool2dWindow, CoveringOutputsMatchBruteForce) {
  for (int64_t in = 1; in <= 9; ++in) {
    for (int64_t K = 1; K <= 4; ++K) {
      for (int64_t S = 1; S <= 3; ++S) {
        for (int64_t D = 1; D <= 2; ++D) {
          for (int64_t P = 0; P <= (D * (K - 1) + 1) / 2; ++P) {
            const int64_t out = window_output_size(in, K, S, P, D, true);
            if (out < 1) continue;
            for (int64_t i = 0; i < in; ++i) {
              const TapRange r = covering_outputs(i, K, S, P, D, out);
              for (int64_t o = 0; o < out; ++o) {
                const int64_t lo = o * S - P, hi = lo + (K - 1) * D;
                const bool covers = lo <= i && i <= hi;
                const bool in_range = o >= r.k0 && o < r.k1;
                EXPECT_EQ(covers, in_range) << "in=" << in << " K=" << K << " S=" << S << " P=" << P << " D=" << D
                                            << " i=" << i << " o=" << o;
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace minicnn

namespace minicnn {
namespace {

// ---- The vectorised interior paths against a direct transcription of the rules, on inputs wide enough
// to cross vector boundaries, with ties (many zeros), NaNs and -inf.

struct BruteMax {
  std::vector<float> y;
  std::vector<int32_t> idx;
};

BruteMax brute_max(const Tensor& x, const Pool2dGeometry& g) {
  BruteMax r;
  for (int64_t p = 0; p < g.planes(); ++p) {
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        float best = -kInf;
        int32_t bi = -1;
        for (int64_t kh = 0; kh < g.KH; ++kh) {
          for (int64_t kw = 0; kw < g.KW; ++kw) {
            const int64_t h = oh * g.SH - g.PH + kh * g.DH, w = ow * g.SW - g.PW + kw * g.DW;
            if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
            const float v = x.data()[p * g.H * g.W + h * g.W + w];
            if (bi < 0) bi = static_cast<int32_t>(h * g.W + w);
            if (v > best || std::isnan(v)) {
              best = v;
              bi = static_cast<int32_t>(h * g.W + w);
            }
          }
        }
        r.y.push_back(best);
        r.idx.push_back(bi);
      }
    }
  }
  return r;
}

Tensor awkward_values(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  Tensor x = Tensor::empty(shape);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const uint64_t r = gen.below(100);
    x.data()[i] = r < 40 ? 0.0f : r < 43 ? kNaN : r < 46 ? -kInf : r < 50 ? 1.0f : gen.uniform(-3, 3);
  }
  return x;
}

// The CPU max forward of x, with and without indices, against brute_max.
::testing::AssertionResult forward_matches_rules(const Tensor& x, const Pool2dGeometry& g) {
  const BruteMax want = brute_max(x, g);
  std::vector<float> y(want.y.size()), y_only(want.y.size());
  std::vector<int32_t> idx(want.y.size());
  cpu::max_pool2d_forward(x.data(), y.data(), idx.data(), g);
  cpu::max_pool2d_forward(x.data(), y_only.data(), nullptr, g);
  auto same = [](float a, float b) { return a == b || (std::isnan(a) && std::isnan(b)); };
  for (size_t i = 0; i < y.size(); ++i) {
    if (!same(y[i], want.y[i]) || idx[i] != want.idx[i]) {
      return ::testing::AssertionFailure() << "output " << i << " is " << y[i] << " at " << idx[i]
                                           << ", expected " << want.y[i] << " at " << want.idx[i];
    }
    if (!same(y_only[i], y[i])) {
      return ::testing::AssertionFailure()
             << "output " << i << " without indices is " << y_only[i] << ", expected " << y[i];
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(MaxPool2d, FastPathsMatchTheRulesOnWideAwkwardInputs) {
  int64_t cases = 0;
  for (int64_t K : {1, 2, 3, 4}) {
    for (int64_t S : {1, 2, 3}) {
      for (int64_t P = 0; P <= K / 2; ++P) {
        for (bool ceil : {false, true}) {
          for (int64_t W : {5, 17, 38, 67}) {
            const Shape shape{2, 3, 9, W};
            Pool2dArgs a{IntPair(K), IntPair(S), IntPair(P), IntPair(1), ceil};
            const Pool2dGeometry g = pool2d_geometry("MaxPool2d", shape, a);
            const Tensor x = awkward_values(shape, static_cast<uint64_t>(K * 1000 + S * 100 + P * 10 + W));
            ++cases;
            ASSERT_TRUE(forward_matches_rules(x, g))
                << "K=" << K << " S=" << S << " P=" << P << " ceil=" << ceil << " W=" << W;
          }
        }
      }
    }
  }
  EXPECT_GT(cases, 100);
}

// 3x3 windows with stride 2 run without the NaN rule first and again with it when a tap read was NaN: both
// runs against the rules, on inputs without NaN (ties, -inf) and with one NaN at every position of the
// first and last two columns and the first and last rows (the columns a strip's NaN check reads on their
// own), across widths around the 32 input columns of a strip.
TEST(MaxPool2d, ThreeByThreeStrideTwoMatchesTheRulesWithAndWithoutNaN) {
  int64_t cases = 0;
  for (int64_t P : {0, 1}) {
    for (bool ceil : {false, true}) {
      for (int64_t H : {3, 8, 9}) {
        for (int64_t W : {3, 16, 31, 32, 33, 34, 35, 36, 64, 65, 66, 67, 98}) {
          const Shape shape{1, 3, H, W};
          Pool2dArgs a{IntPair(3), IntPair(2), IntPair(P), IntPair(1), ceil};
          const Pool2dGeometry g = pool2d_geometry("MaxPool2d", shape, a);
          Tensor x = awkward_values(shape, static_cast<uint64_t>(P * 100000 + ceil * 10000 + H * 1000 + W));
          for (int64_t i = 0; i < x.numel(); ++i) {
            if (std::isnan(x.data()[i])) x.data()[i] = 0.5f;
          }
          std::vector<std::pair<int64_t, int64_t>> nan_at{{-1, -1}};  // none first
          for (int64_t h = 0; h < H; ++h) {
            for (int64_t w : {int64_t{0}, int64_t{1}, W - 2, W - 1}) nan_at.emplace_back(h, w);
          }
          for (int64_t w = 0; w < W; ++w) {
            nan_at.emplace_back(0, w);
            nan_at.emplace_back(H - 1, w);
          }
          for (const auto& [h, w] : nan_at) {
            Tensor xn = x.clone();
            if (h >= 0) xn.data()[H * W + h * W + w] = kNaN;  // in the middle plane
            ++cases;
            ASSERT_TRUE(forward_matches_rules(xn, g)) << "P=" << P << " ceil=" << ceil << " " << H << "x" << W
                                                      << " NaN at (" << h << ", " << w << ")";
          }
        }
      }
    }
  }
  EXPECT_GT(cases, 5000);
}

TEST(AvgPool2d, FastPathsMatchTheDefinitionOnWideInputs) {
  for (int64_t K : {1, 2, 3, 5}) {
    for (int64_t S : {1, 2, 3}) {
      for (int64_t P = 0; P <= K / 2; ++P) {
        for (bool include : {true, false}) {
          for (bool ceil : {false, true}) {
            const Shape shape{1, 2, 7, 37};
            Pool2dArgs a{IntPair(K), IntPair(S), IntPair(P), IntPair(1), ceil};
            const Pool2dGeometry g = pool2d_geometry("AvgPool2d", shape, a);
            const Tensor x = testing::uniform_values(shape, static_cast<uint64_t>(K * 100 + S * 10 + P));
            const AvgDivisor d{include, 0};
            std::vector<float> y(static_cast<size_t>(g.planes() * g.OH * g.OW));
            cpu::avg_pool2d_forward(x.data(), y.data(), g, d);
            size_t o = 0;
            for (int64_t p = 0; p < g.planes(); ++p) {
              for (int64_t oh = 0; oh < g.OH; ++oh) {
                for (int64_t ow = 0; ow < g.OW; ++ow, ++o) {
                  float sum = 0.0f;
                  for (int64_t h = std::max<int64_t>(oh * S - P, 0); h < std::min<int64_t>(oh * S - P + K, g.H); ++h) {
                    for (int64_t w = std::max<int64_t>(ow * S - P, 0); w < std::min<int64_t>(ow * S - P + K, g.W); ++w) {
                      sum += x.data()[p * g.H * g.W + h * g.W + w];
                    }
                  }
                  const float want = sum / static_cast<float>(avg_pool_divisor(g, d, oh, ow));
                  ASSERT_EQ(y[o], want) << "K=" << K << " S=" << S << " P=" << P << " include=" << include
                                        << " ceil=" << ceil << " output " << o;
                }
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace minicnn

namespace minicnn {
namespace {

// The gather backwards against torch's scatter, transcribed: for each output in order, add its gradient
// to the pixel(s) it came from. Bit-identical sums are required (the same additions in the same order).
TEST(Pool2dBackward, GatherPathsMatchTheScatterBitForBit) {
  for (int64_t K : {1, 2, 3, 4}) {
    for (int64_t S : {1, 2, 3}) {
      for (int64_t P = 0; P <= K / 2; ++P) {
        for (bool ceil : {false, true}) {
          for (int64_t W : {6, 21, 40}) {
            const Shape shape{2, 2, 7, W};
            const Pool2dArgs a{IntPair(K), IntPair(S), IntPair(P), IntPair(1), ceil};
            const Pool2dGeometry g = pool2d_geometry("MaxPool2d", shape, a);
            const Tensor x = awkward_values(shape, static_cast<uint64_t>(K * 777 + S * 77 + P * 7 + W));
            const int64_t outs = g.planes() * g.OH * g.OW;
            std::vector<float> y(static_cast<size_t>(outs));
            std::vector<int32_t> idx(static_cast<size_t>(outs));
            cpu::max_pool2d_forward(x.data(), y.data(), idx.data(), g);
            const Tensor dy = testing::uniform_values({outs}, static_cast<uint64_t>(W + K));
            std::vector<float> dx(static_cast<size_t>(x.numel())), want(dx.size(), 0.0f);
            cpu::max_pool2d_backward(dy.data(), idx.data(), dx.data(), g);
            for (int64_t p = 0; p < g.planes(); ++p) {
              for (int64_t o = 0; o < g.OH * g.OW; ++o) {
                const int32_t i = idx[static_cast<size_t>(p * g.OH * g.OW + o)];
                if (i >= 0) want[static_cast<size_t>(p * g.H * g.W + i)] += dy.data()[p * g.OH * g.OW + o];
              }
            }
            for (size_t i = 0; i < dx.size(); ++i) {
              ASSERT_EQ(dx[i], want[i]) << "max K=" << K << " S=" << S << " P=" << P << " ceil=" << ceil << " W=" << W
                                        << " input " << i;
            }
            for (bool include : {true, false}) {
              const AvgDivisor d{include, 0};
              const Pool2dGeometry ga = pool2d_geometry("AvgPool2d", shape, a);
              std::vector<float> adx(dx.size()), awant(dx.size(), 0.0f);
              cpu::avg_pool2d_backward(dy.data(), adx.data(), ga, d);
              for (int64_t p = 0; p < ga.planes(); ++p) {
                for (int64_t oh = 0; oh < ga.OH; ++oh) {
                  for (int64_t ow = 0; ow < ga.OW; ++ow) {
                    const int64_t h0 = std::max<int64_t>(oh * S - P, 0), h1 = std::min<int64_t>(oh * S - P + K, ga.H);
                    const int64_t w0 = std::max<int64_t>(ow * S - P, 0), w1 = std::min<int64_t>(ow * S - P + K, ga.W);
                    if (h0 >= h1 || w0 >= w1) continue;
                    const float grad = dy.data()[(p * ga.OH + oh) * ga.OW + ow] /
                                       static_cast<float>(avg_pool_divisor(ga, d, oh, ow));
                    for (int64_t h = h0; h < h1; ++h) {
                      for (int64_t w = w0; w < w1; ++w) awant[static_cast<size_t>(p * ga.H * ga.W + h * ga.W + w)] += grad;
                    }
                  }
                }
              }
              for (size_t i = 0; i < adx.size(); ++i) {
                ASSERT_EQ(adx[i], awant[i]) << "avg K=" << K << " S=" << S << " P=" << P << " ceil=" << ceil
                                            << " include=" << include << " W=" << W << " input " << i;
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace minicnn
