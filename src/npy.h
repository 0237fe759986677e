// .npy files (NumPy's format): float32/int32 tensors in and out, the exchange format with NumPy and PyTorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor.h"

namespace minicnn {

/// Reads a C-order .npy file. '<f4' gives a float32 tensor; '<f8' and '|u1' are converted to float32;
/// '<i4' and '<i8' give an int32 tensor ('<i8' values must fit). Throws Error naming the file otherwise.
Tensor load_npy(const std::string& path);
/// The same from bytes in memory; `name` is used in error messages.
Tensor parse_npy(const uint8_t* data, size_t size, const std::string& name);
/// Writes a tensor ('<f4' or '<i4', version 1.0 header) atomically.
void save_npy(const std::string& path, const Tensor& tensor);
/// The bytes save_npy writes.
std::string npy_bytes(const Tensor& tensor);

}  // namespace minicnn
