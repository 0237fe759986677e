// The CUDA backend: host self-tests of the kernels' shared arithmetic (run everywhere, also without a GPU),
// and device suites (Cuda*) that compare every layer with the CPU, rerun the pooling rules on the GPU,
// compare minicnn's pooling with cuDNN's, check determinism and a training step. The device suites skip,
// saying why, when no CUDA device is available.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <minicnn/adam.h>
#include <minicnn/batchnorm2d.h>
#include <minicnn/check.h>
#include <minicnn/conv2d.h>
#include <minicnn/dropout.h>
#include <minicnn/flatten.h>
#include <minicnn/gelu.h>
#include <minicnn/linear.h>
#include <minicnn/loader.h>
#include <minicnn/lookahead.h>
#include <minicnn/loss.h>
#include <minicnn/mix.h>
#include <minicnn/model.h>
#include <minicnn/mul.h>
#include <minicnn/pool2d.h>
#include <minicnn/pool2d_window.h>
#include <minicnn/random.h>
#include <minicnn/registry.h>
#include <minicnn/relu.h>
#include <minicnn/sgd.h>
#include <minicnn/trainer.h>
#include "conv2d_im2col.h"
#include "dropout_mask.h"
#include "gradcheck.h"
#include "pool2d_cuda_fixed.h"
#include "test_util.h"

