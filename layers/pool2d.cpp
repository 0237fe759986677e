// Pooling layers, their shared geometry and validation, and the CPU kernels (mirrors ATen's Pool.h rules).
#include <minicnn/pool2d.h>

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <minicnn/check.h>
#include <minicnn/lanes.h>

namespace minicnn {

std::string IntPair::str() const { return h == w ? std::to_string(h) : pair_str(); }
std::string IntPair::pair_str() const { return fmt::format("({}, {})", h, w); }

PoolImpl parse_pool_impl(const std::string& text) {
  if (text == "native") return PoolImpl::Native;
  if (text == "cudnn") return PoolImpl::Cudnn;
  detail::throw_error(fmt::format("pool impl: expected 'native' or 'cudnn', but got '{}'", text));
}

const char* pool_impl_name(PoolImpl impl) { return impl == PoolImpl::Native ? "native" : "cudnn"; }

namespace {

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

const char* py_bool(bool b) { return b ? "True" : "False"; }

// (C, H, W) is treated as one image; returns {N, C, H, W}.
std::array<int64_t, 4> nchw_of(const char* op, const Shape& x) {
  MINICNN_CHECK(x.rank() == 3 || x.rank() == 4, op,
                ": expected 3D (C, H, W) or 4D (N, C, H, W) input, but got shape ", x);
  const int64_t off = x.rank() - 3;
  const int64_t N = off ? x[0] : 1, C = x[off], H = x[off + 1], W = x[off + 2];
  MINICNN_CHECK(C > 0 && H > 0 && W > 0, op, ": expected non-empty channel, height and width, but got shape ",
                x);
  return {N, C, H, W};
}

Shape unbatched_like(const Shape& x, int64_t N, int64_t C, int64_t OH, int64_t OW) {
  return x.rank() == 3 ? Shape{C, OH, OW} : Shape{N, C, OH, OW};
}

}  // namespace

int64_t pool_output_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t out = floor_div(in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
  // With ceil_mode, the last window must start inside the input or the left padding.
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

Pool2dGeometry pool2d_geometry(const char* op, const Shape& x, const Pool2dArgs& a) {
  const IntPair k = a.kernel_size, s = a.stride.value_or(a.kernel_size), p = a.padding, d = a.dilation;
  MINICNN_CHECK(k.h > 0 && k.w > 0, op, ": kernel_size should be greater than zero, but got kernel_size=",
                k.pair_str());
  MINICNN_CHECK(s.h > 0 && s.w > 0, op, ": stride should be greater than zero, but got stride=", s.pair_str());
  MINICNN_CHECK(d.h > 0 && d.w > 0, op, ": dilation should be greater than zero, but got dilation=",
                d.pair_str());
  MINICNN_CHECK(p.h >= 0 && p.w >= 0, op, ": padding should be non-negative, but got padding=", p.pair_str());
  // Sizes stay far from int64 overflow when every option fits in int32 (the arithmetic below multiplies them).
  constexpr int64_t kMaxOption = std::numeric_limits<int32_t>::max();
  MINICNN_CHECK(k.h <= kMaxOption && k.w <= kMaxOption && s.h <= kMaxOption && s.w <= kMaxOption &&
                    p.h <= kMaxOption && p.w <= kMaxOption && d.h <= kMaxOption && d.w <= kMaxOption,
                op, ": kernel_size, stride, padding and dilation should be at most 2147483647, but got kernel_size=",
                k.pair_str(), ", stride=", s.pair_str(), ", padding=", p.pair_str(), ", dilation=", d.pair_str());
  // P <= effective kernel / 2, with effective kernel D*(K-1)+1 (for average pooling D = 1: P <= K/2).
  MINICNN_CHECK(p.h <= (d.h * (k.h - 1) + 1) / 2 && p.w <= (d.w * (k.w - 1) + 1) / 2, op,
                ": padding should be at most half of effective kernel size, but got padding=", p.pair_str(),
                ", kernel_size=", k.pair_str(), ", dilation=", d.pair_str());
  const auto [N, C, H, W] = nchw_of(op, x);
  const int64_t OH = pool_output_size(H, k.h, s.h, p.h, d.h, a.ceil_mode);
  const int64_t OW = pool_output_size(W, k.w, s.w, p.w, d.w, a.ceil_mode);
  if (OH < 1 || OW < 1) {
    const int64_t min_h = d.h * (k.h - 1) + 1 - 2 * p.h, min_w = d.w * (k.w - 1) + 1 - 2 * p.w;
    detail::throw_error(fmt::format(
        "{}: output size is too small: input {} with kernel_size={}, stride={}, padding={}, dilation={} gives "
        "{}x{}; the input must be at least {}x{} (use a smaller kernel_size, add padding, or pool fewer times)",
        op, x.str(), k.pair_str(), s.pair_str(), p.pair_str(), d.pair_str(), OH, OW, std::max<int64_t>(min_h, 1),
        std::max<int64_t>(min_w, 1)));
  }
  if (H > kMaxOption || W > kMaxOption || H * W > kMaxOption) {
    // H, W <= 2^31 keeps H * W inside int64.
    detail::throw_error(fmt::format("{}: an input plane of {}x{}{} elements is too large for int32 indices (at most "
                                    "2147483647)",
                                    op, H, W, H <= kMaxOption && W <= kMaxOption ? fmt::format(" = {}", H * W) : ""));
  }
  return {N, C, H, W, OH, OW, k.h, k.w, s.h, s.w, p.h, p.w, d.h, d.w};
}

Shape pool2d_output_shape(const Shape& x, const Pool2dGeometry& g) {
  return unbatched_like(x, g.N, g.C, g.OH, g.OW);
}

// ----------------------------------------------------------------------------------------------------
// CPU kernels: one OpenMP task per (n, c) plane, so every plane is written by one thread (deterministic).

namespace cpu {
namespace {

constexpr float kMinusInf = -std::numeric_limits<float>::infinity();

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

// One max-pooling window at the border of a row, by the rules every backend shares (max_pool2d_at).
template <bool kIdx>
inline void max_window(const float* xp, const Pool2dGeometry& g, int64_t oh, int64_t ow, float* y, int32_t* idx) {
  const int64_t best_i = max_pool2d_at(xp, g, oh, ow, y);
  if (kIdx) *idx = static_cast<int32_t>(best_i);
}

#if defined(__AVX512F__)
// Widest window the vector paths take (wider ones use the scalar path).
constexpr int64_t kMaxFastKernel = 32;

// The load masks of every tap kw in [0, KW) of every block of 16 outputs [ow, ow + 16) of a row with
// stride S: lane i of tap kw reads column (ow + i)*S - PW + kw, which must lie inside [0, W); `lo` covers
// the first 16 input lanes, `hi` the next 16 (stride 2 reads 32 and keeps the even ones). The same for
// every row and plane, so computed once per call.
template <int S>
struct TapMasks {
  std::vector<__mmask16> lo, hi;
  int64_t KW;
  explicit TapMasks(const Pool2dGeometry& g) : KW(g.KW) {
    const int64_t blocks = (g.OW + 15) / 16;
    lo.resize(static_cast<size_t>(blocks * g.KW));
    hi.resize(lo.size());
    for (int64_t b = 0; b < blocks; ++b) {
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const int64_t start = b * 16 * S - g.PW + kw;
        lo[static_cast<size_t>(b * g.KW + kw)] = lanes_in(0, g.W, start);
        hi[static_cast<size_t>(b * g.KW + kw)] = S == 2 ? lanes_in(0, g.W, start + 16) : 0;
      }
    }
  }
  // The masks of block `ow / 16`, tap kw.
  __mmask16 lo_of(int64_t ow, int64_t kw) const { return lo[static_cast<size_t>(ow / 16 * KW + kw)]; }
  __mmask16 hi_of(int64_t ow, int64_t kw) const { return hi[static_cast<size_t>(ow / 16 * KW + kw)]; }
};

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
    const TapRange th = valid_taps(oh * g.SH - g.PH, 1, g.KH, g.H);
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
// One strip of 16 outputs [ow, ow + 16): the load masks of input columns [c, c + 16) and [c + 16, c + 32)
// with c = 2*ow - PW, the lanes of outputs, the lanes whose window starts in the left padding (their first
// valid tap is kw = 1), and whether column c + 32 is inside. The same for every row and plane.
struct Strip3x3s2 {
  __mmask16 lo, hi, out, left_pad;
  bool extra;
};

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
#endif

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
#endif
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t h0 = oh * g.SH - g.PH;
        const TapRange th = valid_taps(h0, g.DH, g.KH, g.H);
        float* yr = yp + oh * g.OW;
        int32_t* ir = kIdx ? ip + oh * g.OW : nullptr;
#if defined(__AVX512F__)
        if (whole_rows && th.k0 < th.k1) {
          if (g.SW == 1) {
            max_row<1, kIdx>(xp, g, masks1, oh, th, yr, ir);
          } else {
            max_row<2, kIdx>(xp, g, masks2, oh, th, yr, ir);
          }
          continue;
        }
#endif
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

#if defined(__AVX512F__)
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
#endif

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

#if defined(__AVX512F__)
// dx of one plane by gathering (dilation 1, column stride S in {1, 2}): every input pixel sums, over the
// outputs whose windows cover it in output order (rows, then columns, ascending), the value `gv` holds
// for that output: dy/divisor for average pooling; for max pooling dy, counted only when the output's
// index names this pixel. That is the order in which torch's scatter adds them, so the sums are
// bit-identical, and each dx element is written once, without a memset or a scatter.
template <int S, bool kMax>
void gather_backward_plane(const float* gv, const int32_t* idx, float* dxp, const Pool2dGeometry& g) {
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
      const __m512i target = _mm512_add_epi32(col, _mm512_set1_epi32(static_cast<int32_t>(h * g.W)));
      __m512 acc = _mm512_setzero_ps();
      for (int64_t oh = rows.k0; oh < rows.k1; ++oh) {
        const float* gr = gv + oh * g.OW + base;
        const __m512 ga = _mm512_maskz_loadu_ps(lo_mask, gr), gb = _mm512_maskz_loadu_ps(hi_mask, gr + 16);
        __m512i ia = _mm512_setzero_si512(), ib = _mm512_setzero_si512();
        if constexpr (kMax) {
          const int32_t* ir = idx + oh * g.OW + base;
          ia = _mm512_maskz_loadu_epi32(lo_mask, ir);
          ib = _mm512_maskz_loadu_epi32(hi_mask, ir + 16);
        }
        for (int64_t j = 0; j < taps; ++j) {
          const __m512i ow = _mm512_add_epi32(ow_lo, _mm512_set1_epi32(static_cast<int32_t>(j)));
          __mmask16 use = out_mask & _mm512_cmple_epi32_mask(ow, ow_hi);
          const __m512i rel = _mm512_sub_epi32(ow, _mm512_set1_epi32(static_cast<int32_t>(base)));
          if constexpr (kMax) use &= _mm512_cmpeq_epi32_mask(_mm512_permutex2var_epi32(ia, rel, ib), target);
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
#endif

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
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const int64_t h0 = std::max<int64_t>(oh * g.SH - g.PH, 0), h1 = std::min<int64_t>(oh * g.SH - g.PH + g.KH, g.H);
      float* yr = yp + oh * g.OW;
#if defined(__AVX512F__)
      if (whole_rows && h0 < h1) {
        const float row_div = d.divisor_override > 0 ? static_cast<float>(d.divisor_override)
                                                     : static_cast<float>(avg_pool_divisor(axis_h, d, oh, 0));
        if (g.SW == 1) {
          avg_row<1>(xp, g, masks1, h0, h1, row_div, col_div.data(), yr);
        } else {
          avg_row<2>(xp, g, masks2, h0, h1, row_div, col_div.data(), yr);
        }
        continue;
      }
#endif
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
          gather_backward_plane<1, false>(gv.data(), nullptr, dx + plane * plane_in, g);
        } else {
          gather_backward_plane<2, false>(gv.data(), nullptr, dx + plane * plane_in, g);
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

}  // namespace cpu

// ----------------------------------------------------------------------------------------------------
// MaxPool2d

namespace {

void check_impl_device(const char* op, PoolImpl impl, const Tensor& x) {
  MINICNN_CHECK(impl == PoolImpl::Native || x.is_cuda(), op,
                ": impl=cudnn runs on CUDA tensors only, but got a tensor on ", x.device().str(),
                "; use impl=native on the CPU");
}

void check_grad_shape(const char* op, const Tensor& saved, const Tensor& dy) {
  MINICNN_CHECK(saved.defined(), op, ": backward() called without a Train-mode forward() before it");
  MINICNN_CHECK(dy.shape() == saved.shape(), op, ": expected a gradient of shape ", saved.shape(),
                " (the output of the last forward), but got ", dy.shape());
  MINICNN_CHECK(dy.device() == saved.device(), op, ": expected the gradient on ", saved.device().str(),
                ", but got it on ", dy.device().str());
}

// impl=cudnn: what cuDNN's pooling cannot express is refused, never silently changed.
void check_cudnn_max_options(const MaxPool2dOptions& o, bool wants_indices) {
  const Pool2dArgs& a = o.args_;
  MINICNN_CHECK(a.dilation == IntPair(1), "MaxPool2d: impl=cudnn has no dilation, but got dilation=",
                a.dilation.pair_str(), "; use impl=native");
  MINICNN_CHECK(!a.ceil_mode, "MaxPool2d: impl=cudnn has no ceil_mode, but got ceil_mode=True; use impl=native");
  MINICNN_CHECK(!wants_indices, "MaxPool2d: impl=cudnn computes no indices; use impl=native to get them ",
                "(return_indices, forward_with_indices, --indices)");
}

void check_cudnn_avg_options(const AvgPool2dOptions& o) {
  MINICNN_CHECK(!o.args_.ceil_mode, "AvgPool2d: impl=cudnn has no ceil_mode, but got ceil_mode=True; use impl=native");
  MINICNN_CHECK(!o.divisor_override_, "AvgPool2d: impl=cudnn has no divisor_override, but got divisor_override=",
                o.divisor_override_.value_or(0), "; use impl=native");
}

// ---- Device dispatch: the one place that knows which backends this build has.

void max_forward_on(const Tensor& x, Tensor& y, Tensor& idx, const Pool2dGeometry& g) {
  int32_t* ip = idx.defined() ? idx.data_i32() : nullptr;
#if MINICNN_CUDA
  if (x.is_cuda()) return cuda::max_pool2d_forward(x.data(), y.data(), ip, g);
#endif
  cpu::max_pool2d_forward(x.data(), y.data(), ip, g);
}

void max_backward_on(const Tensor& dy, const Tensor& idx, Tensor& dx, const Pool2dGeometry& g) {
#if MINICNN_CUDA
  if (dy.is_cuda()) return cuda::max_pool2d_backward(dy.data(), idx.data_i32(), dx.data(), g);
#endif
  cpu::max_pool2d_backward(dy.data(), idx.data_i32(), dx.data(), g);
}

void avg_forward_on(const Tensor& x, Tensor& y, const Pool2dGeometry& g, AvgDivisor d) {
#if MINICNN_CUDA
  if (x.is_cuda()) return cuda::avg_pool2d_forward(x.data(), y.data(), g, d);
#endif
  cpu::avg_pool2d_forward(x.data(), y.data(), g, d);
}

void avg_backward_on(const Tensor& dy, Tensor& dx, const Pool2dGeometry& g, AvgDivisor d) {
#if MINICNN_CUDA
  if (dy.is_cuda()) return cuda::avg_pool2d_backward(dy.data(), dx.data(), g, d);
#endif
  cpu::avg_pool2d_backward(dy.data(), dx.data(), g, d);
}

// impl=cudnn (CUDA tensors only: check_impl_device ran first).
[[maybe_unused]] void refuse_without_cudnn(const char* op) {
  detail::throw_error(detail::concat(op, ": impl=cudnn needs a minicnn built with cuDNN (-DMINICNN_CUDNN=ON); ",
                                     "use impl=native"));
}

void cudnn_forward_on(const Tensor& x, Tensor& y, const Pool2dGeometry& g, const AvgDivisor* avg) {
#if MINICNN_CUDNN
  if (avg) return cudnn::avg_pool2d_forward(x.data(), y.data(), g, *avg);
  cudnn::max_pool2d_forward(x.data(), y.data(), g);
#else
  (void)x, (void)y, (void)g;
  refuse_without_cudnn(avg ? "AvgPool2d" : "MaxPool2d");
#endif
}

void cudnn_backward_on(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx, const Pool2dGeometry& g,
                       const AvgDivisor* avg) {
#if MINICNN_CUDNN
  if (avg) return cudnn::avg_pool2d_backward(x.data(), y.data(), dy.data(), dx.data(), g, *avg);
  cudnn::max_pool2d_backward(x.data(), y.data(), dy.data(), dx.data(), g);
#else
  (void)x, (void)y, (void)dy, (void)dx, (void)g;
  refuse_without_cudnn(avg ? "AvgPool2d" : "MaxPool2d");
#endif
}

}  // namespace

MaxPool2d::MaxPool2d(MaxPool2dOptions options) : options_(std::move(options)) {
  // Validate the options alone (an input of the smallest size that passes the output-size rule).
  const Pool2dArgs& a = options_.args_;
  // pool2d_geometry refuses options outside int32 before it multiplies them; so must this span.
  const auto span = [](int64_t k, int64_t d) {
    const bool fits = k > 0 && d > 0 && k <= std::numeric_limits<int32_t>::max() &&
                      d <= std::numeric_limits<int32_t>::max();
    return fits ? d * (k - 1) + 1 : int64_t{1};
  };
  const int64_t h = span(a.kernel_size.h, a.dilation.h), w = span(a.kernel_size.w, a.dilation.w);
  pool2d_geometry("MaxPool2d", Shape{1, 1, h, w}, a);
}

std::string MaxPool2d::repr() const {
  const Pool2dArgs& a = options_.args_;
  return fmt::format("MaxPool2d(kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={})",
                     a.kernel_size.str(), a.stride.value_or(a.kernel_size).str(), a.padding.str(),
                     a.dilation.str(), py_bool(a.ceil_mode));
}

Shape MaxPool2d::output_shape(const Shape& in) const {
  return pool2d_output_shape(in, pool2d_geometry("MaxPool2d", in, options_.args_));
}

std::optional<Window2d> MaxPool2d::window() const {
  const Pool2dArgs& a = options_.args_;
  const IntPair s = a.stride.value_or(a.kernel_size);
  return Window2d{a.kernel_size.h, a.kernel_size.w, s.h, s.w, a.padding.h, a.padding.w, a.dilation.h,
                  a.dilation.w};
}

Tensor MaxPool2d::run_forward(const Tensor& x, bool keep_indices) {
  const bool cudnn = options_.impl_ == PoolImpl::Cudnn;
  if (cudnn) check_cudnn_max_options(options_, options_.return_indices_);
  check_impl_device("MaxPool2d", options_.impl_, x);
  const Pool2dGeometry g = pool2d_geometry("MaxPool2d", x.shape(), options_.args_);
  const Shape ys = pool2d_output_shape(x.shape(), g);
  Tensor y = Tensor::empty(ys, DType::Float32, x.device());
  Tensor idx = keep_indices && !cudnn ? Tensor::empty(ys, DType::Int32, x.device()) : Tensor();
  if (cudnn) {
    cudnn_forward_on(x, y, g, nullptr);
  } else {
    max_forward_on(x, y, idx, g);
  }
  cudnn_x_ = keep_indices && cudnn ? x : Tensor();
  cudnn_y_ = keep_indices && cudnn ? y : Tensor();
  geometry_ = g;
  input_shape_ = x.shape();
  indices_ = idx;
  return y;
}

Tensor MaxPool2d::forward(const Tensor& x, Mode mode) {
  return run_forward(x, mode == Mode::Train || options_.return_indices_);
}

std::pair<Tensor, Tensor> MaxPool2d::forward_with_indices(const Tensor& x) {
  if (options_.impl_ == PoolImpl::Cudnn) check_cudnn_max_options(options_, true);
  Tensor y = run_forward(x, true);
  return {y, indices_};
}

Tensor MaxPool2d::backward(const Tensor& dy) {
  if (options_.impl_ == PoolImpl::Cudnn) {
    check_grad_shape("MaxPool2d", cudnn_y_, dy);
    Tensor dx = Tensor::empty(input_shape_, DType::Float32, dy.device());
    cudnn_backward_on(cudnn_x_, cudnn_y_, dy, dx, geometry_, nullptr);
    return dx;
  }
  check_grad_shape("MaxPool2d", indices_, dy);
  Tensor dx = Tensor::empty(input_shape_, DType::Float32, dy.device());
  max_backward_on(dy, indices_, dx, geometry_);
  return dx;
}

// ----------------------------------------------------------------------------------------------------
// AvgPool2d

AvgPool2d::AvgPool2d(AvgPool2dOptions options) : options_(std::move(options)) {
  MINICNN_CHECK(options_.args_.dilation == IntPair(1), "AvgPool2d: has no dilation option, but got dilation=",
                options_.args_.dilation.pair_str());
  if (options_.divisor_override_) {
    MINICNN_CHECK(*options_.divisor_override_ != 0, "AvgPool2d: divisor_override should be non-zero, but got 0");
    MINICNN_CHECK(*options_.divisor_override_ > 0, "AvgPool2d: divisor_override should be positive, but got ",
                  *options_.divisor_override_);
  }
  divisor_ = {options_.count_include_pad_, options_.divisor_override_.value_or(0)};
  const IntPair k = options_.args_.kernel_size;
  pool2d_geometry("AvgPool2d", Shape{1, 1, std::max<int64_t>(k.h, 1), std::max<int64_t>(k.w, 1)}, options_.args_);
}

std::string AvgPool2d::repr() const {
  const Pool2dArgs& a = options_.args_;
  std::string s = fmt::format("AvgPool2d(kernel_size={}, stride={}, padding={}", a.kernel_size.str(),
                              a.stride.value_or(a.kernel_size).str(), a.padding.str());
  if (a.ceil_mode) s += ", ceil_mode=True";
  if (!options_.count_include_pad_) s += ", count_include_pad=False";
  if (options_.divisor_override_) s += fmt::format(", divisor_override={}", *options_.divisor_override_);
  return s + ")";
}

Shape AvgPool2d::output_shape(const Shape& in) const {
  return pool2d_output_shape(in, pool2d_geometry("AvgPool2d", in, options_.args_));
}

std::optional<Window2d> AvgPool2d::window() const {
  const Pool2dArgs& a = options_.args_;
  const IntPair s = a.stride.value_or(a.kernel_size);
  return Window2d{a.kernel_size.h, a.kernel_size.w, s.h, s.w, a.padding.h, a.padding.w, 1, 1};
}

Tensor AvgPool2d::forward(const Tensor& x, Mode mode) {
  const bool cudnn = options_.impl_ == PoolImpl::Cudnn;
  if (cudnn) check_cudnn_avg_options(options_);
  check_impl_device("AvgPool2d", options_.impl_, x);
  const Pool2dGeometry g = pool2d_geometry("AvgPool2d", x.shape(), options_.args_);
  Tensor y = Tensor::empty(pool2d_output_shape(x.shape(), g), DType::Float32, x.device());
  if (cudnn) {
    cudnn_forward_on(x, y, g, &divisor_);
  } else {
    avg_forward_on(x, y, g, divisor_);
  }
  cudnn_x_ = cudnn && mode == Mode::Train ? x : Tensor();
  cudnn_y_ = cudnn && mode == Mode::Train ? y : Tensor();
  geometry_ = g;
  input_shape_ = x.shape();
  return y;
}

Tensor AvgPool2d::backward(const Tensor& dy) {
  MINICNN_CHECK(input_shape_.rank() > 0, "AvgPool2d: backward() called without a forward() before it");
  const Shape expected = pool2d_output_shape(input_shape_, geometry_);
  MINICNN_CHECK(dy.shape() == expected, "AvgPool2d: expected a gradient of shape ", expected,
                " (the output of the last forward), but got ", dy.shape());
  if (options_.impl_ == PoolImpl::Cudnn) {
    check_grad_shape("AvgPool2d", cudnn_y_, dy);
    Tensor dx = Tensor::empty(input_shape_, DType::Float32, dy.device());
    cudnn_backward_on(cudnn_x_, cudnn_y_, dy, dx, geometry_, &divisor_);
    return dx;
  }
  Tensor dx = Tensor::empty(input_shape_, DType::Float32, dy.device());
  avg_backward_on(dy, dx, geometry_, divisor_);
  return dx;
}

// ----------------------------------------------------------------------------------------------------
// Adaptive pooling: window o of an axis spans [floor(o*in/out), ceil((o+1)*in/out)).

namespace {

int64_t adaptive_start(int64_t o, int64_t in, int64_t out) { return (o * in) / out; }
int64_t adaptive_end(int64_t o, int64_t in, int64_t out) { return ((o + 1) * in + out - 1) / out; }

std::string adaptive_repr(const char* op, AdaptiveSize s) {
  auto one = [](int64_t v) { return v < 0 ? std::string("None") : std::to_string(v); };
  if (s.h == s.w) return fmt::format("{}(output_size={})", op, one(s.h));
  return fmt::format("{}(output_size=({}, {}))", op, one(s.h), one(s.w));
}

// Calls f(plane, output index within the plane, h0, h1, w0, w1) for every adaptive window, planes in
// parallel and each plane's windows in order.
template <typename F>
void for_each_adaptive_window(const Pool2dGeometry& g, F&& f) {
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < g.planes(); ++plane) {
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const int64_t h0 = adaptive_start(oh, g.H, g.OH), h1 = adaptive_end(oh, g.H, g.OH);
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        f(plane, oh * g.OW + ow, h0, h1, adaptive_start(ow, g.W, g.OW), adaptive_end(ow, g.W, g.OW));
      }
    }
  }
}

Pool2dGeometry adaptive_geometry(const char* op, const Shape& x, AdaptiveSize s) {
  MINICNN_CHECK((s.h > 0 || s.h == -1) && (s.w > 0 || s.w == -1), op,
                ": output_size should be positive (or None), but got (", s.h, ", ", s.w, ")");
  const auto [N, C, H, W] = nchw_of(op, x);
  const int64_t OH = s.h < 0 ? H : s.h, OW = s.w < 0 ? W : s.w;
  return {N, C, H, W, OH, OW, 0, 0, 0, 0, 0, 0, 1, 1};
}

}  // namespace

AdaptiveAvgPool2d::AdaptiveAvgPool2d(AdaptiveSize output_size) : size_(output_size) {
  adaptive_geometry("AdaptiveAvgPool2d", Shape{1, 1, 1}, size_);
}

std::string AdaptiveAvgPool2d::repr() const { return adaptive_repr("AdaptiveAvgPool2d", size_); }

Shape AdaptiveAvgPool2d::output_shape(const Shape& in) const {
  const Pool2dGeometry g = adaptive_geometry("AdaptiveAvgPool2d", in, size_);
  return unbatched_like(in, g.N, g.C, g.OH, g.OW);
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x, Mode mode) {
  (void)mode;
  MINICNN_CHECK(!x.is_cuda(), "AdaptiveAvgPool2d: runs on the CPU only, but got a tensor on ", x.device().str());
  const Pool2dGeometry g = adaptive_geometry("AdaptiveAvgPool2d", x.shape(), size_);
  Tensor y = Tensor::empty(unbatched_like(x.shape(), g.N, g.C, g.OH, g.OW));
  const float* xp = x.data();
  float* yp = y.data();
  for_each_adaptive_window(g, [&](int64_t plane, int64_t o, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
    const float* xpl = xp + plane * g.H * g.W;
    float sum = 0.0f;
    for (int64_t h = h0; h < h1; ++h) {
      for (int64_t w = w0; w < w1; ++w) sum += xpl[h * g.W + w];
    }
    yp[plane * g.OH * g.OW + o] = sum / static_cast<float>((h1 - h0) * (w1 - w0));
  });
  input_shape_ = x.shape();
  return y;
}

Tensor AdaptiveAvgPool2d::backward(const Tensor& dy) {
  MINICNN_CHECK(input_shape_.rank() > 0, "AdaptiveAvgPool2d: backward() called without a forward() before it");
  const Pool2dGeometry g = adaptive_geometry("AdaptiveAvgPool2d", input_shape_, size_);
  const Shape expected = unbatched_like(input_shape_, g.N, g.C, g.OH, g.OW);
  MINICNN_CHECK(dy.shape() == expected, "AdaptiveAvgPool2d: expected a gradient of shape ", expected,
                ", but got ", dy.shape());
  Tensor dx = Tensor::zeros(input_shape_);
  const float* dyp = dy.data();
  float* dxp = dx.data();
  for_each_adaptive_window(g, [&](int64_t plane, int64_t o, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
    const float grad = dyp[plane * g.OH * g.OW + o] / static_cast<float>((h1 - h0) * (w1 - w0));
    float* dxpl = dxp + plane * g.H * g.W;
    for (int64_t h = h0; h < h1; ++h) {
      for (int64_t w = w0; w < w1; ++w) dxpl[h * g.W + w] += grad;
    }
  });
  return dx;
}

AdaptiveMaxPool2d::AdaptiveMaxPool2d(AdaptiveSize output_size) : size_(output_size) {
  adaptive_geometry("AdaptiveMaxPool2d", Shape{1, 1, 1}, size_);
}

std::string AdaptiveMaxPool2d::repr() const { return adaptive_repr("AdaptiveMaxPool2d", size_); }

Shape AdaptiveMaxPool2d::output_shape(const Shape& in) const {
  const Pool2dGeometry g = adaptive_geometry("AdaptiveMaxPool2d", in, size_);
  return unbatched_like(in, g.N, g.C, g.OH, g.OW);
}

Tensor AdaptiveMaxPool2d::forward(const Tensor& x, Mode mode) {
  (void)mode;
  MINICNN_CHECK(!x.is_cuda(), "AdaptiveMaxPool2d: runs on the CPU only, but got a tensor on ", x.device().str());
  const Pool2dGeometry g = adaptive_geometry("AdaptiveMaxPool2d", x.shape(), size_);
  MINICNN_CHECK(g.H * g.W <= std::numeric_limits<int32_t>::max(), "AdaptiveMaxPool2d: an input plane of ",
                g.H * g.W, " elements is too large for int32 indices");
  const Shape ys = unbatched_like(x.shape(), g.N, g.C, g.OH, g.OW);
  Tensor y = Tensor::empty(ys);
  Tensor idx = Tensor::empty(ys, DType::Int32);
  const float* xp = x.data();
  float* yp = y.data();
  int32_t* ip = idx.data_i32();
  for_each_adaptive_window(g, [&](int64_t plane, int64_t o, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
    const float* xpl = xp + plane * g.H * g.W;
    float best = -std::numeric_limits<float>::infinity();
    int64_t best_i = h0 * g.W + w0;
    for (int64_t h = h0; h < h1; ++h) {
      for (int64_t w = w0; w < w1; ++w) {
        const float v = xpl[h * g.W + w];
        if (v > best || std::isnan(v)) {
          best = v;
          best_i = h * g.W + w;
        }
      }
    }
    yp[plane * g.OH * g.OW + o] = best;
    ip[plane * g.OH * g.OW + o] = static_cast<int32_t>(best_i);
  });
  input_shape_ = x.shape();
  indices_ = idx;
  return y;
}

Tensor AdaptiveMaxPool2d::backward(const Tensor& dy) {
  check_grad_shape("AdaptiveMaxPool2d", indices_, dy);
  const Pool2dGeometry g = adaptive_geometry("AdaptiveMaxPool2d", input_shape_, size_);
  Tensor dx = Tensor::empty(input_shape_);
  cpu::max_pool2d_backward(dy.data(), indices_.data_i32(), dx.data(), g);
  return dx;
}

// ----------------------------------------------------------------------------------------------------
// MaxUnpool2d

MaxUnpool2d::MaxUnpool2d(MaxUnpool2dOptions options) : options_(std::move(options)) {
  const IntPair k = options_.kernel_size_, s = options_.stride_.value_or(k);
  MINICNN_CHECK(k.h > 0 && k.w > 0 && s.h > 0 && s.w > 0 && options_.padding_.h >= 0 && options_.padding_.w >= 0,
                "MaxUnpool2d: expected positive kernel_size and stride and non-negative padding, but got "
                "kernel_size=",
                k.pair_str(), ", stride=", s.pair_str(), ", padding=", options_.padding_.pair_str());
}

Tensor MaxUnpool2d::forward(const Tensor& x, const Tensor& indices, std::optional<IntPair> output_size) {
  MINICNN_CHECK(!x.is_cuda(), "MaxUnpool2d: runs on the CPU only, but got a tensor on ", x.device().str());
  const auto [N, C, H, W] = nchw_of("MaxUnpool2d", x.shape());
  MINICNN_CHECK(indices.dtype() == DType::Int32 && indices.shape() == x.shape(),
                "MaxUnpool2d: expected int32 indices of shape ", x.shape(), ", but got ",
                dtype_name(indices.dtype()), " ", indices.shape());
  const IntPair k = options_.kernel_size_, s = options_.stride_.value_or(k), p = options_.padding_;
  const IntPair out = output_size.value_or(IntPair((H - 1) * s.h - 2 * p.h + k.h, (W - 1) * s.w - 2 * p.w + k.w));
  MINICNN_CHECK(out.h > 0 && out.w > 0, "MaxUnpool2d: expected a positive output size, but got ", out.pair_str());
  const int64_t plane_out = out.h * out.w;
  Tensor y = Tensor::zeros(unbatched_like(x.shape(), N, C, out.h, out.w));
  const float* xp = x.data();
  const int32_t* ip = indices.data_i32();
  float* yp = y.data();
  for (int64_t plane = 0; plane < N * C; ++plane) {
    for (int64_t i = 0; i < H * W; ++i) {
      const int32_t at = ip[plane * H * W + i];
      MINICNN_CHECK(at >= 0 && at < plane_out, "MaxUnpool2d: found an invalid max index ", at,
                    " (output plane has ", plane_out, " elements, ", out.h, "x", out.w, ")");
      yp[plane * plane_out + at] = xp[plane * H * W + i];
    }
  }
  indices_ = indices;
  input_shape_ = x.shape();
  return y;
}

Tensor MaxUnpool2d::backward(const Tensor& dy) {
  MINICNN_CHECK(indices_.defined(), "MaxUnpool2d: backward() called without a forward() before it");
  const auto [N, C, H, W] = nchw_of("MaxUnpool2d", input_shape_);
  const int64_t plane_out = dy.size(-1) * dy.size(-2);
  Tensor dx = Tensor::empty(input_shape_);
  const float* dyp = dy.data();
  const int32_t* ip = indices_.data_i32();
  float* dxp = dx.data();
  for (int64_t plane = 0; plane < N * C; ++plane) {
    for (int64_t i = 0; i < H * W; ++i) dxp[plane * H * W + i] = dyp[plane * plane_out + ip[plane * H * W + i]];
  }
  return dx;
}

}  // namespace minicnn
