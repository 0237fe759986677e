// The AVX-512 fast paths of the CPU pooling kernels (empty where the compiler does not target AVX-512).
#include "pool2d_cpu.h"

// Max pooling by whole rows, by planes sharing input rows and by 3x3/s2 strips, average pooling by whole
// rows, and the average backward's gather. Without AVX-512 this file compiles to nothing and pool2d_cpu.cpp
// takes its portable paths.
#if defined(__AVX512F__)

#include <algorithm>
#include <vector>

namespace minicnn::cpu {
namespace {

// Tap kw of the outputs [ow, ow + 16) from input row `row`; columns outside the input read `fill`
// (-inf for max, 0 for avg) without touching memory.
template <int S>
inline __m512 load_taps(const float* row, int64_t ow, int64_t kw, const Pool2dGeometry& g, const TapMasks<S>& m,
                        __m512 fill) {
  const float* p = row + ow * S - g.PW + kw;
  if constexpr (S == 1) {
    return _mm512_mask_loadu_ps(fill, m.lo_of(ow, kw), p);
  } else {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(_mm512_mask_loadu_ps(fill, m.lo_of(ow, kw), p), even,
                                  _mm512_mask_loadu_ps(fill, m.hi_of(ow, kw), p + 16));
  }
}

// One max-pooling update: tap (v, i) wins over (best, best_i) when v > best or v is NaN.
inline void max_update(__m512& best, __m512i& best_i, __m512 v, __m512i i) {
  const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  best = _mm512_mask_mov_ps(best, take, v);
  best_i = _mm512_mask_mov_epi32(best_i, take, i);
}

// 16 outputs [ow, ow + 16) of one output row over ROWS valid input rows starting at `top` (ROWS = 0: the
// runtime count `rows`). Each input row is a contiguous run of taps, reduced on its own (independent
// dependency chains, so the core overlaps them), then the rows are folded in order with the same update:
// that update picks the last NaN if there is one, else the first maximum, and doing so is associative, so
// the result equals the one sequential pass over all taps that DESIGN section 3 defines. Each row starts
// at -inf with the index of its first valid pixel; columns outside the input read -inf and never win.
template <int S, bool kIdx, int ROWS>
inline void max_block(const float* xp, const Pool2dGeometry& g, const TapMasks<S>& masks, int64_t top, int64_t rows,
                      int64_t ow, __mmask16 out_mask, float* y, int32_t* idx) {
  constexpr int kSlots = ROWS > 0 ? ROWS : 1;
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512 minus_inf = _mm512_set1_ps(kMinusInf);
  const __m512i col0 = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(ow * S - g.PW)),
                                        _mm512_mullo_epi32(lane, _mm512_set1_epi32(S)));
  const __m512i first_col = _mm512_max_epi32(col0, _mm512_setzero_si512());
  __m512 best[kSlots];
  __m512i best_i[kSlots];
  if constexpr (ROWS > 0) {
    for (int r = 0; r < ROWS; ++r) {
      best[r] = minus_inf;
      best_i[r] = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>((top + r) * g.W)), first_col);
    }
    for (int64_t kw = 0; kw < g.KW; ++kw) {
      for (int r = 0; r < ROWS; ++r) {
        const __m512i at = _mm512_add_epi32(col0, _mm512_set1_epi32(static_cast<int32_t>((top + r) * g.W + kw)));
        max_update(best[r], best_i[r], load_taps<S>(xp + (top + r) * g.W, ow, kw, g, masks, minus_inf), at);
      }
    }
    for (int r = 1; r < ROWS; ++r) max_update(best[0], best_i[0], best[r], best_i[r]);
  } else {
    best[0] = minus_inf;
    best_i[0] = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(top * g.W)), first_col);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const __m512i at = _mm512_add_epi32(col0, _mm512_set1_epi32(static_cast<int32_t>((top + r) * g.W + kw)));
        max_update(best[0], best_i[0], load_taps<S>(xp + (top + r) * g.W, ow, kw, g, masks, minus_inf), at);
      }
    }
  }
  _mm512_mask_storeu_ps(y + ow, out_mask, best[0]);
  if constexpr (kIdx) _mm512_mask_storeu_epi32(idx + ow, out_mask, best_i[0]);
}

