// .npy files (NumPy's format), the exchange with NumPy and PyTorch: tensors in and out, values as float32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <minicnn/tensor.h>

namespace minicnn {

/// Reads a C-order .npy file keeping integers integers, for index files: '<f4' gives a float32 tensor;
/// '<f8' and '|u1' are converted to float32; '<i4' and '<i8' give an int32 tensor ('<i8' values must fit).
/// Throws Error naming the file otherwise.
Tensor load_npy(const std::string& path);
/// The same from bytes in memory; `name` is used in error messages.
Tensor parse_npy(const uint8_t* data, size_t size, const std::string& name);

/// The rule every command applies to the values it reads from .npy (pool --input and --grad-output, predict
/// --npy), in the words of their --help texts.
inline constexpr const char* kNpyValueDtypes =
    "float32 is read as is; float64, uint8, int32 and int64 are converted to float32 (integers beyond "
    "2^24 in magnitude, which float32 cannot hold exactly, are refused)";
/// Reads a C-order .npy file of values as a float32 tensor, by the rule of kNpyValueDtypes. Throws Error
/// naming the file, the dtype and the value for an integer beyond 2^24 in magnitude or a finite float64
/// beyond float32's range, and naming the accepted dtypes for any other dtype.
Tensor load_npy_values(const std::string& path);
/// The same from bytes in memory; `name` is used in error messages.
Tensor parse_npy_values(const uint8_t* data, size_t size, const std::string& name);
/// Writes a tensor ('<f4' or '<i4', version 1.0 header) atomically.
void save_npy(const std::string& path, const Tensor& tensor);
/// The bytes save_npy writes.
std::string npy_bytes(const Tensor& tensor);

}  // namespace minicnn