namespace minicnn {
namespace {

using testing::close_values;
using testing::error_of;
using testing::same_values;

constexpr float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

Device gpu() {
  return Device::cuda(0);
}

// ---- Comparisons: tensors through test_util.h (same_values, close_values), scalars by their bits.

uint32_t bits_of(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// Values from {-2, -1, 0, 1, 2} with some -inf, NaN and arbitrary values: ties everywhere.
Tensor tie_heavy(const Shape& shape, uint64_t seed, bool specials = true) {
  Generator gen(seed);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const uint64_t r = gen.below(specials ? 16 : 5);
    t.data()[i] = r < 5 ? static_cast<float>(r) - 2.0f : r == 5 ? -kInf : r == 6 ? kNaN : gen.uniform(-3, 3);
  }
  return t;
}

std::string describe(const Pool2dGeometry& g) {
  return detail::concat("[", g.N, ", ", g.C, ", ", g.H, ", ", g.W, "] -> ", g.OH, "x", g.OW, " k=(", g.KH,
                        ", ", g.KW, ") s=(", g.SH, ", ", g.SW, ") p=(", g.PH, ", ", g.PW, ") d=(", g.DH, ", ",
                        g.DW, ")");
}

// ---- Host self-tests: the __host__ __device__ functions the kernels run, against the CPU kernels.

// Whether the kernels would use the K x K / stride S specialisation for g (pool2d.cu's path_of: 2x2 and
// 3x3 windows, stride 2 or 1).
bool fixed_applies(const Pool2dGeometry& g, int K, int S) {
  return g.KH == K && g.KW == K && g.SH == S && g.SW == S && g.DH == 1 && g.DW == 1 && pool2d_fits_int32(g);
}

template <int K, int S>
struct Fixed {
  static constexpr int kK = K, kS = S;
};

// Calls f(Fixed<K, S>{}) for the specialisation the kernels use for g; false when none applies.
template <typename F>
bool with_fixed(const Pool2dGeometry& g, F&& f) {
  if (fixed_applies(g, 2, 2)) f(Fixed<2, 2>{});
  if (fixed_applies(g, 3, 2)) f(Fixed<3, 2>{});
  if (fixed_applies(g, 2, 1)) f(Fixed<2, 1>{});
  if (fixed_applies(g, 3, 1)) f(Fixed<3, 1>{});
  return fixed_applies(g, 2, 2) || fixed_applies(g, 3, 2) || fixed_applies(g, 2, 1) || fixed_applies(g, 3, 1);
}

std::vector<Pool2dGeometry> host_geometries(bool with_dilation) {
  std::vector<Pool2dGeometry> out;
  for (int64_t H : {1, 2, 3, 5, 8}) {
    for (int64_t W : {1, 4, 7, 8, 16}) {
      for (int64_t K = 1; K <= 3; ++K) {
        for (int64_t S = 1; S <= 3; ++S) {
          for (int64_t D = 1; D <= (with_dilation ? 2 : 1); ++D) {
            for (bool ceil : {false, true}) {
              for (int64_t P = 0; P <= (D * (K - 1) + 1) / 2; ++P) {
                try {
                  out.push_back(
                      pool2d_geometry("test", Shape{2, 3, H, W},
                                      Pool2dArgs{IntPair(K), IntPair(S), IntPair(P), IntPair(D), ceil}));
                } catch (const Error&) {  // output too small: not a geometry
                }
              }
            }
          }
        }
      }
    }
  }
  out.push_back(
      pool2d_geometry("test", Shape{1, 2, 9, 10},
                      Pool2dArgs{IntPair(2, 3), IntPair(1, 2), IntPair(1, 1), IntPair(1, 1), true}));
  out.push_back(
      pool2d_geometry("test", Shape{1, 2, 11, 6},
                      Pool2dArgs{IntPair(3, 2), IntPair(2, 1), IntPair(0, 1), IntPair(2, 1), false}));
  return out;
}

// The four results of one of the kernels' 4-wide groups against the CPU's, from flat index `first` on.
::testing::AssertionResult group_matches(const char* what, const float* got, const float* cpu,
                                         int64_t first) {
  for (int j = 0; j < 4; ++j) {
    if (bits_of(got[j]) != bits_of(cpu[first + j])) {
      return ::testing::AssertionFailure()
             << what << " " << first + j << " (group of 4): " << got[j] << ", CPU " << cpu[first + j];
    }
  }
  return ::testing::AssertionSuccess();
}

// The 4-wide backward groups of input row ih of `plane` (on a fixed path, when W is a multiple of 4),
// each computed by group(Fixed<K, S>{}, iw0, out), against the CPU's dx.
template <typename Group>
::testing::AssertionResult backward_groups_match(const Pool2dGeometry& g, const float* dx, int64_t plane,
                                                 int64_t ih, Group&& group) {
  for (int64_t iw0 = 0; g.W % 4 == 0 && iw0 < g.W; iw0 += 4) {
    float d[4];
    if (!with_fixed(g, [&](auto f) { group(f, iw0, d); })) break;
    if (auto r = group_matches("backward input", d, dx, plane * g.H * g.W + ih * g.W + iw0); !r) return r;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult host_max_matches_cpu(const Pool2dGeometry& g, const Tensor& x, const Tensor& dy) {
  const Shape ys{g.N, g.C, g.OH, g.OW};
  Tensor y = Tensor::empty(ys), idx = Tensor::empty(ys, DType::Int32), dx = Tensor::empty(x.shape());
  cpu::max_pool2d_forward(x.data(), y.data(), idx.data_i32(), g);
  cpu::max_pool2d_backward(dy.data(), idx.data_i32(), dx.data(), g);
  for (int64_t plane = 0; plane < g.N * g.C; ++plane) {
    const float* xp = x.data() + plane * g.H * g.W;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const int64_t o = plane * g.OH * g.OW + oh * g.OW + ow;
        float v = 0.0f;
        int64_t at = max_pool2d_at(xp, g, oh, ow, &v);
        with_fixed(g, [&](auto f) { at = max_pool2d_at_fixed<f.kK, f.kS>(xp, g, oh, ow, &v); });
        if (bits_of(v) != bits_of(y.data()[o]) || at != idx.data_i32()[o]) {
          return ::testing::AssertionFailure() << "forward output " << o << ": " << v << " at " << at
                                               << ", CPU " << y.data()[o] << " at " << idx.data_i32()[o];
        }
      }
    }
    for (int64_t oh = 0; g.W % 4 == 0 && g.OW % 4 == 0 && oh < g.OH; ++oh) {  // the kernels' 4-wide groups
      for (int64_t ow0 = 0; ow0 < g.OW; ow0 += 4) {
        float v[4];
        int32_t at[4];
        if (!with_fixed(g, [&](auto f) { max_pool2d_group4_fixed<f.kK, f.kS>(xp, g, oh, ow0, v, at); }))
          break;
        const int64_t o = plane * g.OH * g.OW + oh * g.OW + ow0;
        if (auto r = group_matches("forward output", v, y.data(), o); !r) return r;
        for (int j = 0; j < 4; ++j) {
          if (at[j] != idx.data_i32()[o + j]) {
            return ::testing::AssertionFailure() << "forward output " << o + j << " (group of 4): index "
                                                 << at[j] << ", CPU " << idx.data_i32()[o + j];
          }
        }
      }
    }
    const float* dyp = dy.data() + plane * g.OH * g.OW;
    const int32_t* ip = idx.data_i32() + plane * g.OH * g.OW;
    for (int64_t ih = 0; ih < g.H; ++ih) {
      for (int64_t iw = 0; iw < g.W; ++iw) {
        const int64_t i = plane * g.H * g.W + ih * g.W + iw;
        float d = max_pool2d_backward_at(dyp, ip, g, ih, iw);
        with_fixed(g, [&](auto f) { d = max_pool2d_backward_at_fixed<f.kK, f.kS>(dyp, ip, g, ih, iw); });
        if (bits_of(d) != bits_of(dx.data()[i])) {
          return ::testing::AssertionFailure()
                 << "backward input " << i << ": " << d << ", CPU " << dx.data()[i];
        }
      }
      const auto group = [&](auto f, int64_t iw0, float* d) {
        max_pool2d_backward_group4_fixed<f.kK, f.kS>(dyp, ip, g, ih, iw0, d);
      };
      if (auto r = backward_groups_match(g, dx.data(), plane, ih, group); !r) return r;
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult host_avg_matches_cpu(const Pool2dGeometry& g, AvgDivisor div, const Tensor& x,
                                                const Tensor& dy) {
  Tensor y = Tensor::empty({g.N, g.C, g.OH, g.OW}), dx = Tensor::empty(x.shape());
  cpu::avg_pool2d_forward(x.data(), y.data(), g, div);
  cpu::avg_pool2d_backward(dy.data(), dx.data(), g, div);
  for (int64_t plane = 0; plane < g.N * g.C; ++plane) {
    const float* xp = x.data() + plane * g.H * g.W;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const int64_t o = plane * g.OH * g.OW + oh * g.OW + ow;
        float v = avg_pool2d_at(xp, g, div, oh, ow);
        with_fixed(g, [&](auto f) { v = avg_pool2d_at_fixed<f.kK, f.kS>(xp, g, div, oh, ow); });
        if (bits_of(v) != bits_of(y.data()[o])) {
          return ::testing::AssertionFailure()
                 << "forward output " << o << ": " << v << ", CPU " << y.data()[o];
        }
      }
    }
    for (int64_t oh = 0; g.W % 4 == 0 && g.OW % 4 == 0 && oh < g.OH; ++oh) {  // the kernels' 4-wide groups
      for (int64_t ow0 = 0; ow0 < g.OW; ow0 += 4) {
        float v[4];
        if (!with_fixed(g, [&](auto f) { avg_pool2d_group4_fixed<f.kK, f.kS>(xp, g, div, oh, ow0, v); }))
          break;
        if (auto r = group_matches("forward output", v, y.data(), plane * g.OH * g.OW + oh * g.OW + ow0); !r)
          return r;
      }
    }
    const float* dyp = dy.data() + plane * g.OH * g.OW;
    for (int64_t ih = 0; ih < g.H; ++ih) {
      for (int64_t iw = 0; iw < g.W; ++iw) {
        const int64_t i = plane * g.H * g.W + ih * g.W + iw;
        float d = avg_pool2d_backward_at(dyp, g, div, ih, iw);
        with_fixed(g, [&](auto f) { d = avg_pool2d_backward_at_fixed<f.kK, f.kS>(dyp, g, div, ih, iw); });
        if (bits_of(d) != bits_of(dx.data()[i])) {
          return ::testing::AssertionFailure()
                 << "backward input " << i << ": " << d << ", CPU " << dx.data()[i];
        }
      }
      const auto group = [&](auto f, int64_t iw0, float* d) {
        avg_pool2d_backward_group4_fixed<f.kK, f.kS>(dyp, g, div, ih, iw0, d);
      };
      if (auto r = backward_groups_match(g, dx.data(), plane, ih, group); !r) return r;
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(CudaHost, MaxPoolingKernelArithmeticMatchesTheCpuBitForBit) {
  const auto geometries = host_geometries(true);
  ASSERT_GT(geometries.size(), 300u);
  uint64_t seed = 1;
  for (const Pool2dGeometry& g : geometries) {
    const Shape xs{g.N, g.C, g.H, g.W}, ys{g.N, g.C, g.OH, g.OW};
    // Ties, NaN and -inf everywhere, then tie-free values.
    EXPECT_TRUE(host_max_matches_cpu(g, tie_heavy(xs, seed), testing::uniform_values(ys, seed + 1)))
        << describe(g);
    EXPECT_TRUE(
        host_max_matches_cpu(g, testing::spaced_values(xs, seed + 2), testing::uniform_values(ys, seed + 3)))
        << describe(g);
    seed += 4;
  }
}

TEST(CudaHost, AvgPoolingKernelArithmeticMatchesTheCpuBitForBit) {
  const auto geometries = host_geometries(false);
  uint64_t seed = 1000;
  for (const Pool2dGeometry& g : geometries) {
    const Shape xs{g.N, g.C, g.H, g.W}, ys{g.N, g.C, g.OH, g.OW};
    for (AvgDivisor div : {AvgDivisor{true, 0}, AvgDivisor{false, 0}, AvgDivisor{true, 3}}) {
      EXPECT_TRUE(host_avg_matches_cpu(g, div, testing::uniform_values(xs, seed),
                                       testing::uniform_values(ys, seed + 1)))
          << describe(g) << " count_include_pad=" << div.count_include_pad
          << " divisor_override=" << div.divisor_override;
      seed += 2;
    }
  }
}

TEST(CudaHost, Im2colAndCol2imMatchTheCpuConvolution) {
  struct Case {
    Shape x;
    int64_t OC;
    IntPair k, s, p, d;
  };
  const Case cases[] = {{{2, 3, 7, 7}, 4, IntPair(3), IntPair(1), IntPair(1), IntPair(1)},
                        {{2, 2, 9, 8}, 3, IntPair(3, 2), IntPair(2), IntPair(1, 0), IntPair(1)},
                        {{1, 2, 11, 11}, 2, IntPair(3), IntPair(2, 3), IntPair(2), IntPair(2)},
                        {{3, 1, 5, 5}, 2, IntPair(1), IntPair(1), IntPair(0), IntPair(1)}};
  uint64_t seed = 77;
  for (const Case& c : cases) {
    const int64_t N = c.x[0], C = c.x[1], H = c.x[2], W = c.x[3];
    const int64_t OH = window_output_size(H, c.k.h, c.s.h, c.p.h, c.d.h, false);
    const int64_t OW = window_output_size(W, c.k.w, c.s.w, c.p.w, c.d.w, false);
    const Conv2dGeometry g{N, C, H, W, c.OC, OH, OW, c.k.h, c.k.w, c.s.h, c.s.w, c.p.h, c.p.w, c.d.h, c.d.w};
    const int64_t K = C * c.k.h * c.k.w, P = OH * OW;
    const Tensor x = testing::uniform_values(c.x, seed++), w = testing::uniform_values({c.OC, K}, seed++);
    const Tensor dy = testing::uniform_values({N, c.OC, OH, OW}, seed++);
    Tensor y = Tensor::empty({N, c.OC, OH, OW}), dx = Tensor::empty(c.x);
    Tensor dw = Tensor::zeros({c.OC, K});
    cpu::conv2d_forward(x.data(), w.data(), nullptr, y.data(), g);
    cpu::conv2d_backward(x.data(), w.data(), dy.data(), nullptr, dx.data(), dw.data(), nullptr, g);
    for (int64_t nn : {N, int64_t{1}}) {  // one chunk of every image, and chunks of one image
      std::vector<float> ye(static_cast<size_t>(N * c.OC * P)), dxe(static_cast<size_t>(N * C * H * W));
      for (int64_t n0 = 0; n0 < N; n0 += nn) {
        const float* xc = x.data() + n0 * C * H * W;
        std::vector<float> col(static_cast<size_t>(K * nn * P)), dcol(col.size());
        for (int64_t i = 0; i < K * nn * P; ++i) {
          col[static_cast<size_t>(i)] =
              im2col_at<int32_t>(xc, g, static_cast<int32_t>(nn), static_cast<int32_t>(i));
          ASSERT_EQ(bits_of(col[static_cast<size_t>(i)]), bits_of(im2col_at<int64_t>(xc, g, nn, i)));
        }
        for (int64_t n = 0; n < nn; ++n) {
          for (int64_t p = 0; p < P; ++p) {
            for (int64_t oc = 0; oc < c.OC; ++oc) {
              double s = 0.0;
              for (int64_t k = 0; k < K; ++k)
                s += static_cast<double>(w.data()[oc * K + k]) * col[k * nn * P + n * P + p];
              ye[static_cast<size_t>(((n0 + n) * c.OC + oc) * P + p)] = static_cast<float>(s);
            }
            for (int64_t k = 0; k < K; ++k) {
              double s = 0.0;
              for (int64_t oc = 0; oc < c.OC; ++oc) {
                s += static_cast<double>(w.data()[oc * K + k]) * dy.data()[((n0 + n) * c.OC + oc) * P + p];
              }
              dcol[static_cast<size_t>(k * nn * P + n * P + p)] = static_cast<float>(s);
            }
          }
        }
        for (int64_t i = 0; i < nn * C * H * W; ++i) {
          dxe[static_cast<size_t>(n0 * C * H * W + i)] =
              col2im_at<int32_t>(dcol.data(), g, static_cast<int32_t>(nn), static_cast<int32_t>(i));
          ASSERT_EQ(bits_of(dxe[static_cast<size_t>(n0 * C * H * W + i)]),
                    bits_of(col2im_at<int64_t>(dcol.data(), g, nn, i)));
        }
      }
      EXPECT_TRUE(close_values(Tensor::from_vector(y.shape(), ye), y, {.abs = 1e-5, .rel = 1e-5}))
          << "forward, chunks of " << nn;
      EXPECT_TRUE(close_values(Tensor::from_vector(dx.shape(), dxe), dx, {.abs = 1e-5, .rel = 1e-5}))
          << "input gradient, chunks of " << nn;
    }
  }
}

TEST(CudaHost, DropoutMasksMatchTheCpuLayer) {
  for (float p : {0.1f, 0.5f, 0.9f}) {
    Dropout drop(p);
    drop.reseed(1234);
    const Tensor y = drop.forward(Tensor::full({3, 1000}, 1.0f), Mode::Train);
    const uint64_t base = splitmix64_mix(1234);
    const uint32_t threshold = static_cast<uint32_t>(static_cast<double>(p) * 16777216.0);
    const float keep_scale = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < y.numel(); ++i) {
      ASSERT_EQ(bits_of(y.data()[i]),
                bits_of(dropout_mask_at(base, static_cast<uint64_t>(i), threshold, keep_scale)))
          << "p=" << p << " element " << i;
    }
  }
}

// What cuDNN cannot express is refused, before the device is looked at (so this runs without a GPU).
TEST(CudaHost, CudnnPathRefusesWhatCudnnCannotExpress) {
  const Tensor x = Tensor::full({1, 1, 6, 6}, 1.0f);
  EXPECT_EQ(error_of([&] {
              MaxPool2d(MaxPool2dOptions(2).dilation(2).impl(PoolImpl::Cudnn)).forward(x, Mode::Eval);
            }),
            "MaxPool2d: impl=cudnn has no dilation, but got dilation=(2, 2); use impl=native");
  EXPECT_EQ(
      error_of([&] {
        MaxPool2d(MaxPool2dOptions(3).stride(2).ceil_mode(true).impl(PoolImpl::Cudnn)).forward(x, Mode::Eval);
      }),
      "MaxPool2d: impl=cudnn has no ceil_mode, but got ceil_mode=True; use impl=native");
  EXPECT_EQ(
      error_of([&] {
        MaxPool2d(MaxPool2dOptions(2).return_indices(true).impl(PoolImpl::Cudnn)).forward(x, Mode::Eval);
      }),
      "MaxPool2d: impl=cudnn computes no indices; use impl=native to get them (return_indices, "
      "forward_with_indices, --indices)");
  EXPECT_EQ(error_of([&] { MaxPool2d(MaxPool2dOptions(2).impl(PoolImpl::Cudnn)).forward_with_indices(x); }),
            "MaxPool2d: impl=cudnn computes no indices; use impl=native to get them (return_indices, "
            "forward_with_indices, --indices)");
  EXPECT_EQ(error_of([&] {
              AvgPool2d(AvgPool2dOptions(2).divisor_override(3).impl(PoolImpl::Cudnn)).forward(x, Mode::Eval);
            }),
            "AvgPool2d: impl=cudnn has no divisor_override, but got divisor_override=3; use impl=native");
  EXPECT_EQ(
      error_of([&] {
        AvgPool2d(AvgPool2dOptions(3).stride(2).ceil_mode(true).impl(PoolImpl::Cudnn)).forward(x, Mode::Eval);
      }),
      "AvgPool2d: impl=cudnn has no ceil_mode, but got ceil_mode=True; use impl=native");
  // Options cuDNN has, on a CPU tensor: the device is what is wrong.
  EXPECT_EQ(
      error_of([&] { AvgPool2d(AvgPool2dOptions(2).impl(PoolImpl::Cudnn)).forward(x, Mode::Eval); }),
      "AvgPool2d: impl=cudnn runs on CUDA tensors only, but got a tensor on cpu; use impl=native on the CPU");
}

// The outputs whose adaptive window holds input cell i are exactly [o0, o1): the gather backwards visit
// every window that the CPU's scatter adds from, and no other.
TEST(CudaHost, AdaptiveCoveringOutputsAreExactlyTheWindowsHoldingACell) {
  for (int64_t in = 1; in <= 24; ++in) {
    for (int64_t out = 1; out <= 24; ++out) {
      for (int64_t i = 0; i < in; ++i) {
        const TapRange r = adaptive_covering_outputs(i, in, out);
        for (int64_t o = 0; o < out; ++o) {
          const bool holds = adaptive_start(o, in, out) <= i && i < adaptive_end(o, in, out);
          EXPECT_EQ(holds, o >= r.k0 && o < r.k1)
              << "in " << in << ", out " << out << ", cell " << i << ", window " << o;
        }
      }
    }
  }
}

// The per-output and per-input functions the adaptive kernels run, against the CPU layers: the same bits,
// indices included, on inputs full of ties, -inf and NaN.
TEST(CudaHost, AdaptivePoolingKernelArithmeticMatchesTheCpuBitForBit) {
  const struct {
    Shape x;
    AdaptiveSize size;
  } cases[] = {{{2, 3, 7, 9}, {3, 4}},
               {{1, 2, 5, 5}, {5, 5}},
               {{2, 2, 4, 6}, {7, 3}},
               {{1, 3, 8, 8}, {1, 1}},
               {{2, 1, 10, 3}, {4, -1}}};
  uint64_t seed = 40;
  for (const auto& c : cases) {
    const std::string what =
        c.x.str() + " -> (" + std::to_string(c.size.h) + ", " + std::to_string(c.size.w) + ")";
    const Tensor x = tie_heavy(c.x, seed++);
    AdaptiveMaxPool2d max_pool(c.size);
    AdaptiveAvgPool2d avg_pool(c.size);
    const Tensor ymax = max_pool.forward(x, Mode::Train), yavg = avg_pool.forward(x, Mode::Train);
    const Tensor dy = testing::uniform_values(ymax.shape(), seed++);
    const Tensor dxmax = max_pool.backward(dy), dxavg = avg_pool.backward(dy);
    const int64_t N = c.x[0], C = c.x[1], H = c.x[2], W = c.x[3], OH = ymax.size(2), OW = ymax.size(3);
    const Pool2dGeometry g{N, C, H, W, OH, OW, 0, 0, 0, 0, 0, 0, 1, 1};
    for (int64_t plane = 0; plane < N * C; ++plane) {
      const float* xp = x.data() + plane * H * W;
      for (int64_t o = 0; o < OH * OW; ++o) {
        const int64_t at = plane * OH * OW + o;
        float v = 0;
        const int64_t idx = adaptive_max_pool2d_at(xp, g, o / OW, o % OW, &v);
        EXPECT_EQ(bits_of(v), bits_of(ymax.data()[at])) << what << ": max, output " << at;
        EXPECT_EQ(idx, max_pool.indices().data_i32()[at]) << what << ": index, output " << at;
        EXPECT_EQ(bits_of(adaptive_avg_pool2d_at(xp, g, o / OW, o % OW)), bits_of(yavg.data()[at]))
            << what << ": avg, output " << at;
      }
      const float* dyp = dy.data() + plane * OH * OW;
      const int32_t* ip = max_pool.indices().data_i32() + plane * OH * OW;
      for (int64_t i = 0; i < H * W; ++i) {
        const int64_t at = plane * H * W + i;
        EXPECT_EQ(bits_of(adaptive_max_pool2d_backward_at(dyp, ip, g, i / W, i % W)),
                  bits_of(dxmax.data()[at]))
            << what << ": max backward, input " << at;
        EXPECT_EQ(bits_of(adaptive_avg_pool2d_backward_at(dyp, g, i / W, i % W)), bits_of(dxavg.data()[at]))
            << what << ": avg backward, input " << at;
      }
    }
  }
}

// The scalar GELU the CUDA kernels run against the CPU's vectorised loops (Eigen's erf, exp and tanh, a few
// ulp from the C library's; in the far negative tail the derivative's two terms cancel, so its tolerance
// is absolute).
TEST(CudaHost, GeluScalarRulesMatchTheCpuLayer) {
  const Tensor x = testing::uniform_values({4096}, 5, -6.0f, 6.0f);
  const Tensor dy = testing::uniform_values({4096}, 6);
  for (const GeluApproximate a : {GeluApproximate::None, GeluApproximate::Tanh}) {
    Tensor y = Tensor::empty(x.shape()), dx = Tensor::empty(x.shape());
    cpu::gelu_forward(x.data(), y.data(), x.numel(), a);
    cpu::gelu_backward(x.data(), dy.data(), dx.data(), x.numel(), a);
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float v = x.data()[i];
      EXPECT_NEAR(gelu_of(v, a), y.data()[i], 1e-6 + 1e-6 * std::abs(y.data()[i])) << "x = " << v;
      EXPECT_NEAR(gelu_grad_of(v, dy.data()[i], a), dx.data()[i], 1e-5) << "x = " << v;
    }
  }
}

// The running statistics follow torch: momentum 0.1 of the unbiased variance (here of 1, 2, 3, 4: 5/3).
TEST(CudaHost, BatchNormRunningStatisticsRulesAreTorchs) {
  EXPECT_DOUBLE_EQ(unbiased_variance(5.0, 4), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(unbiased_variance(0.0, 1), 0.0);
  EXPECT_EQ(running_stat_update(1.0f, 5.0 / 3.0, 0.1), static_cast<float>(0.9 * 1.0 + 0.1 * (5.0 / 3.0)));
  EXPECT_EQ(running_stat_update(2.0f, 7.0, 1.0), 7.0f);
  EXPECT_EQ(inv_std_of(3.0, 1.0), 0.5f);
}

// Every layer of every preset has CUDA kernels, so no preset is refused at --device cuda.
TEST(CudaHost, EveryPresetRunsOnCuda) {
  for (const std::string& name : preset_names()) {
    Model m = parse_model(name);
    m.build(find_preset(name)->input_chw, 0);
    EXPECT_EQ(m.unsupported_layer(Device::cuda()), "") << name;
  }
}

// Without a device every CUDA request is one sentence that says so (here: no driver, no GPU).
TEST(CudaHost, WithoutADeviceEveryRequestSaysSo) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  const std::string want = "device cuda:0 was asked for, but no CUDA device is available (";
  const std::string tensor_error = error_of([] { Tensor::zeros({2, 2}, DType::Float32, Device::cuda(0)); });
  EXPECT_EQ(tensor_error.rfind("Tensor: " + want, 0), 0u) << tensor_error;
  Model m;
  m.add(std::make_unique<ReLU>());
  m.build({1, 2, 2}, 0);
  const std::string model_error = error_of([&] { m.to(Device::cuda(0)); });
  EXPECT_EQ(model_error.rfind("Model: " + want, 0), 0u) << model_error;
  EXPECT_EQ(model_error.back(), ')') << model_error;
  EXPECT_EQ(model_error.find('\n'), std::string::npos) << model_error;
  const testing::CommandResult r =
      testing::run_cli("pool --device cuda --mode max --kernel-size 2 --input missing.npy --output out.npy");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("minicnn: error: pool: " + want), std::string::npos) << r.output;
}

// ---- Device suites.

// Without a device these skip, except under MINICNN_REQUIRE_CUDA=1 (scripts/gpu_check.sh sets it), where a
// device that cannot be reached fails them: a GPU check that ran none of them must not pass.
class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_device_count() > 0) return;
    const std::string why = error_of([] { require_device(Device::cuda(0), "CUDA tests"); });
    const char* required = std::getenv("MINICNN_REQUIRE_CUDA");
    if (required != nullptr && std::string(required) == "1") FAIL() << why << " (MINICNN_REQUIRE_CUDA=1)";
    GTEST_SKIP() << why;
  }
};