// One whole output row of max pooling (dilation 1, stride S in {1, 2}), 16 outputs per step; the taps
// kh in [th.k0, th.k1) are the row's valid ones.
template <int S, bool kIdx>
void max_row(const float* xp, const Pool2dGeometry& g, const TapMasks<S>& masks, int64_t oh, const TapRange& th,
             float* y, int32_t* idx) {
  const int64_t top = oh * g.SH - g.PH + th.k0, rows = th.k1 - th.k0;
  for (int64_t ow = 0; ow < g.OW; ow += 16) {
    const __mmask16 out_mask = lanes_in(0, g.OW, ow);
    switch (rows) {
      case 1: max_block<S, kIdx, 1>(xp, g, masks, top, rows, ow, out_mask, y, idx); break;
      case 2: max_block<S, kIdx, 2>(xp, g, masks, top, rows, ow, out_mask, y, idx); break;
      case 3: max_block<S, kIdx, 3>(xp, g, masks, top, rows, ow, out_mask, y, idx); break;
      case 4: max_block<S, kIdx, 4>(xp, g, masks, top, rows, ow, out_mask, y, idx); break;
      default: max_block<S, kIdx, 0>(xp, g, masks, top, rows, ow, out_mask, y, idx); break;
    }
  }
}

}  // namespace

template <int S, bool kIdx>
void max_plane_rows(const float* xp, const Pool2dGeometry& g, const TapMasks<S>& masks, float* yp,
                    int32_t* ip) {
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const TapRange th = valid_taps(oh * g.SH - g.PH, g.DH, g.KH, g.H);
    float* yr = yp + oh * g.OW;
    int32_t* ir = kIdx ? ip + oh * g.OW : nullptr;
    if (th.k0 < th.k1) {
      max_row<S, kIdx>(xp, g, masks, oh, th, yr, ir);
    } else {  // a window with no valid row (the shared rule gives -inf and index -1)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        max_window<kIdx>(xp, g, oh, ow, yr + ow, kIdx ? ir + ow : nullptr);
      }
    }
  }
}

// Max pooling of a plane whose windows overlap vertically (KH > SH: input rows shared by several output
// rows, as in 3x3/s2 and 2x2/s1): each input row's horizontal reduction (value and index for every output
// column, exactly as max_block reduces one row) is computed once, into a ring of KH rows of `stride`
// entries (hv, hi; small enough for L1), and every output row folds its valid rows from the ring in
// order, as max_block folds them. The same values and indices as max_row, with each input row's taps
// read once instead of KH/SH times.
template <int S, bool kIdx>
void max_plane_shared_rows(const float* xp, const Pool2dGeometry& g, const TapMasks<S>& masks, float* yp, int32_t* ip,
                           float* hv, int32_t* hi, int64_t stride) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512 minus_inf = _mm512_set1_ps(kMinusInf);
  auto reduce_row = [&](int64_t r) {
    const float* row = xp + r * g.W;
    float* v = hv + (r % g.KH) * stride;
    int32_t* vi = hi + (r % g.KH) * stride;
    const __m512i row_start = _mm512_set1_epi32(static_cast<int32_t>(r * g.W));
    for (int64_t ow = 0; ow < g.OW; ow += 16) {
      const __m512i col0 = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(r * g.W + ow * S - g.PW)),
                                            _mm512_mullo_epi32(lane, _mm512_set1_epi32(S)));
      // Starts at -inf with the index of the row's first valid pixel of the window, as max_block does.
      __m512 best = minus_inf;
      __m512i best_i = _mm512_max_epi32(col0, row_start);
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        max_update(best, best_i, load_taps<S>(row, ow, kw, g, masks, minus_inf),
                   _mm512_add_epi32(col0, _mm512_set1_epi32(static_cast<int32_t>(kw))));
      }
      _mm512_storeu_ps(v + ow, best);
      _mm512_storeu_epi32(vi + ow, best_i);
    }
  };
  int64_t next = 0;  // the next input row to reduce
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const TapRange th = valid_taps(oh * g.SH - g.PH, g.DH, g.KH, g.H);
    float* yr = yp + oh * g.OW;
    int32_t* ir = kIdx ? ip + oh * g.OW : nullptr;
    if (th.k0 >= th.k1) {  // a window with no valid row (the shared rule gives -inf and index -1)
      for (int64_t ow = 0; ow < g.OW; ++ow) max_window<kIdx>(xp, g, oh, ow, yr + ow, kIdx ? ir + ow : nullptr);
      continue;
    }
    const int64_t top = oh * g.SH - g.PH + th.k0, end = top + th.k1 - th.k0;
    for (next = std::max(next, top); next < end; ++next) reduce_row(next);
    for (int64_t ow = 0; ow < g.OW; ow += 16) {
      __m512 best = _mm512_loadu_ps(hv + (top % g.KH) * stride + ow);
      __m512i best_i = _mm512_loadu_epi32(hi + (top % g.KH) * stride + ow);
      for (int64_t r = top + 1; r < end; ++r) {
        max_update(best, best_i, _mm512_loadu_ps(hv + (r % g.KH) * stride + ow),
                   _mm512_loadu_epi32(hi + (r % g.KH) * stride + ow));
      }
      const __mmask16 out_mask = lanes_in(0, g.OW, ow);
      _mm512_mask_storeu_ps(yr + ow, out_mask, best);
      if constexpr (kIdx) _mm512_mask_storeu_epi32(ir + ow, out_mask, best_i);
    }
  }
}

