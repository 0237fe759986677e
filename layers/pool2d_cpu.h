// What the CPU pooling kernels (pool2d_cpu.cpp) and their AVX-512 fast paths (pool2d_cpu_avx512.cpp) share.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <minicnn/lanes.h>
#include <minicnn/pool2d.h>
#include <minicnn/pool2d_window.h>

namespace minicnn::cpu {

constexpr float kMinusInf = -std::numeric_limits<float>::infinity();

// One max-pooling window at the border of a row, by the rules every backend shares (max_pool2d_at).
template <bool kIdx>
inline void max_window(const float* xp, const Pool2dGeometry& g, int64_t oh, int64_t ow, float* y,
                       int32_t* idx) {
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

// Max pooling of a plane (dilation 1, stride S in {1, 2}) by whole output rows, 16 outputs per step.
template <int S, bool kIdx>
void max_plane_rows(const float* xp, const Pool2dGeometry& g, const TapMasks<S>& masks, float* yp,
                    int32_t* ip);

// Max pooling of a plane whose windows overlap vertically (KH > SH), each input row reduced once into a
// ring of KH rows (hv, hi) of `stride` entries.
template <int S, bool kIdx>
void max_plane_shared_rows(const float* xp, const Pool2dGeometry& g, const TapMasks<S>& masks, float* yp,
                           int32_t* ip, float* hv, int32_t* hi, int64_t stride);

// One strip of 16 outputs [ow, ow + 16): the load masks of input columns [c, c + 16) and [c + 16, c + 32)
// with c = 2*ow - PW, the lanes of outputs, the lanes whose window starts in the left padding (their first
// valid tap is kw = 1), and whether column c + 32 is inside. The same for every row and plane.
struct Strip3x3s2 {
  __mmask16 lo, hi, out, left_pad;
  bool extra;
};

std::vector<Strip3x3s2> strips_3x3s2(const Pool2dGeometry& g);

// Max pooling of a plane with 3x3 windows and stride 2; without kExact, returns true when the plane holds
// a NaN (the caller then runs it again with kExact).
template <bool kIdx, bool kExact>
bool max_plane_3x3s2(const float* xp, const Pool2dGeometry& g, const std::vector<Strip3x3s2>& strips,
                     float* yp, int32_t* ip, float* carry_v, int32_t* carry_vi);

// Average pooling of a plane (stride S in {1, 2}) by whole output rows, 16 outputs per step; window
// (oh, ow) divides by col_div[ow] times its row factor (avg_pool_divisor over `axis_h`, KW = 1).
template <int S>
void avg_plane_rows(const float* xp, const Pool2dGeometry& g, AvgDivisor d, const TapMasks<S>& masks,
                    const Pool2dGeometry& axis_h, const float* col_div, float* yp);

// dx of one plane of average pooling by gathering gv = dy / divisor over the covering outputs (see
// gather_backward_fits).
template <int S>
void gather_backward_plane(const float* gv, float* dxp, const Pool2dGeometry& g);

// Whether the gather backward applies.
bool gather_backward_fits(const Pool2dGeometry& g);
#endif

}  // namespace minicnn::cpu
