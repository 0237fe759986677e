// The GPU pooling kernels' fast paths for square 2x2 and 3x3 windows (pool2d.cu and the CUDA tests only).
#pragma once

#include <cmath>
#include <cstdint>

#include <minicnn/host_device.h>
#include <minicnn/pool2d_window.h>

namespace minicnn {

// K and S known at compile time, dilation 1: one output or input element in 32-bit arithmetic, and four
// consecutive ones at a time. Each gives what the general rules of pool2d_window.h give, bit for bit;
// tests/cuda_test.cpp checks them on the host against the CPU kernels.

/// Four floats from a 16-byte aligned address: one vector load on the device.
MINICNN_HD void load4(const float* p, float* out) {
#ifdef __CUDA_ARCH__
  const float4 v = *reinterpret_cast<const float4*>(p);
  out[0] = v.x;
  out[1] = v.y;
  out[2] = v.z;
  out[3] = v.w;
#else
  for (int e = 0; e < 4; ++e) out[e] = p[e];
#endif
}

/// True when every coordinate of `g` fits comfortably in 32 bits: the condition for the specialised
/// (`_fixed`) paths below, which use 32-bit arithmetic.
MINICNN_HD bool pool2d_fits_int32(const Pool2dGeometry& g) {
  constexpr int64_t kLimit = int64_t{1} << 30;
  return g.H + 2 * g.PH + g.DH * g.KH < kLimit && g.W + 2 * g.PW + g.DW * g.KW < kLimit &&
         g.OH * g.SH < kLimit && g.OW * g.SW < kLimit && g.OH * g.OW < kLimit && g.H * g.W < kLimit;
}

/// avg_pool_divisor for a KxK window with stride S (dilation 1), in 32-bit arithmetic for the windows
/// inside the input (K*K without an override); the others take avg_pool_divisor.
template <int K, int S>
MINICNN_HD int64_t avg_pool_divisor_fixed(const Pool2dGeometry& g, AvgDivisor d, int32_t oh, int32_t ow) {
  if (d.divisor_override > 0) return d.divisor_override;
  const int32_t h0 = oh * S - static_cast<int32_t>(g.PH), w0 = ow * S - static_cast<int32_t>(g.PW);
  if (h0 >= 0 && w0 >= 0 && h0 + K <= static_cast<int32_t>(g.H) && w0 + K <= static_cast<int32_t>(g.W)) {
    return int64_t{K * K};
  }
  return avg_pool_divisor(g, d, oh, ow);
}

/// The taps [k0, k1) of a K-tap window starting at `start` (dilation 1) that land inside [0, size), in
/// 32-bit arithmetic: valid_taps for the fixed paths.
template <int K>
MINICNN_HD void fixed_taps(int32_t start, int32_t size, int* k0, int* k1) {
  *k0 = start < 0 ? -start : 0;
  *k1 = size - start < K ? size - start : K;
}

/// The max-pooling rule over the valid taps [kh0, kh1) x [kw0, kw1) of a KxK window, scanned in order:
/// best starts at -inf with the first valid tap, and a tap of value v wins when v > best or v is NaN.
/// tap(kh, kw) reads a tap: valid ones only, or, with kPaddingIsMinusInf, every tap, padding reading -inf
/// (it never wins; the GPU's 4-wide groups scan faster without the per-tap test). Stores the best value
/// and returns kh * K + kw of its tap, or -1 (with -inf) for a window with no valid tap, as max_pool2d_at
/// does; that cannot happen with dilation 1 and P <= K/2.
template <int K, bool kPaddingIsMinusInf, typename Tap>
MINICNN_HD int max_of_taps(int kh0, int kh1, int kw0, int kw1, const Tap& tap, float* value) {
  float best = -INFINITY;
  int best_k = kh0 < kh1 && kw0 < kw1 ? kh0 * K + kw0 : -1;
  for (int kh = 0; kh < K; ++kh) {
    for (int kw = 0; kw < K; ++kw) {
      if (!kPaddingIsMinusInf && (kh < kh0 || kh >= kh1 || kw < kw0 || kw >= kw1)) continue;
      const float v = tap(kh, kw);
      if (v > best || is_nan(v)) {
        best = v;
        best_k = kh * K + kw;
      }
    }
  }
  *value = best;
  return best_k;
}

/// The sum of the valid taps [kh0, kh1) x [kw0, kw1) of a KxK window in row-major order, as the CPU adds
/// them (0 for a window with no valid tap). tap(kh, kw) is called for valid taps only.
template <int K, typename Tap>
MINICNN_HD float sum_of_taps(int kh0, int kh1, int kw0, int kw1, const Tap& tap) {
  float sum = 0.0f;
  for (int kh = 0; kh < K; ++kh) {
    for (int kw = 0; kw < K; ++kw) {
      if (kh >= kh0 && kh < kh1 && kw >= kw0 && kw < kw1) sum += tap(kh, kw);
    }
  }
  return sum;
}

/// max_pool2d_at for a KxK window, stride S and dilation 1 known at compile time (the fast paths for 2x2
/// and 3x3 windows with stride 2 or 1): the window is scanned unrolled in 32-bit arithmetic, taps in the
/// padding skipped, with the same rules, so windows at the border do not leave the fast path (on the GPU
/// one border window in a warp would hold the whole warp on the general path). Requires
/// pool2d_fits_int32(g) and g's K, S, D.
template <int K, int S>
MINICNN_HD int64_t max_pool2d_at_fixed(const float* x, const Pool2dGeometry& g, int64_t oh, int64_t ow,
                                       float* value) {
  const int32_t H = static_cast<int32_t>(g.H), W = static_cast<int32_t>(g.W);
  const int32_t h0 = static_cast<int32_t>(oh) * S - static_cast<int32_t>(g.PH);
  const int32_t w0 = static_cast<int32_t>(ow) * S - static_cast<int32_t>(g.PW);
  int kh0, kh1, kw0, kw1;
  fixed_taps<K>(h0, H, &kh0, &kh1);
  fixed_taps<K>(w0, W, &kw0, &kw1);
  const auto tap = [&](int kh, int kw) { return x[(h0 + kh) * W + (w0 + kw)]; };
  const int best_k = max_of_taps<K, false>(kh0, kh1, kw0, kw1, tap, value);
  return best_k < 0 ? -1 : static_cast<int64_t>(h0 + best_k / K) * W + (w0 + best_k % K);
}

/// The K input rows under four consecutive KxK windows (stride S, dilation 1) of outputs (oh, ow0 ..
/// ow0 + 3), ow0 a multiple of 4, loaded in aligned 4-float chunks: once for the four outputs, instead of
/// K*K scalar loads per output. W % 4 == 0 and a 16-byte aligned x make every chunk lie wholly inside a row
/// or wholly in the padding (filled with `pad`). The windows' columns start at w0 = ow0*S - PW, which is
/// (-PW) mod 4 floats into its chunk: 0 or 3, as P <= K/2 <= 1.
template <int K, int S>
struct Group4Tile {
  static constexpr int kSpan = 3 * S + K;              // columns the four windows cover
  static constexpr int kChunks = (kSpan + 3 + 3) / 4;  // enough for either offset
  int32_t h0, w0;
  bool shifted;  // offset 3
  float v[K][4 * kChunks];

