// Generator: seeded, platform-independent random numbers (the same sequence from the same seed everywhere).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace minicnn {

/// A 64-bit Mersenne Twister with our own conversions to floats and bounded integers, so results do not
/// depend on the standard library's distributions. Example: Generator gen(42); float u = gen.uniform(-1, 1);
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : engine_(seed) {}

  uint64_t next_u64() { return engine_(); }
  /// Uniform in [0, 1) with 24 random bits (every float32 step of that range).
  float uniform01() { return static_cast<float>(next_u64() >> 40) * 0x1.0p-24f; }
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform01(); }
  /// Uniform integer in [0, n), without modulo bias; n > 0.
  uint64_t below(uint64_t n);
  /// Standard normal (Box-Muller on doubles).
  float normal();
  /// Derives an independent generator (for per-epoch or per-thread streams).
  Generator fork(uint64_t stream) { return Generator(next_u64() ^ (stream * 0x9E3779B97F4A7C15ull)); }

 private:
  std::mt19937_64 engine_;
};

/// Fisher-Yates shuffle of 0..n-1.
std::vector<int64_t> random_permutation(int64_t n, Generator& gen);

}  // namespace minicnn
