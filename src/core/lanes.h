// Lane masks for the AVX-512 row loops of the CPU kernels: which of 16 lanes fall inside a column range.
#pragma once

#if defined(__AVX512F__)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

namespace minicnn::cpu {

/// Lanes l of a block of 16 columns starting at column j whose column j + l lies in [lo, hi).
/// Example: lanes_in(0, W, j) masks the columns of a row of width W in the block at j.
inline __mmask16 lanes_in(int64_t lo, int64_t hi, int64_t j) {
  const int64_t a = std::clamp<int64_t>(lo - j, 0, 16), b = std::clamp<int64_t>(hi - j, 0, 16);
  return b <= a ? 0 : static_cast<__mmask16>(((1u << b) - 1u) & ~((1u << a) - 1u));
}

}  // namespace minicnn::cpu
#endif