struct PoolCase {
  const char* name;
  Shape x;
  IntPair k;
  std::optional<IntPair> s;
  IntPair p;
  IntPair d;
  bool ceil;
};

const std::vector<PoolCase>& pool_cases() {
  static const std::vector<PoolCase> cases = {
      {"k2s2", {2, 3, 8, 8}, IntPair(2), {}, IntPair(0), IntPair(1), false},
      {"k2s2 odd", {2, 3, 9, 7}, IntPair(2), {}, IntPair(0), IntPair(1), false},
      {"k2s2p1", {2, 3, 9, 9}, IntPair(2), {}, IntPair(1), IntPair(1), false},
      {"k3s2p1", {2, 4, 14, 13}, IntPair(3), IntPair(2), IntPair(1), IntPair(1), false},
      {"k3s2 ceil", {2, 2, 10, 10}, IntPair(3), IntPair(2), IntPair(0), IntPair(1), true},
      {"k3s1p1 overlapping", {2, 2, 7, 9}, IntPair(3), IntPair(1), IntPair(1), IntPair(1), false},
      {"k2s1 dilation2 p1", {1, 3, 8, 8}, IntPair(2), IntPair(1), IntPair(1), IntPair(2), false},
      {"k2 d3 p2 empty windows", {1, 1, 2, 2}, IntPair(2), IntPair(1), IntPair(2), IntPair(3), false},
      {"k(2,3) s(1,2) p(1,1) ceil",
       {2, 2, 9, 10},
       IntPair(2, 3),
       IntPair(1, 2),
       IntPair(1),
       IntPair(1),
       true},
      {"k3s3p1 ceil", {1, 2, 10, 11}, IntPair(3), {}, IntPair(1), IntPair(1), true},
      {"large k3s2p1", {4, 8, 57, 61}, IntPair(3), IntPair(2), IntPair(1), IntPair(1), false},
      // Rows whose length is a multiple of 4: the kernels' 4-wide groups (forward and backward).
      {"k3s2p1 rows of 4", {2, 3, 16, 16}, IntPair(3), IntPair(2), IntPair(1), IntPair(1), false},
      {"k2s1 output rows of 4", {2, 3, 6, 9}, IntPair(2), IntPair(1), IntPair(0), IntPair(1), false},
      {"k2s1 input rows of 4", {2, 3, 6, 8}, IntPair(2), IntPair(1), IntPair(0), IntPair(1), false},
      {"k3s1p1 rows of 4", {2, 2, 5, 12}, IntPair(3), IntPair(1), IntPair(1), IntPair(1), false},
      {"k2s2 rows of 4, ceil", {1, 2, 7, 14}, IntPair(2), {}, IntPair(1), IntPair(1), true},
      {"unbatched k2", {3, 9, 9}, IntPair(2), {}, IntPair(0), IntPair(1), false},
  };
  return cases;
}

