// SplitMix64: the one hash behind every derived seed and every Dropout mask, on host and device.
#pragma once

#include <cstdint>

#include <minicnn/host_device.h>

namespace minicnn {

/// SplitMix64's increment: 2^64 divided by the golden ratio, rounded to odd.
inline constexpr uint64_t kSplitMix64Gamma = 0x9E3779B97F4A7C15ull;

/// SplitMix64's output function (Steele, Lea and Flood 2014; Vigna's splitmix64.c): a bijection of 64-bit
/// words whose every output bit depends on every input bit. Resumed runs, the CPU and the CUDA kernels
/// draw the same numbers only because they all hash with this one function.
MINICNN_HD uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// Output `n` (from 0) of the SplitMix64 generator whose state starts at `seed`: a hash of (seed, n), so
/// any draw is found without drawing the ones before it.
/// Example: splitmix64(1234567, 0) == 6457827717110365317
MINICNN_HD uint64_t splitmix64(uint64_t seed, uint64_t n) {
  return splitmix64_mix(seed + kSplitMix64Gamma * (n + 1));
}

}  // namespace minicnn
