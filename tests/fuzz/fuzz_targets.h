// The fuzz targets' bodies: each feeds bytes to one parser of user files (or user text) and accepts a
// result or a minicnn::Error. Shared by the libFuzzer executables (fuzz_main.cpp) and by the normal suite,
// which replays the seeds and the saved regressions through the same code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace minicnn::fuzz {

/// Thrown when a parser returned a result that breaks its own contract (a wrong size, a spec that does
/// not read back): a bug, reported as a crash under the fuzzer and as a failure in the normal suite.
class BrokenInvariant : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// One fuzz target: its name (the executable is fuzz_<name>) and its body.
struct Target {
  const char* name;
  void (*run)(const uint8_t* data, size_t size);
};

/// Every target, in a fixed order.
const std::vector<Target>& targets();
/// The target called `name`; throws std::invalid_argument for an unknown name.
const Target& target(const std::string& name);

void idx(const uint8_t* data, size_t size);           // parse_idx, images (rank 3) and labels (rank 1)
void idx_gzip(const uint8_t* data, size_t size);      // gunzip_bounded, then parse_idx
void cifar10(const uint8_t* data, size_t size);       // parse_cifar10_batch
void image(const uint8_t* data, size_t size);         // decode_image (stb_image: PNG, JPEG, BMP), to_planar
void npy(const uint8_t* data, size_t size);           // parse_npy, npy_bytes round trip, parse_npy_values
void safetensors(const uint8_t* data, size_t size);   // parse_safetensors (header JSON, offsets, checksum)
void model_spec(const uint8_t* data, size_t size);    // parse_model, build, summary, forward/backward
void pool_variant(const uint8_t* data, size_t size);  // parse_pool_variant, apply_pool_variant

}  // namespace minicnn::fuzz