MaxPool2dOptions max_options(const PoolCase& c) {
  MaxPool2dOptions o(c.k);
  if (c.s) o.stride(*c.s);
  return o.padding(c.p).dilation(c.d).ceil_mode(c.ceil);
}

AvgPool2dOptions avg_options(const PoolCase& c) {
  AvgPool2dOptions o(c.k);
  if (c.s) o.stride(*c.s);
  return o.padding(c.p).ceil_mode(c.ceil);
}

// Forward values, indices and backward of one MaxPool2d on the CPU and on the GPU.
void expect_max_pool_matches_cpu(const MaxPool2dOptions& options, const Tensor& x, const std::string& what) {
  MaxPool2d cpu_pool(options), gpu_pool(options);
  auto [y, idx] = cpu_pool.forward_with_indices(x);
  auto [gy, gidx] = gpu_pool.forward_with_indices(x.to(gpu()));
  ASSERT_TRUE(gy.is_cuda() && gidx.is_cuda()) << what;
  EXPECT_TRUE(same_values(gy, y)) << what << ": forward";
  EXPECT_TRUE(same_values(gidx, idx)) << what << ": indices";
  const Tensor dy = testing::uniform_values(y.shape(), 99);
  const Tensor gdx = gpu_pool.backward(dy.to(gpu()));
  ASSERT_TRUE(gdx.is_cuda());
  EXPECT_TRUE(same_values(gdx, cpu_pool.backward(dy))) << what << ": backward";
}

class CudaPool2d : public CudaTest {};

TEST_F(CudaPool2d, MaxPoolingMatchesTheCpuBitForBit) {
  uint64_t seed = 5;
  for (const PoolCase& c : pool_cases()) {
    expect_max_pool_matches_cpu(max_options(c), tie_heavy(c.x, seed++),
                                std::string(c.name) + " (ties, NaN, -inf)");
    expect_max_pool_matches_cpu(max_options(c), testing::spaced_values(c.x, seed++),
                                std::string(c.name) + " (tie-free)");
  }
}

TEST_F(CudaPool2d, AvgPoolingMatchesTheCpuBitForBit) {
  uint64_t seed = 50;
  for (const PoolCase& c : pool_cases()) {
    if (!(c.d == IntPair(1))) continue;
    for (int variant = 0; variant < 3; ++variant) {
      AvgPool2dOptions o = avg_options(c);
      if (variant == 1) o.count_include_pad(false);
      if (variant == 2) o.divisor_override(5);
      AvgPool2d cpu_pool(o), gpu_pool(o);
      const Tensor x = testing::uniform_values(c.x, seed++);
      const Tensor y = cpu_pool.forward(x, Mode::Train), gy = gpu_pool.forward(x.to(gpu()), Mode::Train);
      EXPECT_TRUE(same_values(gy, y)) << c.name << " variant " << variant << ": forward";
      const Tensor dy = testing::uniform_values(y.shape(), seed++);
      EXPECT_TRUE(same_values(gpu_pool.backward(dy.to(gpu())), cpu_pool.backward(dy)))
          << c.name << " variant " << variant << ": backward";
    }
  }
}

// The CPU suite's pooling rules, rerun on the GPU.
TEST_F(CudaPool2d, TheCpuRulesHoldOnTheGpu) {
  auto on_gpu = [](const Shape& s, std::vector<float> v) { return Tensor::from_vector(s, v).to(gpu()); };
  {  // first maximum wins ties
    MaxPool2d pool(MaxPool2dOptions(2));
    auto [y, idx] = pool.forward_with_indices(on_gpu({1, 1, 2, 4}, {0, 0, 3, 1, 0, 0, 3, 3}));
    EXPECT_EQ(y.to_vector(), std::vector<float>({0, 3}));
    EXPECT_EQ(idx.to_vector_i32(), std::vector<int32_t>({0, 2}));
  }
  {  // NaN propagates and the last NaN's index wins
    MaxPool2d pool(MaxPool2dOptions(2));
    auto [y, idx] = pool.forward_with_indices(on_gpu({1, 1, 2, 4}, {kNaN, 5, 1, kNaN, 7, kNaN, 2, 3}));
    EXPECT_TRUE(std::isnan(y.to_vector()[0]) && std::isnan(y.to_vector()[1]));
    EXPECT_EQ(idx.to_vector_i32(), std::vector<int32_t>({5, 3}));
  }
  {  // padding is -inf, not 0
    MaxPool2d pool(MaxPool2dOptions(2).stride(2).padding(1));
    std::vector<float> v;
    for (int i = 1; i <= 16; ++i) v.push_back(-static_cast<float>(i));
    EXPECT_EQ(pool.forward(on_gpu({1, 1, 4, 4}, v), Mode::Eval).to_vector(),
              std::vector<float>({-1, -2, -4, -5, -6, -8, -13, -14, -16}));
  }
  {  // an all -inf window keeps its first valid index
    MaxPool2d pool(MaxPool2dOptions(2).padding(1));
    auto [y, idx] = pool.forward_with_indices(Tensor::full({1, 1, 2, 2}, -kInf, gpu()));
    for (float v : y.to_vector()) EXPECT_EQ(v, -kInf);
    EXPECT_EQ(idx.to_vector_i32(), std::vector<int32_t>({0, 1, 2, 3}));
  }
  {  // a window with no valid element gives -inf and -1, and backward sends it nothing
    MaxPool2d pool(MaxPool2dOptions(2).dilation(3).padding(2).stride(1));
    const Tensor y = pool.forward(on_gpu({1, 1, 2, 2}, {1, 2, 3, 4}), Mode::Train);
    EXPECT_EQ(y.to_vector(), std::vector<float>({4, -kInf, 3, -kInf, -kInf, -kInf, 2, -kInf, 1}));
    EXPECT_EQ(pool.indices().to_vector_i32(), std::vector<int32_t>({3, -1, 2, -1, -1, -1, 1, -1, 0}));
    const Tensor dx = pool.backward(on_gpu({1, 1, 3, 3}, {1, 10, 2, 10, 10, 10, 3, 10, 4}));
    EXPECT_EQ(dx.to_vector(), std::vector<float>({4, 3, 2, 1}));
  }
  {  // ceil_mode: the last window is clipped to H + P before it counts its divisor
    AvgPool2d pool(AvgPool2dOptions(3).stride(2).padding(1).ceil_mode(true));
    const std::vector<float> y =
        pool.forward(Tensor::full({1, 1, 4, 4}, 1.0f, gpu()), Mode::Eval).to_vector();
    ASSERT_EQ(y.size(), 9u);
    EXPECT_FLOAT_EQ(y[0], 4.0f / 9.0f);
    EXPECT_FLOAT_EQ(y[2], 2.0f / 6.0f);
    EXPECT_FLOAT_EQ(y[8], 0.25f);
  }
}

TEST_F(CudaPool2d, SixtyFourBitIndexingGivesTheSameBits) {
  struct Reset {
    ~Reset() { cuda::force_64bit_indexing_for_testing(false); }
  } reset;
  for (const PoolCase& c : pool_cases()) {
    const Tensor x = tie_heavy(c.x, 321).to(gpu());
    MaxPool2d narrow(max_options(c)), wide(max_options(c));
    cuda::force_64bit_indexing_for_testing(false);
    auto [y32, i32] = narrow.forward_with_indices(x);
    const Tensor dy = testing::uniform_values(y32.shape(), 5).to(gpu());
    const Tensor dx32 = narrow.backward(dy);
    cuda::force_64bit_indexing_for_testing(true);
    auto [y64, i64] = wide.forward_with_indices(x);
    EXPECT_TRUE(same_values(y64, y32)) << c.name;
    EXPECT_TRUE(same_values(i64, i32)) << c.name;
    EXPECT_TRUE(same_values(wide.backward(dy), dx32)) << c.name;
  }
}

