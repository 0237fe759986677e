// torch's lerp of one float, the rule the lookahead average runs on the CPU and in its CUDA kernel.
#pragma once

#include <minicnn/host_device.h>

namespace minicnn {

/// torch's lerp(start, end, weight) in float, with its two forms: the one near the end it moves to, so the
/// result is exact at weight 1 (|weight| < 0.5: start + weight (end - start); else end - (end - start)(1 -
/// weight)).
MINICNN_HD float lerp_of(float start, float end, float weight) {
  return (weight < 0.5f && weight > -0.5f) ? start + weight * (end - start)
                                           : end - (end - start) * (1.0f - weight);
}

}  // namespace minicnn
