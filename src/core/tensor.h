// Tensor: a contiguous float32 (or int32 index) array on the CPU or a CUDA device, with its Shape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include <minicnn/device.h>

namespace minicnn {

/// Sizes of a tensor's dimensions, printed as "[2, 3, 7, 7]".
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

  int64_t rank() const { return static_cast<int64_t>(dims_.size()); }
  /// Size of dimension `d`; negative `d` counts from the end as in PyTorch.
  int64_t operator[](int64_t d) const;
  int64_t& operator[](int64_t d);
  int64_t numel() const;
  const std::vector<int64_t>& dims() const { return dims_; }
  void push_back(int64_t size) { dims_.push_back(size); }
  std::string str() const;
  bool operator==(const Shape& other) const = default;

 private:
  std::vector<int64_t> dims_;
};

std::ostream& operator<<(std::ostream& os, const Shape& shape);

enum class DType { Float32, Int32 };
const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);

namespace detail {
struct Storage;
}

/// A contiguous row-major (NCHW) array. Copies of a Tensor share their storage (like torch.Tensor);
/// `clone()` and `to(device)` make new storage. Memory comes from a caching allocator, so a training
/// step that allocates the same sizes each time does not call malloc once warmed up.
/// Example: Tensor x = Tensor::zeros({2, 3, 8, 8}); x.data()[0] = 1.0f;
class Tensor {
 public:
  Tensor() = default;

  static Tensor empty(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, float value, Device device = Device::cpu());
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values);
  static Tensor from_vector_i32(const Shape& shape, const std::vector<int32_t>& values);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim() const { return shape_.rank(); }
  int64_t size(int64_t d) const { return shape_[d]; }
  int64_t numel() const { return numel_; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  bool is_cuda() const { return device_.is_cuda(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  /// Float32 data; throws Error for an int32 tensor.
  float* data();
  const float* data() const;
  /// Int32 data; throws Error for a float32 tensor.
  int32_t* data_i32();
  const int32_t* data_i32() const;
  void* raw_data();
  const void* raw_data() const;

  /// The same data on `device` (this tensor itself when it is already there).
  Tensor to(Device device) const;
  Tensor clone() const;
  /// A view with another shape of the same number of elements, sharing storage.
  Tensor reshape(const Shape& shape) const;
  /// Copies `src` (same shape and dtype, any device) into this tensor's storage.
  void copy_from(const Tensor& src);
  void zero_();
  /// Values as a CPU vector (copied back from a device when needed).
  std::vector<float> to_vector() const;
  std::vector<int32_t> to_vector_i32() const;
  /// The single value of a one-element float tensor.
  float item() const;
  /// True when both share one storage (a view or a copy of the handle).
  bool shares_storage_with(const Tensor& other) const { return storage_ == other.storage_; }

 private:
  void check_dtype(DType expected, const char* accessor) const;

  Shape shape_;
  int64_t numel_ = 0;  // shape_.numel(), kept so loops may test it cheaply (0 for an undefined tensor)
  DType dtype_ = DType::Float32;
  Device device_;
  std::shared_ptr<detail::Storage> storage_;
};

/// The position in `tensors` (float32, all on one device; an undefined tensor has no values) of the first
/// that holds a NaN or an infinity, or -1 when every value is finite: one pass over each, and on a CUDA
/// device one read back for them all (the trainer's check of every gradient after each step).
int64_t first_non_finite(const std::vector<const Tensor*>& tensors);

/// Frees the blocks the caching allocators hold for reuse (CPU, and CUDA when built with it).
void release_cached_memory();
/// Bytes currently held by the CPU caching allocator, in use or cached.
size_t cpu_allocator_bytes();

}  // namespace minicnn