// Max pooling of a plane with 3x3 windows and stride 2 (dilation 1, padding 0 or 1), the classic
// downsampling layer, with fewer operations per output than max_plane_shared_rows. The plane is walked in
// bands of kBandRows output rows and each band in strips of 16 output columns, so that a strip's masks and
// index offsets stay in registers while memory is still read nearly in order. A row of a strip loads its
// 32 + 1 input floats once and takes its three taps apart with two permutes and an align (even columns,
// odd columns, even columns shifted by one), and the last input row of one output row's windows, the first
// of the next one's, is reduced once and carried (in registers within a band, in `carry_v`/`carry_vi`
// from one band to the next).
// The rules are max_block's: each row's taps, then the valid rows, folded in order with max_update,
// starting from the first valid tap. That update spends two of its five operations on the NaN rule, so
// without kExact the plane runs with max_update_ordered (the same result wherever no tap is NaN) while
// noting whether any tap it read was NaN, and returns true if one was: the caller then runs the plane
// again with kExact (a plane holding a NaN costs about twice as much).
std::vector<Strip3x3s2> strips_3x3s2(const Pool2dGeometry& g) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  std::vector<Strip3x3s2> strips;
  for (int64_t ow = 0; ow < g.OW; ow += 16) {
    const int64_t c = 2 * ow - g.PW;
    const __m512i col = _mm512_add_epi32(even, _mm512_set1_epi32(static_cast<int32_t>(c)));
    strips.push_back({lanes_in(0, g.W, c), lanes_in(0, g.W, c + 16), lanes_in(0, g.OW, ow),
                      _mm512_cmplt_epi32_mask(col, _mm512_setzero_si512()), c + 32 >= 0 && c + 32 < g.W});
  }
  return strips;
}

namespace {

// Measured with pool_cpu_bench on (32,64,56,56) and (8,64,112,112), 2 threads: without the prefetches
// the kernel waits on memory; bands of 2 or 3 rows are alike, while bands of 4 and whole-plane strips
// (no bands) are slower on the 112x112 planes (0.86 and 1.0 ms against 0.7 ms).
constexpr int64_t kPrefetchRows = 16;
constexpr int64_t kBandRows = 3;

// max_update without the NaN rule: tap (v, i) wins when v > best.
inline void max_update_ordered(__m512& best, __m512i& best_i, __m512 v, __m512i i) {
  const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
  best = _mm512_mask_mov_ps(best, take, v);
  best_i = _mm512_mask_mov_epi32(best_i, take, i);
}

}  // namespace

