// The CPU pooling kernels, max and average, forward and backward, with their portable paths.
#include "pool2d_cpu.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

// One OpenMP task per (n, c) plane, so every plane is written by one thread (deterministic). Where the
// compiler targets AVX-512, the fast paths of pool2d_cpu_avx512.cpp take the geometries they handle.

namespace minicnn::cpu {
namespace {

// The columns [lo, hi) of outputs whose windows lie inside the input horizontally (every tap of the
// window's columns is a real pixel). Rows are handled per output row (valid_taps), so within [lo, hi)
// a window's valid taps are the same for every column: the rows' valid taps times all KW columns.
TapRange inside_columns(const Pool2dGeometry& g) {
  const int64_t span = g.DW * (g.KW - 1) + 1;
  int64_t lo = (g.PW + g.SW - 1) / g.SW;
  int64_t hi = g.W + g.PW - span < 0 ? 0 : (g.W + g.PW - span) / g.SW + 1;
  hi = std::min(hi, g.OW);
  lo = std::min(lo, hi);
  return {lo, hi};
}

template <bool kIdx>
void max_row_inside_scalar(const float* p, int32_t first_index, int64_t W, int64_t rows, int64_t KW,
                           int64_t SW, int64_t ow0, int64_t ow1, float* y, int32_t* idx) {
  for (int64_t ow = ow0; ow < ow1; ++ow) {
    const float* w = p + ow * SW;
    float best = kMinusInf;
    int32_t best_i = first_index + static_cast<int32_t>(ow * SW);
    for (int64_t kh = 0; kh < rows; ++kh) {
      for (int64_t kw = 0; kw < KW; ++kw) {
        const float v = w[kh * W + kw];
        const bool take = v > best || v != v;
        best = take ? v : best;
        best_i = take ? first_index + static_cast<int32_t>(ow * SW + kh * W + kw) : best_i;
      }
    }
    y[ow] = best;
    if (kIdx) idx[ow] = best_i;
  }
}

template <bool kIdx>
void max_pool2d_forward_impl(const float* x, float* y, int32_t* indices, const Pool2dGeometry& g) {
  const int64_t plane_in = g.H * g.W, plane_out = g.OH * g.OW;
  const TapRange inside = g.DH == 1 && g.DW == 1 ? inside_columns(g) : TapRange{g.OW, g.OW};
  const int threads = std::max<int>(1, std::min<int64_t>(omp_get_max_threads(), g.planes()));
#if defined(__AVX512F__)
  const bool whole_rows = g.DH == 1 && g.DW == 1 && (g.SW == 1 || g.SW == 2) && g.KW <= kMaxFastKernel;
  const TapMasks<1> masks1(whole_rows && g.SW == 1 ? g : Pool2dGeometry{});
  const TapMasks<2> masks2(whole_rows && g.SW == 2 ? g : Pool2dGeometry{});
  // Windows that overlap vertically share input rows: per thread, a ring of KH row reductions (values and
  // indices, rows padded to whole vectors); 3x3/s2 (a case of it) uses its first row as the carried row.
  const bool shared_rows = whole_rows && g.KH > g.SH;
  const bool k3s2 = shared_rows && g.KH == 3 && g.KW == 3 && g.SH == 2 && g.SW == 2;
  const std::vector<Strip3x3s2> strips3x3s2 = k3s2 ? strips_3x3s2(g) : std::vector<Strip3x3s2>{};
  const int64_t stride = (g.OW + 15) / 16 * 16;
  Tensor rows = shared_rows ? Tensor::empty({threads, 2 * g.KH * stride}) : Tensor();
#endif
#pragma omp parallel num_threads(threads)
  {
#if defined(__AVX512F__)
    float* hv = shared_rows ? rows.data() + omp_get_thread_num() * 2 * g.KH * stride : nullptr;
    int32_t* hi = shared_rows ? reinterpret_cast<int32_t*>(hv + g.KH * stride) : nullptr;
#endif
#pragma omp for schedule(static)
    for (int64_t plane = 0; plane < g.planes(); ++plane) {
      const float* xp = x + plane * plane_in;
      float* yp = y + plane * plane_out;
      int32_t* ip = kIdx ? indices + plane * plane_out : nullptr;
#if defined(__AVX512F__)
      if (k3s2) {
        if (max_plane_3x3s2<kIdx, false>(xp, g, strips3x3s2, yp, ip, hv, hi)) {
          max_plane_3x3s2<kIdx, true>(xp, g, strips3x3s2, yp, ip, hv, hi);
        }
        continue;
      }
      if (shared_rows) {
        if (g.SW == 1) {
          max_plane_shared_rows<1, kIdx>(xp, g, masks1, yp, ip, hv, hi, stride);
        } else {
          max_plane_shared_rows<2, kIdx>(xp, g, masks2, yp, ip, hv, hi, stride);
        }
        continue;
      }
      if (whole_rows) {
        if (g.SW == 1) {
          max_plane_rows<1, kIdx>(xp, g, masks1, yp, ip);
        } else {
          max_plane_rows<2, kIdx>(xp, g, masks2, yp, ip);
        }
        continue;
      }
#endif
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t h0 = oh * g.SH - g.PH;
        const TapRange th = valid_taps(h0, g.DH, g.KH, g.H);
        float* yr = yp + oh * g.OW;
        int32_t* ir = kIdx ? ip + oh * g.OW : nullptr;
        const int64_t lo = th.k0 < th.k1 ? inside.k0 : g.OW, hi_col = th.k0 < th.k1 ? inside.k1 : g.OW;
        for (int64_t ow = 0; ow < lo; ++ow) max_window<kIdx>(xp, g, oh, ow, yr + ow, kIdx ? ir + ow : nullptr);
        if (lo < hi_col) {
          const int64_t top = h0 + th.k0;  // first valid input row of this output row (dilation 1 here)
          max_row_inside_scalar<kIdx>(xp + top * g.W - g.PW, static_cast<int32_t>(top * g.W - g.PW), g.W,
                                      th.k1 - th.k0, g.KW, g.SW, lo, hi_col, yr, ir);
        }
        for (int64_t ow = std::max(hi_col, lo); ow < g.OW; ++ow) {
          max_window<kIdx>(xp, g, oh, ow, yr + ow, kIdx ? ir + ow : nullptr);
        }
      }
    }
  }
}

void avg_row_inside_scalar(const float* p, int64_t W, int64_t rows, int64_t KW, int64_t SW, int64_t ow0, int64_t ow1,
                           float divisor, float* y) {
  for (int64_t ow = ow0; ow < ow1; ++ow) {
    const float* w = p + ow * SW;
    float sum = 0.0f;
    for (int64_t kh = 0; kh < rows; ++kh) {
      for (int64_t kw = 0; kw < KW; ++kw) sum += w[kh * W + kw];
    }
    y[ow] = sum / divisor;
  }
}

}  // namespace