TEST_F(CudaPool2d, BackwardIsDeterministic) {
  // Overlapping windows: an input collects gradient from up to 9 outputs.
  const Tensor x = tie_heavy({8, 16, 33, 33}, 11, false).to(gpu());
  for (int max = 0; max < 2; ++max) {
    std::unique_ptr<Layer> a, b;
    if (max) {
      a = std::make_unique<MaxPool2d>(MaxPool2dOptions(3).stride(1).padding(1));
      b = std::make_unique<MaxPool2d>(MaxPool2dOptions(3).stride(1).padding(1));
    } else {
      a = std::make_unique<AvgPool2d>(AvgPool2dOptions(3).stride(1).padding(1));
      b = std::make_unique<AvgPool2d>(AvgPool2dOptions(3).stride(1).padding(1));
    }
    const Tensor y = a->forward(x, Mode::Train);
    b->forward(x, Mode::Train);
    const Tensor dy = testing::uniform_values(y.shape(), 3).to(gpu());
    EXPECT_TRUE(same_values(b->backward(dy), a->backward(dy))) << (max ? "max" : "avg");
  }
}

// ---- minicnn's pooling against cuDNN's.

class CudaCudnn : public CudaTest {
 protected:
  void SetUp() override {
    CudaTest::SetUp();
    if (IsSkipped()) return;
    if (!cudnn_built()) GTEST_SKIP() << "this minicnn was built without cuDNN (-DMINICNN_CUDNN=ON)";
  }
};

std::vector<PoolCase> cudnn_cases() {
  std::vector<PoolCase> out;
  for (const PoolCase& c : pool_cases()) {
    if (c.d == IntPair(1) && !c.ceil) out.push_back(c);
  }
  return out;
}

// Tie-free inputs: forward values and gradients agree (gradients up to the order of summation where
// windows overlap). Inputs are positive, so the comparison does not depend on how cuDNN pads.
TEST_F(CudaCudnn, MatchesNativeOnTieFreeInputs) {
  uint64_t seed = 400;
  for (const PoolCase& c : cudnn_cases()) {
    Tensor x = testing::spaced_values(c.x, seed++);
    const float shift = static_cast<float>(x.numel()) * 0.1f;
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] += shift;  // all positive, still 0.1 apart
    const Tensor gx = x.to(gpu());
    for (int max = 0; max < 2; ++max) {
      std::unique_ptr<Layer> native, cudnn;
      if (max) {
        native = std::make_unique<MaxPool2d>(max_options(c));
        cudnn = std::make_unique<MaxPool2d>(max_options(c).impl(PoolImpl::Cudnn));
      } else {
        native = std::make_unique<AvgPool2d>(avg_options(c));
        cudnn = std::make_unique<AvgPool2d>(avg_options(c).impl(PoolImpl::Cudnn));
      }
      const Tensor y = native->forward(gx, Mode::Train), cy = cudnn->forward(gx, Mode::Train);
      if (max) {
        EXPECT_TRUE(same_values(cy, y)) << c.name << ": max forward";
      } else {
        EXPECT_TRUE(close_values(cy, y, {.abs = 1e-6, .rel = 1e-6})) << c.name << ": avg forward";
      }
      const Tensor dy = testing::uniform_values(y.shape(), seed++).to(gpu());
      EXPECT_TRUE(close_values(cudnn->backward(dy), native->backward(dy), {.abs = 1e-6, .rel = 1e-6}))
          << c.name << (max ? ": max" : ": avg") << " backward";
    }
  }
}

// Tie-heavy inputs: which tied element gets the gradient is each library's choice, so values only.
TEST_F(CudaCudnn, MatchesNativeForwardValuesOnTies) {
  uint64_t seed = 500;
  for (const PoolCase& c : cudnn_cases()) {
    if (!(c.p == IntPair(0))) continue;  // padding: see AllNegativePaddedInput
    const Tensor x = tie_heavy(c.x, seed++, false).to(gpu());
    EXPECT_TRUE(same_values(MaxPool2d(max_options(c).impl(PoolImpl::Cudnn)).forward(x, Mode::Eval),
                            MaxPool2d(max_options(c)).forward(x, Mode::Eval)))
        << c.name;
    EXPECT_TRUE(close_values(AvgPool2d(avg_options(c).impl(PoolImpl::Cudnn)).forward(x, Mode::Eval),
                             AvgPool2d(avg_options(c)).forward(x, Mode::Eval), {.abs = 1e-6, .rel = 1e-6}))
        << c.name;
  }
}

// Does cuDNN's max pooling treat padding as -inf (PyTorch, minicnn) or as 0? An all-negative input tells.
// The test records the answer; it fails only if cuDNN gives neither.
TEST_F(CudaCudnn, AllNegativePaddedInputRecordsHowCudnnPads) {
  std::vector<float> v;
  for (int i = 1; i <= 16; ++i) v.push_back(-static_cast<float>(i));
  const Tensor x = Tensor::from_vector({1, 1, 4, 4}, v);
  const auto opts = MaxPool2dOptions(2).stride(2).padding(1);
  const Tensor minus_inf = MaxPool2d(opts).forward(x, Mode::Eval);
  std::vector<float> padded(36, 0.0f);  // the same input padded with explicit zeros
  for (int h = 0; h < 4; ++h) {
    for (int w = 0; w < 4; ++w)
      padded[static_cast<size_t>((h + 1) * 6 + w + 1)] = v[static_cast<size_t>(h * 4 + w)];
  }
  const Tensor zero =
      MaxPool2d(MaxPool2dOptions(2).stride(2)).forward(Tensor::from_vector({1, 1, 6, 6}, padded), Mode::Eval);
  const Tensor got = MaxPool2d(MaxPool2dOptions(opts).impl(PoolImpl::Cudnn)).forward(x.to(gpu()), Mode::Eval);
  const bool as_minus_inf = same_values(got, minus_inf), as_zero = same_values(got, zero);
  const char* finding = as_minus_inf ? "-inf (as PyTorch and minicnn)"
                        : as_zero    ? "0 (unlike PyTorch)"
                                     : "neither";
  std::cout << "[ finding  ] cuDNN max pooling treats padding as " << finding << "\n";
  RecordProperty("cudnn_max_pooling_padding", finding);
  EXPECT_TRUE(as_minus_inf || as_zero) << "cuDNN gave " << ::testing::PrintToString(got.to_vector());
}

// cuDNN's convolutions against minicnn's im2col + cuBLAS path: the same results within float32 rounding
// (TF32 is off by default), forward, input gradient and the added parameter gradients.
TEST_F(CudaCudnn, ConvolutionMatchesTheNativePath) {
  const struct {
    const char* name;
    Conv2dOptions options;
    Shape x;
  } cases[] = {
      {"3x3 padding 1", Conv2dOptions(3, 8, 3).padding(1), {4, 3, 12, 12}},
      {"stride 2, no bias", Conv2dOptions(4, 6, 3).stride(2).bias(false), {2, 4, 11, 10}},
      {"dilation 2", Conv2dOptions(2, 3, 3).dilation(2).padding(2), {2, 2, 9, 9}},
      {"airbench94's whitening 2x2", Conv2dOptions(3, 24, 2), {8, 3, 32, 32}},
      {"airbench94's 256 to 256", Conv2dOptions(256, 256, 3).padding(1).bias(false), {4, 256, 8, 8}},
      {"an empty batch (the gradients keep their 0.25)", Conv2dOptions(3, 8, 3).padding(1), {0, 3, 12, 12}},
  };
  ASSERT_FALSE(allow_tf32());
  uint64_t seed = 1200;
  for (const auto& c : cases) {
    Conv2d native(c.options), cudnn(Conv2dOptions(c.options).impl(ConvImpl::Cudnn));
    Generator g1(seed), g2(seed);
    native.reset_parameters(g1);
    cudnn.reset_parameters(g2);
    native.to(gpu());
    cudnn.to(gpu());
    for (Conv2d* conv : {&native, &cudnn}) {
      for (Parameter* p : conv->parameters()) p->grad = Tensor::full(p->value.shape(), 0.25f, gpu());
    }
    const Tensor x = testing::uniform_values(c.x, seed + 1).to(gpu());
    const Tensor y = native.forward(x, Mode::Train), cy = cudnn.forward(x, Mode::Train);
    EXPECT_TRUE(close_values(cy, y, {.abs = 1e-4, .rel = 1e-4})) << c.name << ": forward";
    const Tensor dy = testing::uniform_values(y.shape(), seed + 2).to(gpu());
    EXPECT_TRUE(close_values(cudnn.backward(dy), native.backward(dy), {.abs = 1e-4, .rel = 1e-4}))
        << c.name << ": input gradient";
    const auto np = native.parameters(), cp = cudnn.parameters();
    for (size_t i = 0; i < np.size(); ++i) {
      EXPECT_TRUE(close_values(cp[i]->grad, np[i]->grad, {.abs = 1e-3, .rel = 1e-4}))
          << c.name << ": gradient of " << np[i]->name;
    }
    seed += 3;
  }
}

// ---- Every other layer against the CPU.

class CudaLayers : public CudaTest {};

// Forward, input gradient and parameter gradients (which start non-zero, to prove backward adds).
void expect_layer_matches_cpu(Layer& cpu_layer, Layer& gpu_layer, const Tensor& x, double rel,
                              const std::string& what) {
  for (Parameter* p : cpu_layer.parameters()) p->grad = Tensor::full(p->value.shape(), 0.25f);
  gpu_layer.to(gpu());
  for (Parameter* p : gpu_layer.parameters()) p->grad = Tensor::full(p->value.shape(), 0.25f, gpu());
  const Tensor y = cpu_layer.forward(x, Mode::Train), gy = gpu_layer.forward(x.to(gpu()), Mode::Train);
  ASSERT_TRUE(gy.is_cuda()) << what;
  EXPECT_TRUE(close_values(gy, y, {.abs = rel, .rel = rel})) << what << ": forward";
  const Tensor dy = testing::uniform_values(y.shape(), 31);
  const Tensor dx = cpu_layer.backward(dy), gdx = gpu_layer.backward(dy.to(gpu()));
  ASSERT_EQ(dx.defined(), gdx.defined()) << what;
  if (dx.defined()) {
    ASSERT_TRUE(gdx.is_cuda()) << what;
    EXPECT_TRUE(close_values(gdx, dx, {.abs = rel, .rel = rel})) << what << ": input gradient";
  }
  const auto cp = cpu_layer.parameters(), gp = gpu_layer.parameters();
  for (size_t i = 0; i < cp.size(); ++i) {
    EXPECT_TRUE(close_values(gp[i]->grad, cp[i]->grad, {.abs = rel, .rel = rel}))
        << what << ": gradient of " << cp[i]->name;
  }
}

