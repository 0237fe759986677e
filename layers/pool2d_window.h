// Pooling index arithmetic shared by the CPU kernels, the CUDA kernels and the host self-test.
#pragma once

#include <cmath>
#include <cstdint>

#include <minicnn/host_device.h>
#include <minicnn/pool2d_geometry.h>

namespace minicnn {

/// The taps [k0, k1) of a window along one axis that land inside [0, size): window start `start`
/// (may be negative, in the padding), dilation D, K taps. Empty (k0 >= k1) when no tap lands inside.
struct TapRange {
  int64_t k0, k1;
};

MINICNN_HD TapRange valid_taps(int64_t start, int64_t D, int64_t K, int64_t size) {
  // First tap with start + k*D >= 0, and one past the last with start + k*D < size.
  int64_t k0 = start >= 0 ? 0 : (-start + D - 1) / D;
  int64_t k1 = size - start <= 0 ? 0 : (size - start + D - 1) / D;
  if (k1 > K) k1 = K;
  if (k0 > k1) k0 = k1;
  return {k0, k1};
}

/// The range [o0, o1) of outputs along one axis whose window can contain input coordinate `i`
/// (window of output o starts at o*S - P and spans (K-1)*D+1 input cells). Used by gather backwards.
MINICNN_HD TapRange covering_outputs(int64_t i, int64_t K, int64_t S, int64_t P, int64_t D, int64_t out) {
  // o*S - P <= i  and  o*S - P + (K-1)*D >= i
  const int64_t hi = i + P;                    // o <= hi / S
  const int64_t lo_num = i + P - (K - 1) * D;  // o >= ceil(lo_num / S)
  int64_t o0 = lo_num <= 0 ? 0 : (lo_num + S - 1) / S;
  int64_t o1 = hi / S + 1;
  if (o1 > out) o1 = out;
  if (o0 > o1) o0 = o1;
  return {o0, o1};
}

/// The divisor of average-pooling window (oh, ow), mirroring torch: the window is clipped to the padded
/// extent H + P first (so a ceil_mode window hanging past the padding divides by less), then, without
/// count_include_pad, to the input itself.
MINICNN_HD int64_t avg_pool_divisor(const Pool2dGeometry& g, AvgDivisor d, int64_t oh, int64_t ow) {
  if (d.divisor_override > 0) return d.divisor_override;
  int64_t h0 = oh * g.SH - g.PH, w0 = ow * g.SW - g.PW;
  int64_t h1 = h0 + g.KH < g.H + g.PH ? h0 + g.KH : g.H + g.PH;
  int64_t w1 = w0 + g.KW < g.W + g.PW ? w0 + g.KW : g.W + g.PW;
  if (d.count_include_pad) return (h1 - h0) * (w1 - w0);
  h0 = h0 < 0 ? 0 : h0;
  w0 = w0 < 0 ? 0 : w0;
  h1 = h1 > g.H ? g.H : h1;
  w1 = w1 > g.W ? g.W : w1;
  return (h1 - h0) * (w1 - w0);
}

// ---- One output (forward) or one input element (backward) of each pooling kernel. The CUDA kernels run
// one thread per call; tests/cuda_test.cpp runs the same functions on the host against the CPU kernels,
// which they mirror rule for rule and sum in the same order, so the results are bit-identical.

/// NaN test that needs nothing from <cmath> on the device.
MINICNN_HD bool is_nan(float v) {
  return v != v;
}

/// Max pooling of output (oh, ow) over one (H, W) plane `x`: stores the maximum in *value and returns its
/// flat index h*W + w. Mirrors cpu::max_pool2d_forward: padding is -inf (never a candidate); best starts
/// at the window's first valid element; `v > best || isnan(v)`, so the first maximum wins ties, NaN
/// propagates and the last NaN's index wins; a window with no valid element gives -inf and index -1.
MINICNN_HD int64_t max_pool2d_at(const float* x, const Pool2dGeometry& g, int64_t oh, int64_t ow,
                                 float* value) {
  const int64_t h0 = oh * g.SH - g.PH, w0 = ow * g.SW - g.PW;
  const TapRange th = valid_taps(h0, g.DH, g.KH, g.H), tw = valid_taps(w0, g.DW, g.KW, g.W);
  float best = -INFINITY;
  int64_t best_i = -1;
  if (th.k0 < th.k1 && tw.k0 < tw.k1) best_i = (h0 + th.k0 * g.DH) * g.W + (w0 + tw.k0 * g.DW);
  for (int64_t kh = th.k0; kh < th.k1; ++kh) {
    const int64_t row = (h0 + kh * g.DH) * g.W;
    for (int64_t kw = tw.k0; kw < tw.k1; ++kw) {
      const int64_t i = row + w0 + kw * g.DW;
      const float v = x[i];
      if (v > best || is_nan(v)) {
        best = v;
        best_i = i;
      }
    }
  }
  *value = best;
  return best_i;
}

/// dy summed, in output order, over the outputs (rh x rw of a plane OW wide) whose stored index is `target`:
/// the gather both max-pooling backwards share.
MINICNN_HD float sum_where_index_is(const float* dy, const int32_t* indices, int64_t OW, TapRange rh,
                                    TapRange rw, int64_t target) {
  float sum = 0.0f;
  for (int64_t oh = rh.k0; oh < rh.k1; ++oh) {
    for (int64_t ow = rw.k0; ow < rw.k1; ++ow) {
      const int64_t o = oh * OW + ow;
      if (indices[o] == target) sum += dy[o];
    }
  }
  return sum;
}

/// dL/dx at input (ih, iw) of one plane of max pooling: dy summed over the outputs whose stored index is
/// ih*W + iw, in output order, which is the order cpu::max_pool2d_backward scatters in (bit-identical).
/// `dy` and `indices` point at the plane's (OH, OW) outputs. A gather: no atomics, deterministic.
MINICNN_HD float max_pool2d_backward_at(const float* dy, const int32_t* indices, const Pool2dGeometry& g,
                                        int64_t ih, int64_t iw) {
  const TapRange rh = covering_outputs(ih, g.KH, g.SH, g.PH, g.DH, g.OH);
  const TapRange rw = covering_outputs(iw, g.KW, g.SW, g.PW, g.DW, g.OW);
  return sum_where_index_is(dy, indices, g.OW, rh, rw, ih * g.W + iw);
}

/// Average pooling of output (oh, ow) over one plane: the window clipped to the input, summed row by
/// row, divided by avg_pool_divisor; mirrors cpu::avg_pool2d_forward (same order: bit-identical). A
/// window holding no input element gives 0.
MINICNN_HD float avg_pool2d_at(const float* x, const Pool2dGeometry& g, AvgDivisor d, int64_t oh,
                               int64_t ow) {
  int64_t h0 = oh * g.SH - g.PH, w0 = ow * g.SW - g.PW;
  int64_t h1 = h0 + g.KH < g.H ? h0 + g.KH : g.H;
  int64_t w1 = w0 + g.KW < g.W ? w0 + g.KW : g.W;
  h0 = h0 < 0 ? 0 : h0;
  w0 = w0 < 0 ? 0 : w0;
  if (h0 >= h1 || w0 >= w1) return 0.0f;
  float sum = 0.0f;
  for (int64_t h = h0; h < h1; ++h) {
    for (int64_t w = w0; w < w1; ++w) sum += x[h * g.W + w];
  }
  return sum / static_cast<float>(avg_pool_divisor(g, d, oh, ow));
}

/// dL/dx at input (ih, iw) of one plane of average pooling: dy / divisor summed over the covering outputs
/// in output order, as cpu::avg_pool2d_backward adds them (bit-identical).
MINICNN_HD float avg_pool2d_backward_at(const float* dy, const Pool2dGeometry& g, AvgDivisor d, int64_t ih,
                                        int64_t iw) {
  const TapRange rh = covering_outputs(ih, g.KH, g.SH, g.PH, 1, g.OH);
  const TapRange rw = covering_outputs(iw, g.KW, g.SW, g.PW, 1, g.OW);
  float sum = 0.0f;
  for (int64_t oh = rh.k0; oh < rh.k1; ++oh) {
    for (int64_t ow = rw.k0; ow < rw.k1; ++ow) {
      sum += dy[oh * g.OW + ow] / static_cast<float>(avg_pool_divisor(g, d, oh, ow));
    }
  }
  return sum;
}

// ---- Adaptive pooling (AdaptiveMaxPool2d, AdaptiveAvgPool2d): window o of an axis of `in` cells cut into
// `out` windows spans [floor(o*in/out), ceil((o+1)*in/out)), torch's rule. The geometry's K, S and P are
// unused; the CPU layers and the CUDA kernels call the functions below.

MINICNN_HD int64_t adaptive_start(int64_t o, int64_t in, int64_t out) {
  return (o * in) / out;
}
MINICNN_HD int64_t adaptive_end(int64_t o, int64_t in, int64_t out) {
  return ((o + 1) * in + out - 1) / out;
}

/// The outputs [o0, o1) whose adaptive window holds input cell `i`: start(o) <= i exactly when
/// o < ceil((i+1)*out/in), and end(o) > i exactly when o >= floor(i*out/in). Used by the gather backwards.
MINICNN_HD TapRange adaptive_covering_outputs(int64_t i, int64_t in, int64_t out) {
  return {(i * out) / in, ((i + 1) * out + in - 1) / in};
}

/// Adaptive max pooling of output (oh, ow) over one plane: the max-pooling rules of max_pool2d_at (best
/// starts at the window's first element; `v > best || isnan(v)`); stores the maximum in *value and returns
/// its flat index h*W + w.
MINICNN_HD int64_t adaptive_max_pool2d_at(const float* x, const Pool2dGeometry& g, int64_t oh, int64_t ow,
                                          float* value) {
  const int64_t h0 = adaptive_start(oh, g.H, g.OH), h1 = adaptive_end(oh, g.H, g.OH);
  const int64_t w0 = adaptive_start(ow, g.W, g.OW), w1 = adaptive_end(ow, g.W, g.OW);
  float best = -INFINITY;
  int64_t best_i = h0 * g.W + w0;
  for (int64_t h = h0; h < h1; ++h) {
    for (int64_t w = w0; w < w1; ++w) {
      const float v = x[h * g.W + w];
      if (v > best || is_nan(v)) {
        best = v;
        best_i = h * g.W + w;
      }
    }
  }
  *value = best;
  return best_i;
}

/// The number of input cells in adaptive window (oh, ow): the divisor of adaptive average pooling.
MINICNN_HD int64_t adaptive_window_area(const Pool2dGeometry& g, int64_t oh, int64_t ow) {
  return (adaptive_end(oh, g.H, g.OH) - adaptive_start(oh, g.H, g.OH)) *
         (adaptive_end(ow, g.W, g.OW) - adaptive_start(ow, g.W, g.OW));
}

/// Adaptive average pooling of output (oh, ow) over one plane, summed row by row.
MINICNN_HD float adaptive_avg_pool2d_at(const float* x, const Pool2dGeometry& g, int64_t oh, int64_t ow) {
  const int64_t h0 = adaptive_start(oh, g.H, g.OH), h1 = adaptive_end(oh, g.H, g.OH);
  const int64_t w0 = adaptive_start(ow, g.W, g.OW), w1 = adaptive_end(ow, g.W, g.OW);
  float sum = 0.0f;
  for (int64_t h = h0; h < h1; ++h) {
    for (int64_t w = w0; w < w1; ++w) sum += x[h * g.W + w];
  }
  return sum / static_cast<float>(adaptive_window_area(g, oh, ow));
}

/// dL/dx at input (ih, iw) of one plane of adaptive max pooling: dy summed, in output order, over the
/// covering outputs whose stored index is ih*W + iw (the order of the CPU's scatter: bit-identical).
MINICNN_HD float adaptive_max_pool2d_backward_at(const float* dy, const int32_t* indices,
                                                 const Pool2dGeometry& g, int64_t ih, int64_t iw) {
  const TapRange rh = adaptive_covering_outputs(ih, g.H, g.OH), rw = adaptive_covering_outputs(iw, g.W, g.OW);
  return sum_where_index_is(dy, indices, g.OW, rh, rw, ih * g.W + iw);
}

/// dL/dx at input (ih, iw) of one plane of adaptive average pooling: dy / area summed over the covering
/// outputs in output order, as the CPU's scatter adds them (bit-identical).
MINICNN_HD float adaptive_avg_pool2d_backward_at(const float* dy, const Pool2dGeometry& g, int64_t ih,
                                                 int64_t iw) {
  const TapRange rh = adaptive_covering_outputs(ih, g.H, g.OH), rw = adaptive_covering_outputs(iw, g.W, g.OW);
  float sum = 0.0f;
  for (int64_t oh = rh.k0; oh < rh.k1; ++oh) {
    for (int64_t ow = rw.k0; ow < rw.k1; ++ow) {
      sum += dy[oh * g.OW + ow] / static_cast<float>(adaptive_window_area(g, oh, ow));
    }
  }
  return sum;
}

}  // namespace minicnn