void max_pool2d_forward(const float* x, float* y, int32_t* indices, const Pool2dGeometry& g) {
  if (indices) {
    max_pool2d_forward_impl<true>(x, y, indices, g);
  } else {
    max_pool2d_forward_impl<false>(x, y, nullptr, g);
  }
}

void max_pool2d_backward(const float* dy, const int32_t* indices, float* dx, const Pool2dGeometry& g) {
  const int64_t plane_in = g.H * g.W, plane_out = g.OH * g.OW;
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < g.planes(); ++plane) {
    float* dxp = dx + plane * plane_in;
    const float* dyp = dy + plane * plane_out;
    const int32_t* ip = indices + plane * plane_out;
    std::memset(dxp, 0, static_cast<size_t>(plane_in) * sizeof(float));
    for (int64_t o = 0; o < plane_out; ++o) {
      if (ip[o] >= 0) dxp[ip[o]] += dyp[o];
    }
  }
}

void avg_pool2d_forward(const float* x, float* y, const Pool2dGeometry& g, AvgDivisor d) {
  const int64_t plane_in = g.H * g.W, plane_out = g.OH * g.OW;
  const TapRange inside = inside_columns(g);
#if defined(__AVX512F__)
  // The divisor of window (oh, ow) is a product of a row factor and a column factor (avg_pool_divisor with
  // the other axis' extent 1), so a row of divisors is one multiplication.
  const bool whole_rows = (g.SW == 1 || g.SW == 2) && g.KW <= kMaxFastKernel && g.OH * g.OW < (int64_t{1} << 24);
  std::vector<float> col_div(whole_rows ? static_cast<size_t>(g.OW) : 0);
  Pool2dGeometry axis_w = g;
  axis_w.KH = 1, axis_w.SH = 1, axis_w.PH = 0;
  for (int64_t ow = 0; whole_rows && ow < g.OW; ++ow) {
    col_div[static_cast<size_t>(ow)] = d.divisor_override > 0 ? 1.0f : static_cast<float>(avg_pool_divisor(axis_w, d, 0, ow));
  }
  Pool2dGeometry axis_h = g;
  axis_h.KW = 1, axis_h.SW = 1, axis_h.PW = 0;
  const TapMasks<1> masks1(whole_rows && g.SW == 1 ? g : Pool2dGeometry{});
  const TapMasks<2> masks2(whole_rows && g.SW == 2 ? g : Pool2dGeometry{});
#endif
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < g.planes(); ++plane) {
    const float* xp = x + plane * plane_in;
    float* yp = y + plane * plane_out;
#if defined(__AVX512F__)
    if (whole_rows) {
      if (g.SW == 1) {
        avg_plane_rows<1>(xp, g, d, masks1, axis_h, col_div.data(), yp);
      } else {
        avg_plane_rows<2>(xp, g, d, masks2, axis_h, col_div.data(), yp);
      }
      continue;
    }
#endif
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const int64_t h0 = std::max<int64_t>(oh * g.SH - g.PH, 0),
                    h1 = std::min<int64_t>(oh * g.SH - g.PH + g.KH, g.H);
      float* yr = yp + oh * g.OW;
      const int64_t lo = h0 < h1 ? inside.k0 : g.OW, hi = h0 < h1 ? inside.k1 : g.OW;
      for (int64_t ow = 0; ow < lo; ++ow) yr[ow] = avg_pool2d_at(xp, g, d, oh, ow);
      if (lo < hi) {
        // Every interior window of this row has the same clipped rows, so the same divisor.
        avg_row_inside_scalar(xp + h0 * g.W - g.PW, g.W, h1 - h0, g.KW, g.SW, lo, hi,
                              static_cast<float>(avg_pool_divisor(g, d, oh, lo)), yr);
      }
      for (int64_t ow = std::max(hi, lo); ow < g.OW; ++ow) yr[ow] = avg_pool2d_at(xp, g, d, oh, ow);
    }
  }
}