template <bool kIdx, bool kExact>
bool max_plane_3x3s2(const float* xp, const Pool2dGeometry& g, const std::vector<Strip3x3s2>& strips,
                     float* yp, int32_t* ip, float* carry_v, int32_t* carry_vi) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i one = _mm512_set1_epi32(1), two = _mm512_set1_epi32(2);
  const __m512 minus_inf = _mm512_set1_ps(kMinusInf);
  // Locals, not g's fields: the stores below may alias anything, which would reload those every row.
  const int64_t W = g.W, H = g.H, OW = g.OW, OH = g.OH, PH = g.PH, PW = g.PW;
  const __m512i row_step = _mm512_set1_epi32(static_cast<int32_t>(W));
  auto update = [](__m512& best, __m512i& best_i, __m512 v, __m512i i) {
    if constexpr (kExact) {
      max_update(best, best_i, v, i);
    } else {
      max_update_ordered(best, best_i, v, i);
    }
  };
  __mmask16 nan = 0;  // lanes that read a NaN (without kExact)
  // Output rows [band, band_end) of strip b. Its t1 and t2 below hold input columns [c + 1, c + 33)
  // between them; column c is the previous strip's c + 32, or, in the first strip, padding or (kFirstColumn)
  // a column of the input that the NaN check must read on its own.
  auto strip = [&]<bool kFirstColumn>(int64_t band, int64_t band_end, size_t b) {
    const Strip3x3s2 s = strips[b];
    const int64_t c = 32 * static_cast<int64_t>(b) - PW;  // input column of tap 0 of lane 0
    const __m512i kw0 = _mm512_maskz_mov_epi32(s.left_pad, one);
    const __m512i col = _mm512_add_epi32(even, _mm512_set1_epi32(static_cast<int32_t>(c)));
    // Row r's horizontal reduction of the strip: value and flat index (row_col = col + r*W plus the
    // winning kw) of each lane's winner.
    auto reduce = [&](int64_t r, __m512i row_col, __m512& v, __m512i& vi) {
      const float* p = xp + r * W + c;
      // The strip's two cache lines kPrefetchRows rows down; a prefetch past the plane's end is a harmless
      // hint.
      _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchRows * W), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchRows * W + 16), _MM_HINT_T0);
      const __m512 lo = _mm512_mask_loadu_ps(minus_inf, s.lo, p);
      const __m512 hi = _mm512_mask_loadu_ps(minus_inf, s.hi, p + 16);
      const __m512 t0 = _mm512_permutex2var_ps(lo, even, hi), t1 = _mm512_permutex2var_ps(lo, odd, hi);
      const __m512 next = _mm512_set1_ps(s.extra ? p[32] : kMinusInf);
      const __m512 t2 =
          _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(next), _mm512_castps_si512(t0), 1));
      if constexpr (!kExact) {
        nan |= _mm512_cmp_ps_mask(t1, t2, _CMP_UNORD_Q);
        if constexpr (kFirstColumn) nan |= _mm512_cmp_ps_mask(t0, t0, _CMP_UNORD_Q);
      }
      v = t0;
      __m512i kw = kw0;
      update(v, kw, t1, one);
      update(v, kw, t2, two);
      if constexpr (kIdx) vi = _mm512_add_epi32(kw, row_col);
    };
    __m512 carry = minus_inf, v;
    __m512i carry_i = _mm512_setzero_si512(), vi;
    if (band > 0) {
      carry = _mm512_loadu_ps(carry_v + 16 * b);
      carry_i = _mm512_loadu_epi32(carry_vi + 16 * b);
    }
    // col + (h0 + 1)*W for output row oh: the flat index of tap 0 in the second row of its window, stepped
    // by 2*W per row (a broadcast of r*W per row reduction instead made the kernel 11-13% slower).
    __m512i mid_col = _mm512_add_epi32(col, _mm512_set1_epi32(static_cast<int32_t>((2 * band - PH + 1) * W)));
    for (int64_t oh = band; oh < band_end; ++oh) {
      const int64_t h0 = 2 * oh - PH, r0 = std::max<int64_t>(h0, 0), r1 = std::min<int64_t>(h0 + 3, H);
      __m512 best;
      __m512i best_i;
      // Every output row after the first starts inside the input (h0 >= 2 - PH >= 1); one whose rows all
      // lie inside follows one that did too, which left its last row, this one's first, in `carry`.
      if (oh > 0 && r1 == h0 + 3) {
        best = carry;
        best_i = carry_i;
        reduce(h0 + 1, mid_col, v, vi);
        update(best, best_i, v, vi);
        reduce(h0 + 2, _mm512_add_epi32(mid_col, row_step), v, vi);
        update(best, best_i, v, vi);
      } else {  // the valid rows in order, none carried
        auto row_col = [&](int64_t r) {
          return _mm512_add_epi32(col, _mm512_set1_epi32(static_cast<int32_t>(r * W)));
        };
        reduce(r0, row_col(r0), best, best_i);
        v = best;
        vi = best_i;
        for (int64_t r = r0 + 1; r < r1; ++r) {
          reduce(r, row_col(r), v, vi);
          update(best, best_i, v, vi);
        }
      }
      mid_col = _mm512_add_epi32(mid_col, _mm512_add_epi32(row_step, row_step));
      carry = v;  // the last row, the next output row's first when all of its rows are inside
      carry_i = vi;
      _mm512_mask_storeu_ps(yp + oh * OW + 16 * b, s.out, best);
      if constexpr (kIdx) _mm512_mask_storeu_epi32(ip + oh * OW + 16 * b, s.out, best_i);
    }
    _mm512_storeu_ps(carry_v + 16 * b, carry);
    _mm512_storeu_epi32(carry_vi + 16 * b, carry_i);
  };
  for (int64_t band = 0; band < OH; band += kBandRows) {
    const int64_t band_end = std::min(band + kBandRows, OH);
    for (size_t b = 0; b < strips.size(); ++b) {
      if (b == 0 && PW <= 0) {
        strip.template operator()<true>(band, band_end, b);
      } else {
        strip.template operator()<false>(band, band_end, b);
      }
    }
  }
  return nan != 0;
}