TEST_F(CudaLayers, Conv2dMatchesTheCpu) {
  struct Case {
    const char* name;
    Conv2dOptions options;
    Shape x;
  };
  const Case cases[] = {
      {"3x3 padding 1", Conv2dOptions(3, 4, 3).padding(1), {2, 3, 9, 9}},
      {"stride 2", Conv2dOptions(2, 5, 3).stride(2), {3, 2, 11, 10}},
      {"dilation 2, padding 2", Conv2dOptions(2, 3, 3).dilation(2).padding(2), {2, 2, 8, 8}},
      {"(3, 2) kernel, no bias",
       Conv2dOptions(3, 4, IntPair(3, 2)).bias(false).padding(IntPair(1, 0)),
       {2, 3, 7, 6}},
      {"MNIST-sized", Conv2dOptions(1, 32, 3).padding(1), {16, 1, 28, 28}},
      {"1x1", Conv2dOptions(8, 4, 1), {2, 8, 5, 5}},
      {"unbatched", Conv2dOptions(3, 2, 3), {3, 7, 7}},
  };
  uint64_t seed = 900;
  for (const Case& c : cases) {
    Conv2d cpu_conv(c.options), gpu_conv(c.options);
    Generator g1(seed), g2(seed);
    cpu_conv.reset_parameters(g1);
    gpu_conv.reset_parameters(g2);
    cpu_conv.set_needs_input_grad(true);
    gpu_conv.set_needs_input_grad(true);
    expect_layer_matches_cpu(cpu_conv, gpu_conv, testing::uniform_values(c.x, seed + 1), 1e-4, c.name);
    seed += 2;
  }
  Conv2d first_cpu(Conv2dOptions(1, 2, 3)), first_gpu(Conv2dOptions(1, 2, 3));  // no input gradient wanted
  first_cpu.set_needs_input_grad(false);
  first_gpu.set_needs_input_grad(false);
  expect_layer_matches_cpu(first_cpu, first_gpu, testing::uniform_values({2, 1, 6, 6}, 3), 1e-4,
                           "first layer");
}

TEST_F(CudaLayers, LinearMatchesTheCpu) {
  struct Case {
    const char* name;
    LinearOptions options;
    Shape x;
  };
  const Case cases[] = {{"batched", LinearOptions(20, 7), {8, 20}},
                        {"no bias", LinearOptions(33, 5).bias(false), {3, 33}},
                        {"wide", LinearOptions(3136, 128), {64, 3136}},
                        {"unbatched", LinearOptions(6, 4), {6}}};
  uint64_t seed = 70;
  for (const Case& c : cases) {
    Linear cpu_fc(c.options), gpu_fc(c.options);
    Generator g1(seed), g2(seed);
    cpu_fc.reset_parameters(g1);
    gpu_fc.reset_parameters(g2);
    expect_layer_matches_cpu(cpu_fc, gpu_fc, testing::uniform_values(c.x, seed + 1), 1e-4, c.name);
    seed += 2;
  }
}

TEST_F(CudaLayers, ReLUDropoutAndFlattenMatchTheCpuExactly) {
  Tensor x = testing::uniform_values({4, 3, 5, 5}, 8);
  x.data()[7] = kNaN;
  {
    ReLU cpu_relu, gpu_relu;
    const Tensor y = cpu_relu.forward(x, Mode::Train), gy = gpu_relu.forward(x.to(gpu()), Mode::Train);
    EXPECT_TRUE(same_values(gy, y));
    const Tensor dy = testing::uniform_values(x.shape(), 9);
    EXPECT_TRUE(same_values(gpu_relu.backward(dy.to(gpu())), cpu_relu.backward(dy)));
  }
  {
    Dropout cpu_drop(0.3f), gpu_drop(0.3f);
    cpu_drop.reseed(17);
    gpu_drop.reseed(17);
    for (int call = 0; call < 2; ++call) {  // the seed advances per call on both
      const Tensor y = cpu_drop.forward(x, Mode::Train), gy = gpu_drop.forward(x.to(gpu()), Mode::Train);
      EXPECT_TRUE(same_values(gy, y)) << "call " << call;
      const Tensor dy = testing::uniform_values(x.shape(), 10 + call);
      EXPECT_TRUE(same_values(gpu_drop.backward(dy.to(gpu())), cpu_drop.backward(dy))) << "call " << call;
    }
  }
  {
    Flatten flat;
    const Tensor gy = flat.forward(x.to(gpu()), Mode::Train);
    EXPECT_TRUE(gy.is_cuda());
    EXPECT_EQ(gy.shape(), Shape({4, 75}));
    const Tensor gdx = flat.backward(gy);
    EXPECT_TRUE(gdx.is_cuda());
    EXPECT_TRUE(same_values(gdx, x));
  }
}

TEST_F(CudaLayers, CrossEntropyLossGivesTheGradientOnTheLogitsDevice) {
  const Tensor logits = testing::uniform_values({6, 10}, 4, -3, 3);
  const Tensor targets = Tensor::from_vector_i32({6}, {0, 9, 3, 3, 7, 1});
  CrossEntropyLoss cpu_loss, gpu_loss;
  const LossResult r = cpu_loss.forward(logits, targets);
  const LossResult gr = gpu_loss.forward(logits.to(gpu()), targets.to(gpu()));
  EXPECT_EQ(r.loss, gr.loss);
  EXPECT_EQ(r.correct, gr.correct);
  const Tensor g = gpu_loss.backward();
  EXPECT_TRUE(g.is_cuda());
  EXPECT_TRUE(same_values(g, cpu_loss.backward()));
}

TEST_F(CudaLayers, OptimizersMatchTheCpu) {
  auto run = [](Device device, int which) {
    Parameter w{"weight", testing::uniform_values({5, 7}, 1).to(device),
                Tensor::zeros({5, 7}, DType::Float32, device)};
    Parameter b{"bias", testing::uniform_values({5}, 2).to(device),
                Tensor::zeros({5}, DType::Float32, device)};
    std::unique_ptr<Optimizer> opt;
    if (which == 0)
      opt = std::make_unique<SGD>(std::vector<Parameter*>{&w, &b},
                                  SGDOptions(0.1).momentum(0.9).weight_decay(1e-2));
    if (which == 1)
      opt = std::make_unique<SGD>(std::vector<Parameter*>{&w, &b},
                                  SGDOptions(0.1).momentum(0.9).nesterov(true));
    if (which == 2)
      opt = std::make_unique<Adam>(std::vector<Parameter*>{&w, &b}, AdamOptions(1e-2).weight_decay(1e-3));
    if (which == 3)
      opt = std::make_unique<AdamW>(std::vector<Parameter*>{&w, &b},
                                    AdamOptions(1e-2).weight_decay(1e-2).amsgrad(true));
    for (int step = 0; step < 3; ++step) {
      w.grad = testing::uniform_values({5, 7}, 10 + static_cast<uint64_t>(step)).to(device);
      b.grad = testing::uniform_values({5}, 20 + static_cast<uint64_t>(step)).to(device);
      opt->step();
    }
    return std::make_pair(w.value, b.value);
  };
  for (int which = 0; which < 4; ++which) {
    const auto [w, b] = run(Device::cpu(), which);
    const auto [gw, gb] = run(gpu(), which);
    EXPECT_TRUE(gw.is_cuda());
    EXPECT_TRUE(close_values(gw, w, {.abs = 1e-6, .rel = 1e-5})) << "optimizer " << which;
    EXPECT_TRUE(close_values(gb, b, {.abs = 1e-6, .rel = 1e-5})) << "optimizer " << which;
  }
}

TEST_F(CudaLayers, TensorsOnTheGpu) {
  EXPECT_EQ(Tensor::full({3, 4}, 2.5f, gpu()).to_vector(), std::vector<float>(12, 2.5f));
  EXPECT_EQ(Tensor::zeros({5}, DType::Float32, gpu()).to_vector(), std::vector<float>(5, 0.0f));
  const Tensor x = testing::uniform_values({7, 9}, 3);
  const Tensor g = x.to(gpu());
  EXPECT_TRUE(same_values(g.clone(), x));
  Tensor h = Tensor::empty({7, 9}, DType::Float32, gpu());
  h.copy_from(x);
  EXPECT_TRUE(same_values(h, x));
  // The caching allocator hands a freed block of the same size back.
  const void* p = Tensor::empty({1000}, DType::Float32, gpu()).raw_data();
  EXPECT_EQ(p, Tensor::empty({1000}, DType::Float32, gpu()).raw_data());
  EXPECT_NE(error_of([] { Tensor::empty({2}, DType::Float32, Device::cuda(99)); }).find("this machine has"),
            std::string::npos);
}