  MINICNN_HD Group4Tile(const float* x, const Pool2dGeometry& g, int64_t oh, int64_t ow0, float pad) {
    const int32_t H = static_cast<int32_t>(g.H), W = static_cast<int32_t>(g.W);
    h0 = static_cast<int32_t>(oh) * S - static_cast<int32_t>(g.PH);
    w0 = static_cast<int32_t>(ow0) * S - static_cast<int32_t>(g.PW);
    shifted = (w0 & 3) != 0;
    const int32_t first = w0 & ~3;  // first chunk's column (negative in the left padding)
    for (int kh = 0; kh < K; ++kh) {
      const int32_t h = h0 + kh;
      for (int c = 0; c < kChunks; ++c) {
        const int32_t col = first + 4 * c;
        if (h >= 0 && h < H && col >= 0 && col < W && 4 * c < kSpan + (shifted ? 3 : 0)) {
          load4(x + (h * W + col), &v[kh][4 * c]);
        } else {
          for (int e = 0; e < 4; ++e) v[kh][4 * c + e] = pad;
        }
      }
    }
  }
  /// Tap (kh, kw) of output j's window: static register indices for both offsets, then a select.
  MINICNN_HD float tap(int j, int kh, int kw) const {
    return shifted ? v[kh][3 + j * S + kw] : v[kh][j * S + kw];
  }
};

/// Four consecutive outputs of max_pool2d_at_fixed through a Group4Tile whose padding reads -inf, by the
/// same scan.
template <int K, int S>
MINICNN_HD void max_pool2d_group4_fixed(const float* x, const Pool2dGeometry& g, int64_t oh, int64_t ow0,
                                        float* values, int32_t* at) {
  const Group4Tile<K, S> t(x, g, oh, ow0, -INFINITY);
  const int32_t H = static_cast<int32_t>(g.H), W = static_cast<int32_t>(g.W);
  int kh0, kh1;
  fixed_taps<K>(t.h0, H, &kh0, &kh1);
  for (int j = 0; j < 4; ++j) {
    const int32_t wj = t.w0 + j * S;
    int kw0, kw1;
    fixed_taps<K>(wj, W, &kw0, &kw1);
    const auto tap = [&](int kh, int kw) { return t.tap(j, kh, kw); };
    const int best_k = max_of_taps<K, true>(kh0, kh1, kw0, kw1, tap, &values[j]);
    at[j] = best_k < 0 ? -1 : (t.h0 + best_k / K) * W + (wj + best_k % K);
  }
}

/// The outputs [oh0, oh1) x [ow0, ow1) whose KxK windows (stride S, dilation 1) cover input (ih, iw), in
/// 32-bit arithmetic: o with o*S <= i + P <= o*S + K - 1, as covering_outputs computes them. OW is the
/// plane's output width, for indexing.
struct FixedOutputBox {
  int32_t oh0, oh1, ow0, ow1, OW;
};
template <int K, int S>
MINICNN_HD FixedOutputBox covering_outputs_fixed(const Pool2dGeometry& g, int64_t ih, int64_t iw) {
  const int32_t OH = static_cast<int32_t>(g.OH), OW = static_cast<int32_t>(g.OW);
  const int32_t hp = static_cast<int32_t>(ih + g.PH), wp = static_cast<int32_t>(iw + g.PW);
  FixedOutputBox b;
  b.oh0 = hp - (K - 1) <= 0 ? 0 : (hp - (K - 1) + S - 1) / S;
  b.ow0 = wp - (K - 1) <= 0 ? 0 : (wp - (K - 1) + S - 1) / S;
  b.oh1 = hp / S + 1 < OH ? hp / S + 1 : OH;
  b.ow1 = wp / S + 1 < OW ? wp / S + 1 : OW;
  b.OW = OW;
  return b;
}

/// The outputs whose KxK windows (stride S, dilation 1) cover any of four consecutive inputs (ih, iw0 ..
/// iw0 + 3), as a grid of kRows x kCols cells from (first.oh0, first.ow0); cell (a, c) is one of them
/// when has(a, c). Each input's own outputs are covering_outputs_fixed of it, a sub-box of the grid.
template <int K, int S>
struct Group4Outputs {
  static constexpr int kRows = (K + S - 1) / S;      // output rows covering one input row
  static constexpr int kCols = (3 + K - 1) / S + 1;  // output columns covering four inputs, at most
  FixedOutputBox first;
  int32_t ow1;  // one past the last column covering input iw0 + 3
  MINICNN_HD Group4Outputs(const Pool2dGeometry& g, int64_t ih, int64_t iw0)
      : first(covering_outputs_fixed<K, S>(g, ih, iw0)),
        ow1(covering_outputs_fixed<K, S>(g, ih, iw0 + 3).ow1) {}
  MINICNN_HD int32_t oh(int a) const { return first.oh0 + a; }
  MINICNN_HD int32_t ow(int c) const { return first.ow0 + c; }
  MINICNN_HD bool has(int a, int c) const { return oh(a) < first.oh1 && ow(c) < ow1; }
  MINICNN_HD int32_t index(int a, int c) const { return oh(a) * first.OW + ow(c); }
};

/// max_pool2d_backward_at with K, S (dilation 1) known at compile time, in 32-bit arithmetic; same
/// requirements as max_pool2d_at_fixed. The box has at most ceil(K/S) outputs per axis, so the loops have
/// fixed trip counts and every load is issued at once; a select keeps the sum's bits those of the CPU's
/// (adding a 0 instead would turn a -0 sum into +0).
template <int K, int S>
MINICNN_HD float max_pool2d_backward_at_fixed(const float* dy, const int32_t* indices,
                                              const Pool2dGeometry& g, int64_t ih, int64_t iw) {
  constexpr int kSpan = (K + S - 1) / S;
  const FixedOutputBox b = covering_outputs_fixed<K, S>(g, ih, iw);
  const int32_t target = static_cast<int32_t>(ih * g.W + iw);
  float sum = 0.0f;
  for (int a = 0; a < kSpan; ++a) {
    for (int c = 0; c < kSpan; ++c) {
      const int32_t oh = b.oh0 + a, ow = b.ow0 + c;
      if (oh >= b.oh1 || ow >= b.ow1) continue;
      const int32_t o = oh * b.OW + ow;
      const float d = dy[o];
      sum = indices[o] == target ? sum + d : sum;
    }
  }
  return sum;
}

/// dL/dx at four consecutive inputs (ih, iw0 .. iw0 + 3) of max pooling with fixed K, S: the outputs
/// whose windows cover any of the four are loaded once, then each input sums the dy of those that picked
/// it, in output order. An output that picked an input covers it, so no per-input range test is needed,
/// and the sums are max_pool2d_backward_at_fixed's, bit for bit. iw0 + 3 < W.
template <int K, int S>
MINICNN_HD void max_pool2d_backward_group4_fixed(const float* dy, const int32_t* indices,
                                                 const Pool2dGeometry& g, int64_t ih, int64_t iw0,
                                                 float* out) {
  using Grid = Group4Outputs<K, S>;
  const Grid grid(g, ih, iw0);
  int32_t picked[Grid::kRows][Grid::kCols];
  float grad[Grid::kRows][Grid::kCols];
  for (int a = 0; a < Grid::kRows; ++a) {
    for (int c = 0; c < Grid::kCols; ++c) {
      if (grid.has(a, c)) {
        picked[a][c] = indices[grid.index(a, c)];
        grad[a][c] = dy[grid.index(a, c)];
      } else {
        picked[a][c] = -1;  // never an input's index
        grad[a][c] = 0.0f;
      }
    }
  }
  const int32_t row = static_cast<int32_t>(ih * g.W + iw0);
  for (int j = 0; j < 4; ++j) {
    float sum = 0.0f;
    for (int a = 0; a < Grid::kRows; ++a) {
      for (int c = 0; c < Grid::kCols; ++c) sum = picked[a][c] == row + j ? sum + grad[a][c] : sum;
    }
    out[j] = sum;
  }
}

/// avg_pool2d_at with K, S known at compile time: the window's taps inside the input summed unrolled, in
/// the CPU's order, divided by avg_pool_divisor_fixed.
template <int K, int S>
MINICNN_HD float avg_pool2d_at_fixed(const float* x, const Pool2dGeometry& g, AvgDivisor d, int64_t oh,
                                     int64_t ow) {
  const int32_t H = static_cast<int32_t>(g.H), W = static_cast<int32_t>(g.W);
  const int32_t h0 = static_cast<int32_t>(oh) * S - static_cast<int32_t>(g.PH);
  const int32_t w0 = static_cast<int32_t>(ow) * S - static_cast<int32_t>(g.PW);
  int kh0, kh1, kw0, kw1;
  fixed_taps<K>(h0, H, &kh0, &kh1);
  fixed_taps<K>(w0, W, &kw0, &kw1);
  if (kh0 >= kh1 || kw0 >= kw1) return 0.0f;  // no valid tap (impossible, see max_of_taps)
  const auto tap = [&](int kh, int kw) { return x[(h0 + kh) * W + (w0 + kw)]; };
  return sum_of_taps<K>(kh0, kh1, kw0, kw1, tap) /
         static_cast<float>(
             avg_pool_divisor_fixed<K, S>(g, d, static_cast<int32_t>(oh), static_cast<int32_t>(ow)));
}

/// avg_pool2d_backward_at with K, S known at compile time (32-bit ranges, fixed trip counts as in
/// max_pool2d_backward_at_fixed); same requirements as above.
template <int K, int S>
MINICNN_HD float avg_pool2d_backward_at_fixed(const float* dy, const Pool2dGeometry& g, AvgDivisor d,
                                              int64_t ih, int64_t iw) {
  constexpr int kSpan = (K + S - 1) / S;
  const FixedOutputBox b = covering_outputs_fixed<K, S>(g, ih, iw);
  float sum = 0.0f;
  for (int a = 0; a < kSpan; ++a) {
    for (int c = 0; c < kSpan; ++c) {
      const int32_t oh = b.oh0 + a, ow = b.ow0 + c;
      if (oh >= b.oh1 || ow >= b.ow1) continue;
      sum += dy[oh * b.OW + ow] / static_cast<float>(avg_pool_divisor_fixed<K, S>(g, d, oh, ow));
    }
  }
  return sum;
}

/// Four consecutive outputs of avg_pool2d_at_fixed through a Group4Tile: the valid taps summed in the
/// same order, the same divisor.
template <int K, int S>
MINICNN_HD void avg_pool2d_group4_fixed(const float* x, const Pool2dGeometry& g, AvgDivisor d, int64_t oh,
                                        int64_t ow0, float* values) {
  const Group4Tile<K, S> t(x, g, oh, ow0, 0.0f);  // sum_of_taps skips the padding
  const int32_t H = static_cast<int32_t>(g.H), W = static_cast<int32_t>(g.W);
  int kh0, kh1;
  fixed_taps<K>(t.h0, H, &kh0, &kh1);
  for (int j = 0; j < 4; ++j) {
    int kw0, kw1;
    fixed_taps<K>(t.w0 + j * S, W, &kw0, &kw1);
    if (kh0 >= kh1 || kw0 >= kw1) {  // as avg_pool2d_at_fixed
      values[j] = 0.0f;
      continue;
    }
    const auto tap = [&](int kh, int kw) { return t.tap(j, kh, kw); };
    const float sum = sum_of_taps<K>(kh0, kh1, kw0, kw1, tap);
    const int64_t divisor =
        avg_pool_divisor_fixed<K, S>(g, d, static_cast<int32_t>(oh), static_cast<int32_t>(ow0) + j);
    values[j] = sum / static_cast<float>(divisor);
  }
}

/// dL/dx at four consecutive inputs (ih, iw0 .. iw0 + 3) of average pooling with fixed K, S: each covering
/// output's dy / divisor is computed once for the four, then each input sums those of the outputs that
/// cover it, in output order (avg_pool2d_backward_at_fixed's sums, bit for bit). iw0 + 3 < W.
template <int K, int S>
MINICNN_HD void avg_pool2d_backward_group4_fixed(const float* dy, const Pool2dGeometry& g, AvgDivisor d,
                                                 int64_t ih, int64_t iw0, float* out) {
  using Grid = Group4Outputs<K, S>;
  const Grid grid(g, ih, iw0);
  float share[Grid::kRows][Grid::kCols];
  for (int a = 0; a < Grid::kRows; ++a) {
    for (int c = 0; c < Grid::kCols; ++c) {
      share[a][c] = grid.has(a, c)
                        ? dy[grid.index(a, c)] /
                              static_cast<float>(avg_pool_divisor_fixed<K, S>(g, d, grid.oh(a), grid.ow(c)))
                        : 0.0f;
    }
  }
  for (int j = 0; j < 4; ++j) {
    const FixedOutputBox b = covering_outputs_fixed<K, S>(g, ih, iw0 + j);
    float sum = 0.0f;
    for (int a = 0; a < Grid::kRows; ++a) {
      for (int c = 0; c < Grid::kCols; ++c) {
        if (grid.oh(a) < b.oh1 && grid.ow(c) >= b.ow0 && grid.ow(c) < b.ow1) sum += share[a][c];
      }
    }
    out[j] = sum;
  }
}

}  // namespace minicnn
