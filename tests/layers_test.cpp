// Forward behaviour of the layers against direct definitions: convolution by nested loops, Linear,
// ReLU's NaN handling, Dropout's scaling and masks, Flatten's shapes, default initialisation bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "check.h"
#include "conv2d.h"
#include "dropout.h"
#include "flatten.h"
#include "gradcheck.h"
#include "linear.h"
#include "relu.h"

namespace minicnn {
namespace {

float naive_conv(const Tensor& x, const Tensor& w, const Tensor& b, int64_t n, int64_t oc, int64_t oh, int64_t ow,
                 const Conv2dOptions& o) {
  const int64_t C = x.size(1), H = x.size(2), W = x.size(3);
  double s = b.defined() ? b.data()[oc] : 0.0;
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t kh = 0; kh < o.kernel_size_.h; ++kh) {
      for (int64_t kw = 0; kw < o.kernel_size_.w; ++kw) {
        const int64_t h = oh * o.stride_.h - o.padding_.h + kh * o.dilation_.h;
        const int64_t ww = ow * o.stride_.w - o.padding_.w + kw * o.dilation_.w;
        if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
        s += double(x.data()[((n * C + c) * H + h) * W + ww]) *
             w.data()[((oc * C + c) * o.kernel_size_.h + kh) * o.kernel_size_.w + kw];
      }
    }
  }
  return static_cast<float>(s);
}

TEST(Conv2d, ForwardMatchesTheDefinition) {
  for (const Conv2dOptions& o : {Conv2dOptions(3, 4, 3), Conv2dOptions(3, 4, 3).stride(2).padding(1),
                                 Conv2dOptions(3, 2, IntPair(2, 3)).padding(IntPair(1, 0)).dilation(2),
                                 Conv2dOptions(3, 5, 1)}) {
    Conv2d conv(o);
    Generator gen(1);
    conv.reset_parameters(gen);
    Tensor x = testing::uniform_values({2, 3, 9, 8}, 2);
    Tensor y = conv.forward(x, Mode::Eval);
    ASSERT_EQ(y.dim(), 4);
    for (int64_t n = 0; n < 2; ++n) {
      for (int64_t oc = 0; oc < y.size(1); ++oc) {
        for (int64_t oh = 0; oh < y.size(2); ++oh) {
          for (int64_t ow = 0; ow < y.size(3); ++ow) {
            const float got = y.data()[((n * y.size(1) + oc) * y.size(2) + oh) * y.size(3) + ow];
            EXPECT_NEAR(got, naive_conv(x, conv.weight().value, conv.bias().value, n, oc, oh, ow, o), 1e-5)
                << conv.repr();
          }
        }
      }
    }
  }
}

// Forward and backward against the definition on shapes that take every path of the CPU kernel: rows of
// more than 16 columns, several column-matrix chunks per image (64 channels of 40 columns), row stride 2
// with column stride 1, dilation, column stride 2. dx and dW are the sums of dy * w and dy * x over every
// (output, tap) pair that reads a real pixel, accumulated in double.
TEST(Conv2d, BackwardMatchesTheDefinitionOnEveryKernelPath) {
  struct Case {
    Conv2dOptions o;
    Shape in;
  };
  for (const Case& c : {Case{Conv2dOptions(64, 3, 3).padding(1), {2, 64, 12, 40}},
                        Case{Conv2dOptions(3, 4, 3).stride(IntPair(2, 1)).padding(1), {2, 3, 9, 21}},
                        Case{Conv2dOptions(2, 3, IntPair(3, 2)).padding(IntPair(2, 1)).dilation(2), {1, 2, 8, 19}},
                        Case{Conv2dOptions(2, 3, 3).stride(2), {1, 2, 9, 35}}}) {
    const Conv2dOptions& o = c.o;
    Conv2d conv(o);
    Generator gen(5);
    conv.reset_parameters(gen);
    Tensor x = testing::uniform_values(c.in, 4);
    Tensor y = conv.forward(x, Mode::Train);
    const int64_t N = c.in[0], C = c.in[1], H = c.in[2], W = c.in[3];
    const int64_t OC = y.size(1), OH = y.size(2), OW = y.size(3), KH = o.kernel_size_.h, KW = o.kernel_size_.w;
    Tensor dy = testing::uniform_values(y.shape(), 6);
    conv.weight().grad.zero_();
    Tensor dx = conv.backward(dy);
    std::vector<double> want_dx(static_cast<size_t>(x.numel())), want_dw(static_cast<size_t>(conv.weight().value.numel()));
    const float* w = conv.weight().value.data();
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t oc = 0; oc < OC; ++oc) {
        for (int64_t oh = 0; oh < OH; ++oh) {
          for (int64_t ow = 0; ow < OW; ++ow) {
            const size_t yi = static_cast<size_t>(((n * OC + oc) * OH + oh) * OW + ow);
            ASSERT_NEAR(y.data()[yi], naive_conv(x, conv.weight().value, conv.bias().value, n, oc, oh, ow, o), 1e-4);
            for (int64_t ch = 0; ch < C; ++ch) {
              for (int64_t kh = 0; kh < KH; ++kh) {
                for (int64_t kw = 0; kw < KW; ++kw) {
                  const int64_t h = oh * o.stride_.h - o.padding_.h + kh * o.dilation_.h;
                  const int64_t ww = ow * o.stride_.w - o.padding_.w + kw * o.dilation_.w;
                  if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                  const size_t xi = static_cast<size_t>(((n * C + ch) * H + h) * W + ww);
                  const size_t wi = static_cast<size_t>(((oc * C + ch) * KH + kh) * KW + kw);
                  want_dx[xi] += double(dy.data()[yi]) * w[wi];
                  want_dw[wi] += double(dy.data()[yi]) * x.data()[xi];
                }
              }
            }
          }
        }
      }
    }
    for (size_t i = 0; i < want_dx.size(); ++i) ASSERT_NEAR(dx.data()[i], want_dx[i], 1e-4) << conv.repr() << " dx " << i;
    for (size_t i = 0; i < want_dw.size(); ++i) {
      ASSERT_NEAR(conv.weight().grad.data()[i], want_dw[i], 1e-3) << conv.repr() << " dw " << i;
    }
  }
}

