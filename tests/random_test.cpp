// SplitMix64, the hash behind every derived seed and Dropout mask, against the reference generator's outputs.
#include <gtest/gtest.h>

#include <cstdint>

#include <minicnn/mix.h>

namespace minicnn {
namespace {

// The first outputs of Vigna's splitmix64.c seeded with 1234567 (also Rosetta Code's test values); a
// changed constant or shift changes every one of them.
TEST(SplitMix64, GivesThePublishedOutputsOfTheReferenceGenerator) {
  const uint64_t want[] = {6457827717110365317ull, 3203168211198807973ull, 9817491932198370423ull,
                           4593380528125082431ull, 16408922859458223821ull};
  for (uint64_t n = 0; n < 5; ++n) EXPECT_EQ(splitmix64(1234567, n), want[n]) << "output " << n;
  // The reference generator's step: add the increment to the state, then mix it.
  uint64_t state = 1234567;
  for (uint64_t n = 0; n < 5; ++n) {
    state += kSplitMix64Gamma;
    EXPECT_EQ(splitmix64_mix(state), want[n]) << "output " << n;
  }
}

}  // namespace
}  // namespace minicnn
