// Forward behaviour of the layers against direct definitions: convolution by nested loops, Linear,
// ReLU's NaN handling, Dropout's scaling and masks, Flatten's shapes, default initialisation bounds.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include <minicnn/batchnorm2d.h>
#include <minicnn/check.h>
#include <minicnn/conv2d.h>
#include <minicnn/dropout.h>
#include <minicnn/flatten.h>
#include <minicnn/gelu.h>
#include <minicnn/gemm.h>
#include <minicnn/linear.h>
#include <minicnn/pool2d.h>
#include <minicnn/relu.h>
#include "gradcheck.h"
#include "test_util.h"

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

// Adds the definition's gradients of output (n, oc, oh, ow) whose gradient is d: d * w into want_dx and
// d * x into want_dw, over every tap that reads a real pixel (sums in double).
void add_definition_gradients(const Tensor& x, const Tensor& w, int64_t n, int64_t oc, int64_t oh, int64_t ow,
                              const Conv2dOptions& o, double d, std::vector<double>& want_dx,
                              std::vector<double>& want_dw) {
  const int64_t C = x.size(1), H = x.size(2), W = x.size(3), KH = o.kernel_size_.h, KW = o.kernel_size_.w;
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t kh = 0; kh < KH; ++kh) {
      for (int64_t kw = 0; kw < KW; ++kw) {
        const int64_t h = oh * o.stride_.h - o.padding_.h + kh * o.dilation_.h;
        const int64_t ww = ow * o.stride_.w - o.padding_.w + kw * o.dilation_.w;
        if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
        const size_t xi = static_cast<size_t>(((n * C + c) * H + h) * W + ww);
        const size_t wi = static_cast<size_t>(((oc * C + c) * KH + kh) * KW + kw);
        want_dx[xi] += d * w.data()[wi];
        want_dw[wi] += d * x.data()[xi];
      }
    }
  }
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
// with column stride 1, dilation, column stride 2, rows of at most 16 columns without column padding (with
// and without padding rows), and a 1x1 output whose column matrix is smaller than one vector (im2col's
// whole-vector stores must stay in its slack; the sanitizer build checks). dx and dW are the sums of dy * w
// and dy * x over every (output, tap) pair that reads a real pixel, accumulated in double.
TEST(Conv2d, BackwardMatchesTheDefinitionOnEveryKernelPath) {
  struct Case {
    Conv2dOptions o;
    Shape in;
  };
  for (const Case& c : {Case{Conv2dOptions(64, 3, 3).padding(1), {2, 64, 12, 40}},
                        Case{Conv2dOptions(3, 4, 3).stride(IntPair(2, 1)).padding(1), {2, 3, 9, 21}},
                        Case{Conv2dOptions(2, 3, IntPair(3, 2)).padding(IntPair(2, 1)).dilation(2), {1, 2, 8, 19}},
                        Case{Conv2dOptions(2, 3, 3).stride(2), {1, 2, 9, 35}},
                        Case{Conv2dOptions(6, 16, 5), {2, 6, 14, 14}},
                        Case{Conv2dOptions(3, 4, 3).padding(IntPair(2, 0)), {2, 3, 9, 12}},
                        Case{Conv2dOptions(1, 1, 2), {1, 1, 2, 2}}}) {
    const Conv2dOptions& o = c.o;
    Conv2d conv(o);
    Generator gen(5);
    conv.reset_parameters(gen);
    Tensor x = testing::uniform_values(c.in, 4);
    Tensor y = conv.forward(x, Mode::Train);
    const int64_t N = c.in[0], OC = y.size(1), OH = y.size(2), OW = y.size(3);
    Tensor dy = testing::uniform_values(y.shape(), 6);
    conv.weight().grad.zero_();
    Tensor dx = conv.backward(dy);
    const Tensor& w = conv.weight().value;
    std::vector<double> want_dx(static_cast<size_t>(x.numel())), want_dw(static_cast<size_t>(w.numel()));
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t oc = 0; oc < OC; ++oc) {
        for (int64_t oh = 0; oh < OH; ++oh) {
          for (int64_t ow = 0; ow < OW; ++ow) {
            const size_t yi = static_cast<size_t>(((n * OC + oc) * OH + oh) * OW + ow);
            ASSERT_NEAR(y.data()[yi], naive_conv(x, w, conv.bias().value, n, oc, oh, ow, o), 1e-4);
            add_definition_gradients(x, w, n, oc, oh, ow, o, dy.data()[yi], want_dx, want_dw);
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

// Both CPU algorithms against the definition (sums in double), forward and backward, with and without
// the fused ReLU and the bias, on shapes that take every path of the Winograd transforms: odd output
// sizes (a tile half outside), no padding and padding 2, a tile row of exactly 16 tiles (the adjoint's
// extra block), rows of more than 16 tiles, a 1x1 image, several images per thread, an empty batch (which
// leaves dW and db as they were), padding wider than half the kernel and different per axis.
TEST(Conv2d, EveryCpuAlgorithmMatchesTheDefinition) {
  int onednn_cases = 0;  // oneDNN's F(4x4, 3x3) where the build and CPU have it
  struct Case {
    int64_t N, C, OC, H, W, PH, PW;
  };
  for (const Case& k :
       {Case{3, 16, 16, 14, 14, 1, 1}, Case{2, 16, 17, 7, 9, 0, 0}, Case{2, 17, 16, 5, 33, 2, 2},
        Case{1, 16, 16, 6, 32, 1, 1}, Case{5, 16, 16, 1, 1, 1, 1}, Case{0, 16, 16, 4, 4, 1, 1},
        Case{2, 8, 8, 5, 6, 3, 0}}) {
    const int64_t OH = k.H + 2 * k.PH - 2, OW = k.W + 2 * k.PW - 2;
    const Conv2dGeometry g{k.N, k.C, k.H, k.W, k.OC, OH, OW, 3, 3, 1, 1, k.PH, k.PW, 1, 1};
    ASSERT_TRUE(cpu::conv2d_winograd_applies(g));
    const Tensor x = testing::uniform_values({g.N, g.C, g.H, g.W}, 11);
    const Tensor w = testing::uniform_values({g.OC, g.C, 3, 3}, 12);
    const Tensor b = testing::uniform_values({g.OC}, 13);
    const Tensor dy = testing::uniform_values({g.N, g.OC, g.OH, g.OW}, 14);
    for (const bool relu : {false, true}) {
      for (const bool with_bias : {false, true}) {
        // The definition: y, then the gradients of sum(dy * y) through the ReLU's mask.
        const Conv2dOptions o = Conv2dOptions(g.C, g.OC, 3).padding(IntPair(g.PH, g.PW));
        std::vector<double> want_y(static_cast<size_t>(g.N * g.OC * g.OH * g.OW));
        std::vector<double> want_dx(static_cast<size_t>(x.numel())), want_dw(static_cast<size_t>(w.numel())),
            want_db(static_cast<size_t>(g.OC));
        for (int64_t n = 0; n < g.N; ++n) {
          for (int64_t oc = 0; oc < g.OC; ++oc) {
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              for (int64_t ow = 0; ow < g.OW; ++ow) {
                const float s = naive_conv(x, w, with_bias ? b : Tensor(), n, oc, oh, ow, o);
                const size_t yi = static_cast<size_t>(((n * g.OC + oc) * g.OH + oh) * g.OW + ow);
                want_y[yi] = relu && s < 0 ? 0.0f : s;
                const double d = relu && s <= 0 ? 0.0 : dy.data()[yi];
                want_db[static_cast<size_t>(oc)] += d;
                add_definition_gradients(x, w, n, oc, oh, ow, o, d, want_dx, want_dw);
              }
            }
          }
        }
        std::vector<cpu::ConvAlgorithm> algorithms{cpu::ConvAlgorithm::Im2col, cpu::ConvAlgorithm::Winograd};
        if (cpu::conv2d_onednn_applies(g)) {
          algorithms.push_back(cpu::ConvAlgorithm::OnednnWinograd);
          ++onednn_cases;
        }
        for (const cpu::ConvAlgorithm algorithm : algorithms) {
          const char* names[] = {"Auto", "im2col", "Winograd", "oneDNN Winograd"};
          const std::string what = fmt::format(
              "{} N={} C={} OC={} H={} W={} padding=({}, {}) relu={} bias={}",
              names[static_cast<int>(algorithm)], g.N, g.C, g.OC, g.H, g.W, g.PH, g.PW, relu, with_bias);
          Tensor y = Tensor::empty({g.N, g.OC, g.OH, g.OW});
          cpu::conv2d_forward(x.data(), w.data(), with_bias ? b.data() : nullptr, y.data(), g, relu,
                              algorithm);
          for (size_t i = 0; i < want_y.size(); ++i)
            ASSERT_NEAR(y.data()[i], want_y[i], 1e-4) << what << " y " << i;
          Tensor dx = Tensor::empty(x.shape()), dw = Tensor::full(w.shape(), 0.5f),
                 db = Tensor::full({g.OC}, 0.5f);
          cpu::conv2d_backward(x.data(), w.data(), dy.data(), relu ? y.data() : nullptr, dx.data(), dw.data(),
                               with_bias ? db.data() : nullptr, g, algorithm);
          for (size_t i = 0; i < want_dx.size(); ++i)
            ASSERT_NEAR(dx.data()[i], want_dx[i], 1e-4) << what << " dx " << i;
          for (size_t i = 0; i < want_dw.size(); ++i) {
            ASSERT_NEAR(dw.data()[i], 0.5 + want_dw[i], 1e-3)
                << what << " dw " << i;  // added to what was there
          }
          for (size_t i = 0; i < want_db.size(); ++i) {
            ASSERT_NEAR(db.data()[i], with_bias ? 0.5 + want_db[i] : 0.5, 1e-3) << what << " db " << i;
          }
        }
      }
    }
  }
  if (std::string(cpu::gemm_backend()) == "oneDNN" && __builtin_cpu_supports("avx512f")) {
    EXPECT_GT(onednn_cases, 0);
  }
}

TEST(Conv2d, WinogradTakesSmallThreeByThreeStrideOneLayersWithEnoughChannels) {
  auto geometry = [](int64_t C, int64_t OC, int64_t K, int64_t S, int64_t D) {
    return Conv2dGeometry{2, C, 14, 14, OC, 12, 12, K, K, S, S, 1, 1, D, D};
  };
  EXPECT_TRUE(cpu::conv2d_winograd_applies(geometry(32, 64, 3, 1, 1)));   // mnist-cnn's second convolution
  EXPECT_FALSE(cpu::conv2d_winograd_applies(geometry(1, 32, 3, 1, 1)));   // its first: one input channel
  EXPECT_TRUE(cpu::conv2d_winograd_applies(geometry(8, 8, 3, 1, 1)));
  EXPECT_FALSE(cpu::conv2d_winograd_applies(geometry(4, 64, 3, 1, 1)));   // too few input channels
  EXPECT_FALSE(cpu::conv2d_winograd_applies(geometry(64, 4, 3, 1, 1)));   // too few output channels
  EXPECT_FALSE(cpu::conv2d_winograd_applies(geometry(32, 64, 3, 2, 1)));  // stride 2
  EXPECT_FALSE(cpu::conv2d_winograd_applies(geometry(32, 64, 3, 1, 2)));  // dilation 2
  EXPECT_FALSE(cpu::conv2d_winograd_applies(geometry(32, 64, 5, 1, 1)));  // 5x5
  // An image's transformed data within 4 MiB: 64x64 outputs at 32 channels in and out, not 66x66.
  EXPECT_TRUE(cpu::conv2d_winograd_applies(Conv2dGeometry{2, 32, 64, 64, 32, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1}));
  EXPECT_FALSE(cpu::conv2d_winograd_applies(Conv2dGeometry{2, 32, 66, 66, 32, 66, 66, 3, 3, 1, 1, 1, 1, 1, 1}));
}

// oneDNN's F(4x4, 3x3) exists only with oneDNN (MINICNN_ONEDNN) on a CPU with AVX-512; where it does,
// Auto takes it from kOnednnMinChannels channels in and out and nowhere else.
TEST(Conv2d, AutoTakesOnednnsWinogradForThreeByThreeStrideOneLayersWithEnoughChannels) {
  const bool onednn = std::string(cpu::gemm_backend()) == "oneDNN" && __builtin_cpu_supports("avx512f");
  auto geometry = [](int64_t C, int64_t OC, int64_t S) {
    const int64_t O = S == 1 ? 7 : 4;
    return Conv2dGeometry{8, C, 7, 7, OC, O, O, 3, 3, S, S, 1, 1, 1, 1};
  };
  EXPECT_EQ(cpu::conv2d_onednn_applies(geometry(256, 256, 1)), onednn);  // airbench94's 256-channel layers
  EXPECT_EQ(cpu::conv2d_onednn_prefers(geometry(256, 256, 1)), onednn);
  EXPECT_EQ(cpu::conv2d_onednn_prefers(geometry(24, 64, 1)), onednn);  // its first 3x3 layer
  EXPECT_FALSE(cpu::conv2d_onednn_prefers(geometry(8, 8, 1)));         // too few channels for Auto
  EXPECT_FALSE(cpu::conv2d_onednn_applies(geometry(256, 256, 2)));     // stride 2
}

// A batch too large for one chunk of oneDNN's path (about 16 MiB of input and output per chunk) gives what
// im2col gives, the same on every call, through the fused ReLU and with the gradients added into what was
// there.
TEST(Conv2d, OnednnWinogradGivesTheSameResultsOverSeveralChunks) {
  const Conv2dGeometry g{20, 16, 128, 128, 16, 128, 128, 3, 3, 1, 1, 1, 1, 1, 1};  // 2 MiB per image
  if (!cpu::conv2d_onednn_applies(g)) GTEST_SKIP() << "no oneDNN Winograd in this build or on this CPU";
  const Tensor x = testing::uniform_values({g.N, g.C, g.H, g.W}, 21);
  const Tensor w = testing::uniform_values({g.OC, g.C, 3, 3}, 22);
  const Tensor b = testing::uniform_values({g.OC}, 23);
  const Tensor dy = testing::uniform_values({g.N, g.OC, g.OH, g.OW}, 24);
  struct Result {
    Tensor y, dx, dw, db;
  };
  // Backward masks dy with im2col's output in both runs: outputs within rounding of zero may fall on either
  // side of the ReLU in the two algorithms.
  Tensor relu_out = Tensor::empty({g.N, g.OC, g.OH, g.OW});
  cpu::conv2d_forward(x.data(), w.data(), b.data(), relu_out.data(), g, true, cpu::ConvAlgorithm::Im2col);
  auto run = [&](cpu::ConvAlgorithm algorithm) {
    Result r{Tensor::empty({g.N, g.OC, g.OH, g.OW}), Tensor::empty(x.shape()), Tensor::full(w.shape(), 0.5f),
             Tensor::full({g.OC}, 0.5f)};
    cpu::conv2d_forward(x.data(), w.data(), b.data(), r.y.data(), g, true, algorithm);
    cpu::conv2d_backward(x.data(), w.data(), dy.data(), relu_out.data(), r.dx.data(), r.dw.data(),
                         r.db.data(), g, algorithm);
    return r;
  };
  const Result want = run(cpu::ConvAlgorithm::Im2col), got = run(cpu::ConvAlgorithm::OnednnWinograd);
  const Result again = run(cpu::ConvAlgorithm::OnednnWinograd);  // bit for bit (a resumed run relies on it)
  EXPECT_EQ(again.y.to_vector(), got.y.to_vector());
  EXPECT_EQ(again.dx.to_vector(), got.dx.to_vector());
  EXPECT_EQ(again.dw.to_vector(), got.dw.to_vector());
  EXPECT_EQ(again.db.to_vector(), got.db.to_vector());
  auto expect_close = [](const Tensor& a, const Tensor& e, const char* what) {
    float scale = 0;
    for (int64_t i = 0; i < e.numel(); ++i) scale = std::max(scale, std::abs(e.data()[i]));
    for (int64_t i = 0; i < e.numel(); ++i)
      ASSERT_NEAR(a.data()[i], e.data()[i], 1e-5f * scale) << what << " " << i;
  };
  expect_close(got.y, want.y, "y");
  expect_close(got.dx, want.dx, "dx");
  expect_close(got.dw, want.dw, "dw");
  expect_close(got.db, want.db, "db");
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

// The sentence pooling uses (<minicnn/window.h>); the smallest input is at least 1 along an axis that fits.
TEST(Conv2d, RejectsAnInputSmallerThanItsWindowAndNamesTheSmallestSize) {
  Conv2d conv(Conv2dOptions(1, 1, IntPair(3, 1)).padding(IntPair(0, 1)));
  try {
    conv.output_shape({1, 1, 2, 5});
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "Conv2d: output size is too small: input [1, 1, 2, 5] with kernel_size=(3, 1), stride=(1, 1), "
                 "padding=(0, 1), dilation=(1, 1) gives 0x7; the input must be at least 3x1 (use a smaller "
                 "kernel_size or add padding)");
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

TEST(Dropout, BackwardPassesTheGradientThroughAfterAnEvalOrZeroPForward) {
  const Tensor x = Tensor::full({2, 3}, 1.0f), dy = Tensor::full({2, 3}, 2.0f);
  Dropout drop(0.5f);
  drop.forward(x, Mode::Eval);
  EXPECT_TRUE(drop.backward(dy).shares_storage_with(dy));
  Dropout none(0.0f);
  none.forward(x, Mode::Train);
  EXPECT_TRUE(none.backward(dy).shares_storage_with(dy));
}

// Every layer's backward starts with check_backward: a Train-mode forward first (an Eval one caches
// nothing and drops what a Train one cached), then a gradient shaped like that forward's output.
TEST(Layers, BackwardNeedsATrainForwardAndAGradientShapedLikeItsOutput) {
  Conv2d conv(Conv2dOptions(1, 2, 3));
  Linear fc(LinearOptions(4, 3));
  BatchNorm2d bn(BatchNorm2dOptions(2));
  ReLU relu;
  Flatten flat;
  Dropout drop(0.5f);
  GELU gelu;
  MaxPool2d pool(MaxPool2dOptions(2));
  struct Case {
    Layer& layer;
    Shape x, y;
  };
  for (const Case& c : {Case{conv, {2, 1, 5, 5}, {2, 2, 3, 3}}, Case{fc, {2, 4}, {2, 3}},
                        Case{bn, {2, 2, 3, 3}, {2, 2, 3, 3}}, Case{relu, {2, 3}, {2, 3}},
                        Case{flat, {2, 3, 2}, {2, 6}}, Case{drop, {2, 3}, {2, 3}}, Case{gelu, {2, 3}, {2, 3}},
                        Case{pool, {1, 2, 4, 4}, {1, 2, 2, 2}}}) {
    const std::string name = c.layer.type_name();
    const Tensor x = testing::spaced_values(c.x, 1);
    c.layer.forward(x, Mode::Eval);
    if (name != "Dropout") {  // after an Eval forward Dropout passes dy through, as it passed x
      EXPECT_EQ(testing::error_of([&] { c.layer.backward(Tensor::zeros(c.y)); }),
                name + ": backward() called without a Train-mode forward() before it");
    }
    c.layer.forward(x, Mode::Train);
    EXPECT_EQ(testing::error_of([&] { c.layer.backward(Tensor::zeros({7})); }),
              name + ": expected a gradient of shape " + c.y.str() + ", but got [7]");
    EXPECT_EQ(c.layer.backward(Tensor::zeros(c.y)).shape(), c.x) << name;
    // An Eval forward drops what the Train forward kept, so a model evaluated between training steps
    // does not hold a batch's activations meanwhile.
    c.layer.forward(x, Mode::Eval);
    if (name != "Dropout") {
      EXPECT_EQ(testing::error_of([&] { c.layer.backward(Tensor::zeros(c.y)); }),
                name + ": backward() called without a Train-mode forward() before it");
    }
  }
}

TEST(Flatten, MergesTheGivenDimensions) {
  EXPECT_EQ(Flatten().output_shape({2, 3, 4, 5}), Shape({2, 60}));
  EXPECT_EQ(Flatten(0, -1).output_shape({2, 3, 4, 5}), Shape({120}));
  EXPECT_EQ(Flatten(2, 3).output_shape({2, 3, 4, 5}), Shape({2, 3, 20}));
  EXPECT_THROW(Flatten(3, 1).output_shape({2, 3, 4, 5}), Error);
}

}  // namespace
}  // namespace minicnn