TEST_F(CudaLayers, MixingDevicesIsOneClearSentence) {
  Model m;
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<Linear>(LinearOptions(4, 2)));
  m.build({1, 2, 2}, 0);
  m.to(gpu());
  EXPECT_EQ(error_of([&] {
              m.forward(Tensor::zeros({3, 1, 2, 2}), Mode::Eval);
            }),
            "Model: the input is on cpu but the model is on cuda:0; move one of them with to()");
  Linear fc(LinearOptions(4, 2));
  EXPECT_EQ(error_of([&] {
              fc.forward(Tensor::zeros({3, 4}, DType::Float32, gpu()), Mode::Eval);
            }),
            "Linear: the input is on cuda:0 but the weight is on cpu");
  Conv2d conv(Conv2dOptions(1, 2, 3));
  EXPECT_EQ(error_of([&] {
              conv.forward(Tensor::zeros({1, 1, 5, 5}, DType::Float32, gpu()), Mode::Eval);
            }),
            "Conv2d: the input is on cuda:0 but the weight is on cpu");
  MaxPool2d pool(MaxPool2dOptions(2));
  pool.forward(Tensor::zeros({1, 1, 4, 4}, DType::Float32, gpu()), Mode::Train);
  EXPECT_EQ(error_of([&] {
              pool.backward(Tensor::zeros({1, 1, 2, 2}));
            }),
            "MaxPool2d: expected the gradient on cuda:0, but got it on cpu");
}

// BatchNorm2d in Train mode (batch statistics, running statistics updated as the CPU does, momentum=None
// included) for two steps, then in Eval mode with the running statistics.
TEST_F(CudaLayers, BatchNorm2dMatchesTheCpuInTrainAndEvalMode) {
  const struct {
    const char* name;
    BatchNorm2dOptions options;
    Shape x;
  } cases[] = {
      {"default", BatchNorm2dOptions(3), {4, 3, 5, 6}},
      {"airbench94's", BatchNorm2dOptions(8).eps(1e-12).momentum(0.4), {8, 8, 4, 4}},
      {"momentum None", BatchNorm2dOptions(2).momentum(std::nullopt), {3, 2, 7, 7}},
      {"no affine", BatchNorm2dOptions(4).affine(false), {2, 4, 3, 3}},
      {"no running statistics", BatchNorm2dOptions(3).track_running_stats(false), {5, 3, 4, 4}},
      {"one pixel per image", BatchNorm2dOptions(6), {16, 6, 1, 1}},
  };
  uint64_t seed = 300;
  for (const auto& c : cases) {
    BatchNorm2d cpu_bn(c.options), gpu_bn(c.options);
    for (int step = 0; step < 2; ++step) {
      expect_layer_matches_cpu(cpu_bn, gpu_bn, testing::uniform_values(c.x, seed++, -2.0f, 3.0f), 1e-5,
                               std::string(c.name) + ", step " + std::to_string(step));
    }
    const auto cb = cpu_bn.buffers(), gb = gpu_bn.buffers();
    for (size_t i = 0; i < cb.size(); ++i) {
      EXPECT_TRUE(close_values(gb[i]->value, cb[i]->value, {.abs = 1e-6, .rel = 1e-6}))
          << c.name << ": " << cb[i]->name;
    }
    const Tensor x = testing::uniform_values(c.x, seed++);
    EXPECT_TRUE(close_values(gpu_bn.forward(x.to(gpu()), Mode::Eval), cpu_bn.forward(x, Mode::Eval),
                             {.abs = 1e-5, .rel = 1e-5}))
        << c.name << ": Eval mode";
  }
}

TEST_F(CudaLayers, GeluAndMulMatchTheCpu) {
  for (const GeluApproximate a : {GeluApproximate::None, GeluApproximate::Tanh}) {
    GELU cpu_gelu(a), gpu_gelu(a);
    expect_layer_matches_cpu(cpu_gelu, gpu_gelu, testing::uniform_values({4, 3, 9, 9}, 17, -5.0f, 5.0f), 1e-5,
                             cpu_gelu.repr());
  }
  Mul cpu_mul(1.0f / 9), gpu_mul(1.0f / 9);
  expect_layer_matches_cpu(cpu_mul, gpu_mul, testing::uniform_values({8, 10}, 18), 0, "Mul");
}

TEST_F(CudaLayers, AdaptivePoolingMatchesTheCpuBitForBit) {
  const struct {
    Shape x;
    AdaptiveSize size;
  } cases[] = {
      {{2, 3, 7, 9}, {3, 4}}, {{4, 16, 8, 8}, {1, 1}}, {{2, 2, 4, 6}, {7, 3}}, {{3, 10, 3}, {2, -1}}};
  uint64_t seed = 500;
  for (const auto& c : cases) {
    const std::string what = c.x.str();
    const Tensor x = tie_heavy(c.x, seed++);
    AdaptiveMaxPool2d cpu_max(c.size), gpu_max(c.size);
    AdaptiveAvgPool2d cpu_avg(c.size), gpu_avg(c.size);
    const Tensor y = cpu_max.forward(x, Mode::Train), gy = gpu_max.forward(x.to(gpu()), Mode::Train);
    ASSERT_TRUE(gy.is_cuda()) << what;
    EXPECT_TRUE(same_values(gy, y)) << what << ": max forward";
    EXPECT_TRUE(same_values(gpu_max.indices(), cpu_max.indices())) << what << ": indices";
    const Tensor dy = testing::uniform_values(y.shape(), seed++);
    EXPECT_TRUE(same_values(gpu_max.backward(dy.to(gpu())), cpu_max.backward(dy)))
        << what << ": max backward";
    EXPECT_TRUE(same_values(gpu_avg.forward(x.to(gpu()), Mode::Train), cpu_avg.forward(x, Mode::Train)))
        << what << ": avg forward";
    EXPECT_TRUE(same_values(gpu_avg.backward(dy.to(gpu())), cpu_avg.backward(dy)))
        << what << ": avg backward";
  }
}

TEST_F(CudaLayers, MaxUnpool2dMatchesTheCpuAndRefusesInvalidIndices) {
  MaxPool2d pool(MaxPool2dOptions(2));
  const Tensor x = testing::uniform_values({2, 3, 8, 8}, 44);
  auto [y, idx] = pool.forward_with_indices(x);
  MaxUnpool2d cpu_unpool(MaxUnpool2dOptions(2)), gpu_unpool(MaxUnpool2dOptions(2));
  const Tensor r = cpu_unpool.forward(y, idx), gr = gpu_unpool.forward(y.to(gpu()), idx.to(gpu()));
  ASSERT_TRUE(gr.is_cuda());
  EXPECT_TRUE(same_values(gr, r)) << "forward";
  const Tensor dy = testing::uniform_values(r.shape(), 45);
  EXPECT_TRUE(same_values(gpu_unpool.backward(dy.to(gpu())), cpu_unpool.backward(dy))) << "backward";
  Tensor bad = idx.clone();
  bad.data_i32()[5] = 64;
  const std::string cpu_error = error_of([&] { cpu_unpool.forward(y, bad); });
  EXPECT_EQ(error_of([&] { gpu_unpool.forward(y.to(gpu()), bad.to(gpu())); }), cpu_error);
}

// ---- Training on the GPU.

Model small_cnn(PoolImpl impl) {
  Model m;
  m.add(std::make_unique<Conv2d>(Conv2dOptions(1, 4, 3).padding(1)));
  m.add(std::make_unique<ReLU>());
  m.add(std::make_unique<MaxPool2d>(MaxPool2dOptions(2).impl(impl)));
  m.add(std::make_unique<Conv2d>(Conv2dOptions(4, 8, 3).padding(1)));
  m.add(std::make_unique<ReLU>());
  m.add(std::make_unique<AvgPool2d>(AvgPool2dOptions(2).impl(impl)));
  m.add(std::make_unique<Flatten>());
  m.add(std::make_unique<Dropout>(0.25f));
  m.add(std::make_unique<Linear>(LinearOptions(8 * 3 * 3, 10)));
  m.build({1, 12, 12}, 7);
  return m;
}

struct TrainResult {
  std::vector<double> losses;
  std::vector<Tensor> params;
};

TrainResult train_steps(Device device, PoolImpl impl, int steps) {
  Model m = small_cnn(impl);
  m.to(device);
  SGD opt(m.parameters(), SGDOptions(0.05).momentum(0.9));
  opt.to(device);
  CrossEntropyLoss loss;
  TrainResult r;
  for (int s = 0; s < steps; ++s) {
    m.reseed(static_cast<uint64_t>(s));
    const Tensor x = testing::uniform_values({16, 1, 12, 12}, 100 + static_cast<uint64_t>(s)).to(device);
    std::vector<int32_t> labels;
    for (int i = 0; i < 16; ++i) labels.push_back((i * 7 + s) % 10);
    const Tensor y = Tensor::from_vector_i32({16}, labels).to(device);
    opt.zero_grad();
    r.losses.push_back(loss.forward(m.forward(x, Mode::Train), y).loss);
    m.backward(loss.backward());
    opt.step();
  }
  for (Parameter* p : m.parameters()) r.params.push_back(p->value.to(Device::cpu()));
  return r;
}

class CudaTraining : public CudaTest {};

TEST_F(CudaTraining, AShortRunMatchesTheCpu) {
  const TrainResult cpu = train_steps(Device::cpu(), PoolImpl::Native, 4);
  const TrainResult gpu_run = train_steps(gpu(), PoolImpl::Native, 4);
  for (size_t s = 0; s < cpu.losses.size(); ++s)
    EXPECT_NEAR(cpu.losses[s], gpu_run.losses[s], 1e-4) << "step " << s;
  for (size_t i = 0; i < cpu.params.size(); ++i) {
    EXPECT_TRUE(close_values(gpu_run.params[i], cpu.params[i], {.abs = 1e-4, .rel = 1e-3}))
        << "parameter " << i;
  }
}

TEST_F(CudaTraining, TwoRunsGiveTheSameBits) {
  const TrainResult a = train_steps(gpu(), PoolImpl::Native, 3), b = train_steps(gpu(), PoolImpl::Native, 3);
  EXPECT_EQ(a.losses, b.losses);
  for (size_t i = 0; i < a.params.size(); ++i)
    EXPECT_TRUE(same_values(b.params[i], a.params[i])) << "parameter " << i;
}