void avg_pool2d_backward(const float* dy, float* dx, const Pool2dGeometry& g, AvgDivisor d) {
  const int64_t plane_in = g.H * g.W, plane_out = g.OH * g.OW;
#if defined(__AVX512F__)
  if (gather_backward_fits(g)) {
    // What each output sends to the inputs it covers: dy / divisor, one division per output as torch does.
    std::vector<float> divisor(static_cast<size_t>(plane_out));
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        divisor[static_cast<size_t>(oh * g.OW + ow)] = static_cast<float>(avg_pool_divisor(g, d, oh, ow));
      }
    }
#pragma omp parallel
    {
      std::vector<float> gv(static_cast<size_t>(plane_out));
#pragma omp for schedule(static)
      for (int64_t plane = 0; plane < g.planes(); ++plane) {
        const float* dyp = dy + plane * plane_out;
        for (int64_t o = 0; o < plane_out; ++o) gv[static_cast<size_t>(o)] = dyp[o] / divisor[static_cast<size_t>(o)];
        if (g.SW == 1) {
          gather_backward_plane<1>(gv.data(), dx + plane * plane_in, g);
        } else {
          gather_backward_plane<2>(gv.data(), dx + plane * plane_in, g);
        }
      }
    }
    return;
  }
#endif
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < g.planes(); ++plane) {
    float* dxp = dx + plane * plane_in;
    const float* dyp = dy + plane * plane_out;
    std::memset(dxp, 0, static_cast<size_t>(plane_in) * sizeof(float));
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const int64_t h0 = std::max<int64_t>(oh * g.SH - g.PH, 0);
      const int64_t h1 = std::min<int64_t>(oh * g.SH - g.PH + g.KH, g.H);
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const int64_t w0 = std::max<int64_t>(ow * g.SW - g.PW, 0);
        const int64_t w1 = std::min<int64_t>(ow * g.SW - g.PW + g.KW, g.W);
        if (h0 >= h1 || w0 >= w1) continue;
        const float grad = dyp[oh * g.OW + ow] / static_cast<float>(avg_pool_divisor(g, d, oh, ow));
        for (int64_t h = h0; h < h1; ++h) {
          for (int64_t w = w0; w < w1; ++w) dxp[h * g.W + w] += grad;
        }
      }
    }
  }
}

}  // namespace minicnn::cpu
