// Bounded integers, normals and permutations for Generator.
#include <minicnn/random.h>

#include <cmath>
#include <numeric>

#include <minicnn/check.h>

namespace minicnn {

uint64_t Generator::below(uint64_t n) {
  MINICNN_ASSERT(n > 0);
  // Rejection sampling over the largest multiple of n below 2^64.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t r;
  do {
    r = next_u64();
  } while (r >= limit);
  return r % n;
}

float Generator::normal() {
  double u1 = static_cast<double>((next_u64() >> 11) + 1) * 0x1.0p-53;  // (0, 1]
  double u2 = static_cast<double>(next_u64() >> 11) * 0x1.0p-53;        // [0, 1)
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
}

std::vector<int64_t> random_permutation(int64_t n, Generator& gen) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), int64_t{0});
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(p[static_cast<size_t>(i)], p[gen.below(static_cast<uint64_t>(i) + 1)]);
  }
  return p;
}

}  // namespace minicnn