// Tensors, the optimizer and the model each make their own device current: a run on cuda:1 while cuda:0 is
// current (nothing here switches) trains as on cuda:0, and copies between the two arrive whole.
TEST_F(CudaTraining, ASecondDeviceTrainsAsTheFirstWhileTheFirstIsCurrent) {
  if (cuda_device_count() < 2) GTEST_SKIP() << "one CUDA device: the second-device test needs two";
  const TrainResult first = train_steps(Device::cuda(0), PoolImpl::Native, 3),
                    second = train_steps(Device::cuda(1), PoolImpl::Native, 3);
  for (size_t s = 0; s < first.losses.size(); ++s) EXPECT_NEAR(second.losses[s], first.losses[s], 1e-6) << s;
  for (size_t i = 0; i < first.params.size(); ++i) {
    EXPECT_TRUE(close_values(second.params[i], first.params[i], {.abs = 1e-6, .rel = 1e-5}))
        << "parameter " << i;
  }
  const Tensor x = testing::uniform_values({1 << 20}, 9);
  EXPECT_TRUE(same_values(x.to(Device::cuda(0)).to(Device::cuda(1)).to(Device::cpu()), x));
}

// The trainer's gradient check reads one flag per tensor back from the device instead of the values.
TEST_F(CudaTraining, FirstNonFiniteFindsWhatTheCpuFinds) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  Tensor a = Tensor::full({300000}, 3e38f), b = Tensor::full({5}, -1.0f), c = Tensor::zeros({70000});
  const auto on_gpu = [&] {
    const Tensor ga = a.to(gpu()), gb = b.to(gpu()), gc = c.to(gpu());
    return first_non_finite({&ga, &gb, &gc});
  };
  EXPECT_EQ(on_gpu(), -1);
  c.data()[69999] = nan;
  EXPECT_EQ(on_gpu(), 2);
  b.data()[0] = -inf;
  EXPECT_EQ(on_gpu(), 1);
  a.data()[123456] = inf;
  EXPECT_EQ(on_gpu(), 0);
  EXPECT_EQ(on_gpu(), first_non_finite({&a, &b, &c}));
  const Tensor on_cpu = Tensor::zeros({2}), there = Tensor::zeros({2}).to(gpu());
  EXPECT_THROW(first_non_finite({&on_cpu, &there}), Error);
}

// The lookahead average blends on the GPU as on the CPU (torch's lerp; the GPU may fuse its multiply-adds).
TEST_F(CudaTraining, TheLookaheadAverageMatchesTheCpu) {
  Model cpu_model = small_cnn(PoolImpl::Native), gpu_model = small_cnn(PoolImpl::Native);
  gpu_model.to(gpu());
  const Lookahead rule{2, 0.95, 3.0};
  LookaheadAverage cpu_avg(cpu_model, rule, 6), gpu_avg(gpu_model, rule, 6);
  for (int64_t step = 1; step <= 6; ++step) {
    for (Model* m : {&cpu_model, &gpu_model}) {
      for (Parameter* p : m->parameters()) {  // a stand-in for an optimizer step
        Tensor moved = p->value.to(Device::cpu()).clone();
        for (int64_t i = 0; i < moved.numel(); ++i) moved.data()[i] += 0.01f * static_cast<float>(step);
        p->value.copy_from(moved);
      }
    }
    cpu_avg.after_step(cpu_model, step);
    gpu_avg.after_step(gpu_model, step);
  }
  const auto cp = cpu_model.parameters(), gp = gpu_model.parameters();
  for (size_t i = 0; i < cp.size(); ++i) {
    EXPECT_TRUE(close_values(gp[i]->value, cp[i]->value, {.abs = 1e-6, .rel = 1e-5})) << "parameter " << i;
  }
}

// Each preset's training step on the GPU (forward, loss, backward) against the CPU's.
TEST_F(CudaTraining, EveryPresetTakesTheCpusStep) {
  for (const std::string& name : preset_names()) {
    const Preset& preset = *find_preset(name);
    Model cpu_model = parse_model(name), gpu_model = parse_model(name);
    cpu_model.build(preset.input_chw, 3);
    gpu_model.build(preset.input_chw, 3);
    gpu_model.to(gpu());
    std::vector<int64_t> dims{8};
    for (int64_t d : preset.input_chw.dims()) dims.push_back(d);
    const Tensor x = testing::uniform_values(Shape(dims), 77);
    std::vector<int32_t> labels;
    for (int i = 0; i < 8; ++i) labels.push_back(i % 10);
    const Tensor y = Tensor::from_vector_i32({8}, labels);
    CrossEntropyLoss cpu_loss, gpu_loss;
    cpu_model.reseed(1);
    gpu_model.reseed(1);
    const double lc = cpu_loss.forward(cpu_model.forward(x, Mode::Train), y).loss;
    const double lg = gpu_loss.forward(gpu_model.forward(x.to(gpu()), Mode::Train), y.to(gpu())).loss;
    EXPECT_NEAR(lg, lc, 1e-4) << name;
    cpu_model.backward(cpu_loss.backward());
    gpu_model.backward(gpu_loss.backward());
    const auto cp = cpu_model.parameters(), gp = gpu_model.parameters();
    for (size_t i = 0; i < cp.size(); ++i) {
      EXPECT_TRUE(close_values(gp[i]->grad, cp[i]->grad, {.abs = 1e-4, .rel = 1e-3}))
          << name << ": parameter " << i;
    }
  }
}

TEST_F(CudaTraining, TheCudnnPoolingPathTrainsLikeTheNativeOne) {
  if (!cudnn_built()) GTEST_SKIP() << "this minicnn was built without cuDNN (-DMINICNN_CUDNN=ON)";
  const TrainResult native = train_steps(gpu(), PoolImpl::Native, 3),
                    cudnn = train_steps(gpu(), PoolImpl::Cudnn, 3);
  for (size_t s = 0; s < native.losses.size(); ++s)
    EXPECT_NEAR(native.losses[s], cudnn.losses[s], 1e-4) << "step " << s;
}

// ---- The data pipeline on the device: batches built from the uint8 set kept there, and views of float
// images, against the CPU loader's bits.

class CudaData : public CudaTest {};

ImageDataset random_bytes(int64_t n, int64_t c, int64_t h, int64_t w, uint64_t seed) {
  ImageDataset d;
  d.name = "bytes";
  d.channels = c;
  d.height = h;
  d.width = w;
  d.classes = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  Generator gen(seed);
  for (int64_t i = 0; i < n * c * h * w; ++i) d.images.push_back(static_cast<uint8_t>(gen.next_u64() % 256));
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int32_t>(gen.next_u64() % 10));
  return d;
}

TEST_F(CudaData, DeviceBatchesAreTheCpuLoadersBitForBit) {
  const ImageDataset d = random_bytes(37, 3, 9, 7, 5);  // not square: rows and columns cannot be swapped
  const Normalization norm{{0.49f, 0.48f, 0.45f}, {0.25f, 0.24f, 0.26f}};
  struct Case {
    const char* name;
    Augment augment;
    ImageView view;
    bool drop_last;
  };
  for (const Case& c : {Case{"flip-translate", Augment::FlipTranslate, {}, false},
                        Case{"crop-flip (zero padding)", Augment::CropFlip, {}, true},
                        Case{"a fixed reflecting view", Augment::None, {true, 1, 1, true}, false},
                        Case{"a fixed zero-padded view", Augment::None, {false, -2, 1, false}, false}}) {
    LoaderOptions options;
    options.batch_size = 8;
    options.shuffle = true;
    options.seed = 11;
    options.augment = c.augment;
    options.view = c.view;
    options.drop_last = c.drop_last;
    options.normalization = norm;
    const std::vector<int64_t> subset = random_subset(37, 30, 2);
    DataLoader cpu_loader(d, options, subset);
    options.device = gpu();
    DataLoader gpu_loader(d, options, subset);
    for (int64_t epoch : {0, 1}) {
      cpu_loader.set_epoch(epoch);
      gpu_loader.set_epoch(epoch);
      for (int64_t b = 0; b < cpu_loader.num_batches(); ++b) {
        const Batch want = cpu_loader.batch(b), got = gpu_loader.batch(b);
        ASSERT_TRUE(gpu_loader.batches_built_on_device()) << c.name;  // by the kernel, not copied
        ASSERT_TRUE(got.images.is_cuda() && got.labels.is_cuda()) << c.name;
        EXPECT_EQ(got.size, want.size) << c.name;
        EXPECT_TRUE(same_values(got.images, want.images)) << c.name << ", epoch " << epoch << ", batch " << b;
        EXPECT_EQ(got.labels.to_vector_i32(), want.labels.to_vector_i32()) << c.name << ", batch " << b;
      }
    }
  }
}

TEST_F(CudaData, ViewsOfFloatImagesOnTheDeviceAreTheCpusBitForBit) {
  const Tensor x = testing::uniform_values({2, 3, 6, 5}, 19);
  std::vector<ImageView> views{{false, -2, 1, false}, {true, 0, 0, false}};
  for (const auto& [view, weight] : tta_views(2)) views.push_back(view);
  for (const ImageView& v : views) {
    const Tensor got = view_images(x.to(gpu()), v);
    EXPECT_TRUE(got.is_cuda());
    EXPECT_TRUE(same_values(got, view_images(x, v))) << "view dy " << v.dy << " dx " << v.dx;
  }
}

// evaluate() on a CUDA model: batches and test-time views made on the device, the same accuracy as the
// CPU's up to the models' float rounding.
TEST_F(CudaData, EvaluationWithTestTimeAugmentationMatchesTheCpu) {
  const ImageDataset d = random_bytes(50, 1, 12, 12, 23);
  Model cpu_model = small_cnn(PoolImpl::Native), gpu_model = small_cnn(PoolImpl::Native);
  gpu_model.to(gpu());
  const Normalization norm{{0.5f}, {0.25f}};
  for (int64_t tta : {0, 2}) {
    const EvalResult want = evaluate(cpu_model, d, norm, 16, {}, tta);
    const EvalResult got = evaluate(gpu_model, d, norm, 16, {}, tta);
    EXPECT_EQ(got.count, 50) << "tta " << tta;
    EXPECT_NEAR(got.loss, want.loss, 1e-4) << "tta " << tta;
    EXPECT_LE(std::abs(got.correct - want.correct), 1) << "tta " << tta;  // a near-tie may round apart
  }
}

}  // namespace
}  // namespace minicnn
