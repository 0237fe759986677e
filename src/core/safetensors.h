// .safetensors files: named tensors plus string metadata, the checkpoint format shared with PyTorch.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <minicnn/tensor.h>

namespace minicnn {

struct SafetensorsFile {
  std::map<std::string, std::string> metadata;
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file order
  /// The tensor called `name`, or nullptr.
  const Tensor* find(const std::string& name) const;
};

/// Writes tensors (F32 or I32) and metadata atomically. The metadata gains "minicnn.crc32", a checksum
/// of the tensor bytes, which load_safetensors() verifies.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                      std::map<std::string, std::string> metadata);
/// Reads a file; F32 gives float32 tensors, I32 and I64 (values must fit) give int32 tensors. Throws
/// Error naming the file for a bad header, offsets outside the data, or a checksum mismatch ("damaged").
SafetensorsFile load_safetensors(const std::string& path);
SafetensorsFile parse_safetensors(const uint8_t* data, size_t size, const std::string& name);

}  // namespace minicnn