namespace {

// One whole output row of average pooling (stride S in {1, 2}): taps over the row's valid input rows
// [h0, h1), columns outside the input read 0 (adding +0.0 leaves a sum that never is -0.0 unchanged),
// summed in torch's row-major order and divided by the window's divisor, col_div[ow] * row_div.
template <int S>
void avg_row(const float* xp, const Pool2dGeometry& g, const TapMasks<S>& masks, int64_t h0, int64_t h1,
             float row_div, const float* col_div, float* y) {
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t ow = 0; ow < g.OW; ow += 16) {
    const __mmask16 out_mask = lanes_in(0, g.OW, ow);
    __m512 sum = zero;
    for (int64_t h = h0; h < h1; ++h) {
      for (int64_t kw = 0; kw < g.KW; ++kw) sum = _mm512_add_ps(sum, load_taps<S>(xp + h * g.W, ow, kw, g, masks, zero));
    }
    const __m512 div = _mm512_mul_ps(_mm512_maskz_loadu_ps(out_mask, col_div + ow), _mm512_set1_ps(row_div));
    _mm512_mask_storeu_ps(y + ow, out_mask, _mm512_div_ps(sum, div));
  }
}

}  // namespace

template <int S>
void avg_plane_rows(const float* xp, const Pool2dGeometry& g, AvgDivisor d, const TapMasks<S>& masks,
                    const Pool2dGeometry& axis_h, const float* col_div, float* yp) {
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const int64_t h0 = std::max<int64_t>(oh * g.SH - g.PH, 0),
                  h1 = std::min<int64_t>(oh * g.SH - g.PH + g.KH, g.H);
    float* yr = yp + oh * g.OW;
    if (h0 < h1) {
      const float row_div = d.divisor_override > 0 ? static_cast<float>(d.divisor_override)
                                                   : static_cast<float>(avg_pool_divisor(axis_h, d, oh, 0));
      avg_row<S>(xp, g, masks, h0, h1, row_div, col_div, yr);
    } else {  // a window holding no input element (the shared rule gives 0)
      for (int64_t ow = 0; ow < g.OW; ++ow) yr[ow] = avg_pool2d_at(xp, g, d, oh, ow);
    }
  }
}

// dx of one plane of average pooling by gathering (dilation 1, column stride S in {1, 2}): every input pixel
// sums, over the outputs whose windows cover it in output order (rows, then columns, ascending), the value
// `gv` holds for that output, dy/divisor. That is the order in which torch's scatter adds them, so the
// sums are bit-identical, and each dx element is written once, without a memset or a scatter.
template <int S>
void gather_backward_plane(const float* gv, float* dxp, const Pool2dGeometry& g) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const int shift = S == 2 ? 1 : 0;
  const int64_t taps = (g.KW + S - 1) / S;  // at most this many windows of a row cover a pixel
  const __m512i last_ow = _mm512_set1_epi32(static_cast<int32_t>(g.OW - 1));
  for (int64_t h = 0; h < g.H; ++h) {
    const TapRange rows = covering_outputs(h, g.KH, g.SH, g.PH, 1, g.OH);
    for (int64_t w = 0; w < g.W; w += 16) {
      const __mmask16 out_mask = lanes_in(0, g.W, w);
      const __m512i col = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(w)), lane);
      // Windows ow_lo .. ow_hi of a row cover column `col`: ceil((col + PW - KW + 1) / S) .. (col + PW) / S.
      const __m512i ow_lo = _mm512_max_epi32(
          _mm512_setzero_si512(),
          _mm512_srai_epi32(_mm512_add_epi32(col, _mm512_set1_epi32(static_cast<int32_t>(g.PW - g.KW + S))), shift));
      const __m512i ow_hi =
          _mm512_min_epi32(last_ow, _mm512_srai_epi32(_mm512_add_epi32(col, _mm512_set1_epi32(static_cast<int32_t>(g.PW))), shift));
      const int64_t base = std::max<int64_t>(0, (w + g.PW - g.KW + S) >> shift);  // ow_lo of lane 0
      const __mmask16 lo_mask = lanes_in(0, g.OW, base), hi_mask = lanes_in(0, g.OW, base + 16);
      __m512 acc = _mm512_setzero_ps();
      for (int64_t oh = rows.k0; oh < rows.k1; ++oh) {
        const float* gr = gv + oh * g.OW + base;
        const __m512 ga = _mm512_maskz_loadu_ps(lo_mask, gr), gb = _mm512_maskz_loadu_ps(hi_mask, gr + 16);
        for (int64_t j = 0; j < taps; ++j) {
          const __m512i ow = _mm512_add_epi32(ow_lo, _mm512_set1_epi32(static_cast<int32_t>(j)));
          const __mmask16 use = out_mask & _mm512_cmple_epi32_mask(ow, ow_hi);
          const __m512i rel = _mm512_sub_epi32(ow, _mm512_set1_epi32(static_cast<int32_t>(base)));
          acc = _mm512_mask_add_ps(acc, use, acc, _mm512_permutex2var_ps(ga, rel, gb));
        }
      }
      _mm512_mask_storeu_ps(dxp + h * g.W + w, out_mask, acc);
    }
  }
}

