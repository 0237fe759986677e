// Dropout's mask, element by element, the same on the host and the device (tests/cuda_test.cpp checks it
// against the CPU layer's masks).
#pragma once

#include <cstdint>

#include <minicnn/host_device.h>

namespace minicnn {

/// SplitMix64's finaliser, the hash dropout.cpp draws its masks from.
MINICNN_HD uint64_t dropout_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// The mask value of element i in a call whose hashed seed is `base`: keep_scale when the top 24 bits of
/// hash(base + i), as a fraction of 1, are >= p (threshold = p * 2^24), else 0.
MINICNN_HD float dropout_mask_at(uint64_t base, uint64_t i, uint32_t threshold, float keep_scale) {
  const uint32_t r = static_cast<uint32_t>(dropout_mix64(base + i) >> 40);
  return r >= threshold ? keep_scale : 0.0f;
}

}  // namespace minicnn
