// Dropout's mask, element by element, the same on the host and the device (tests/cuda_test.cpp checks it
// against the CPU layer's masks).
#pragma once

#include <cstdint>

#include <minicnn/host_device.h>
#include <minicnn/mix.h>

namespace minicnn {

/// The mask value of element i in a call whose hashed seed is `base`: keep_scale when the top 24 bits of
/// splitmix64_mix(base + i), as a fraction of 1, are >= p (threshold = p * 2^24), else 0.
MINICNN_HD float dropout_mask_at(uint64_t base, uint64_t i, uint32_t threshold, float keep_scale) {
  const uint32_t r = static_cast<uint32_t>(splitmix64_mix(base + i) >> 40);
  return r >= threshold ? keep_scale : 0.0f;
}

}  // namespace minicnn
