// The geometry every pooling kernel takes (CPU, CUDA, cuDNN) and the average-pooling divisor options.
#pragma once

#include <cstdint>

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

}  // namespace minicnn