// Whether the gather backward applies: dilation 1, column stride 1 or 2, windows narrow enough that the
// outputs covering 16 adjacent columns fit in 32 lanes.
bool gather_backward_fits(const Pool2dGeometry& g) {
  return g.DH == 1 && g.DW == 1 && (g.SW == 1 || g.SW == 2) && g.KW <= 16 && g.H * g.W < (int64_t{1} << 30);
}

template void max_plane_rows<1, false>(const float*, const Pool2dGeometry&, const TapMasks<1>&, float*,
                                       int32_t*);
template void max_plane_rows<1, true>(const float*, const Pool2dGeometry&, const TapMasks<1>&, float*,
                                      int32_t*);
template void max_plane_rows<2, false>(const float*, const Pool2dGeometry&, const TapMasks<2>&, float*,
                                       int32_t*);
template void max_plane_rows<2, true>(const float*, const Pool2dGeometry&, const TapMasks<2>&, float*,
                                      int32_t*);
template void max_plane_shared_rows<1, false>(const float*, const Pool2dGeometry&, const TapMasks<1>&, float*,
                                              int32_t*, float*, int32_t*, int64_t);
template void max_plane_shared_rows<1, true>(const float*, const Pool2dGeometry&, const TapMasks<1>&, float*,
                                             int32_t*, float*, int32_t*, int64_t);
template void max_plane_shared_rows<2, false>(const float*, const Pool2dGeometry&, const TapMasks<2>&, float*,
                                              int32_t*, float*, int32_t*, int64_t);
template void max_plane_shared_rows<2, true>(const float*, const Pool2dGeometry&, const TapMasks<2>&, float*,
                                             int32_t*, float*, int32_t*, int64_t);
template bool max_plane_3x3s2<false, false>(const float*, const Pool2dGeometry&,
                                            const std::vector<Strip3x3s2>&, float*, int32_t*, float*,
                                            int32_t*);
template bool max_plane_3x3s2<false, true>(const float*, const Pool2dGeometry&,
                                           const std::vector<Strip3x3s2>&, float*, int32_t*, float*,
                                           int32_t*);
template bool max_plane_3x3s2<true, false>(const float*, const Pool2dGeometry&,
                                           const std::vector<Strip3x3s2>&, float*, int32_t*, float*,
                                           int32_t*);
template bool max_plane_3x3s2<true, true>(const float*, const Pool2dGeometry&, const std::vector<Strip3x3s2>&,
                                          float*, int32_t*, float*, int32_t*);
template void avg_plane_rows<1>(const float*, const Pool2dGeometry&, AvgDivisor, const TapMasks<1>&,
                                const Pool2dGeometry&, const float*, float*);
template void avg_plane_rows<2>(const float*, const Pool2dGeometry&, AvgDivisor, const TapMasks<2>&,
                                const Pool2dGeometry&, const float*, float*);
template void gather_backward_plane<1>(const float*, float*, const Pool2dGeometry&);
template void gather_backward_plane<2>(const float*, float*, const Pool2dGeometry&);

}  // namespace minicnn::cpu

#endif  // __AVX512F__