TEST(Conv2d, DefaultInitialisationFollowsTorch) {
  Conv2d conv(Conv2dOptions(8, 16, 3));
  Generator gen(3);
  conv.reset_parameters(gen);
  const float bound = 1.0f / std::sqrt(8.0f * 9.0f);
  float lo = 1, hi = -1;
  for (float v : conv.weight().value.to_vector()) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  EXPECT_GE(lo, -bound);
  EXPECT_LE(hi, bound);
  EXPECT_LT(lo, -0.9f * bound);  // the range is used, not a constant
  EXPECT_GT(hi, 0.9f * bound);
}

TEST(Conv2d, RejectsTheWrongNumberOfChannels) {
  Conv2d conv(Conv2dOptions(3, 4, 3));
  try {
    conv.forward(Tensor::zeros({1, 1, 8, 8}), Mode::Eval);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "Conv2d: expected input with 3 channels (in_channels), but got 1 channels in shape [1, 1, 8, 8]");
  }
}

TEST(Linear, ForwardIsXTimesWeightTransposedPlusBias) {
  Linear fc(LinearOptions(3, 2));
  fc.weight().value = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  fc.bias().value = Tensor::from_vector({2}, {0.5f, -1});
  Tensor y = fc.forward(Tensor::from_vector({1, 3}, {1, 0, -1}), Mode::Eval);
  EXPECT_EQ(y.to_vector(), std::vector<float>({1 - 3 + 0.5f, 4 - 6 - 1}));
}

TEST(ReLU, PropagatesNaNAndZeroesNegatives) {
  ReLU relu;
  Tensor y = relu.forward(Tensor::from_vector({4}, {-1, 0, 2, NAN}), Mode::Eval);
  EXPECT_EQ(y.data()[0], 0.0f);
  EXPECT_EQ(y.data()[1], 0.0f);
  EXPECT_EQ(y.data()[2], 2.0f);
  EXPECT_TRUE(std::isnan(y.data()[3]));
}

TEST(Dropout, ScalesKeptValuesAndDropsAboutP) {
  Dropout drop(0.25f);
  Generator gen(1);
  drop.reset_parameters(gen);
  Tensor x = Tensor::full({100000}, 1.0f);
  Tensor y = drop.forward(x, Mode::Train);
  int64_t zeros = 0;
  for (float v : y.to_vector()) {
    if (v == 0.0f) ++zeros;
    else EXPECT_FLOAT_EQ(v, 1.0f / 0.75f);
  }
  EXPECT_NEAR(double(zeros) / 100000, 0.25, 0.01);
  Tensor dx = drop.backward(Tensor::full({100000}, 2.0f));
  for (int64_t i = 0; i < 100000; ++i) EXPECT_EQ(dx.data()[i], y.data()[i] * 2.0f);
  EXPECT_EQ(drop.forward(x, Mode::Eval).to_vector(), x.to_vector());
}

TEST(Dropout, ReseedingRepeatsTheMask) {
  Dropout drop(0.5f);
  Tensor x = Tensor::full({64}, 1.0f);
  drop.reseed(42);
  const auto a = drop.forward(x, Mode::Train).to_vector();
  const auto b = drop.forward(x, Mode::Train).to_vector();
  drop.reseed(42);
  const auto c = drop.forward(x, Mode::Train).to_vector();
  EXPECT_EQ(a, c);
  EXPECT_NE(a, b);
}

TEST(Flatten, MergesTheGivenDimensions) {
  EXPECT_EQ(Flatten().output_shape({2, 3, 4, 5}), Shape({2, 60}));
  EXPECT_EQ(Flatten(0, -1).output_shape({2, 3, 4, 5}), Shape({120}));
  EXPECT_EQ(Flatten(2, 3).output_shape({2, 3, 4, 5}), Shape({2, 3, 20}));
  EXPECT_THROW(Flatten(3, 1).output_shape({2, 3, 4, 5}), Error);
}

}  // namespace
}  // namespace minicnn
