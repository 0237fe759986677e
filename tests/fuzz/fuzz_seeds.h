// Seed inputs for the fuzz targets, made by code: small valid files of every format and variant the
// parsers read (and a few near misses), so the fuzzer starts inside each format instead of at its magic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace minicnn::fuzz {

struct Seed {
  std::string name;  // a file name for the corpus folder
  std::string bytes;
};

/// Integers as the bytes of big-endian (IDX, PNG) and little-endian (BMP, npy) files.
/// Example: be32(0x00000803) == std::string("\0\0\x08\x03", 4)
std::string be32(uint32_t v);
std::string le16(uint32_t v);
std::string le32(uint32_t v);

/// The seeds of the target called `name` (see targets()); throws std::invalid_argument for another name.
std::vector<Seed> seeds(const std::string& name);

}  // namespace minicnn::fuzz
