// Pooling index arithmetic shared by the CPU kernels, the CUDA kernels and the host self-test.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define MINICNN_HD __host__ __device__ __forceinline__
#else
#define MINICNN_HD inline
#endif

namespace minicnn {

/// Everything a pooling kernel needs, validated once by pool2d_geometry() and passed by value.
/// Input (N, C, H, W), output (N, C, OH, OW); window KHxKW, stride SHxSW, padding PHxPW, dilation DHxDW.
struct Pool2dGeometry {
  int64_t N, C, H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW;
  int64_t planes() const { return N * C; }
};

/// Average-pooling options that change the divisor (torch's count_include_pad and divisor_override).
struct AvgDivisor {
  bool count_include_pad = true;
  int64_t divisor_override = 0;  // 0: none
};

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
  const int64_t hi = i + P;                  // o <= hi / S
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

}  // namespace minicnn
