// Tensor storage, the CPU caching allocator, copies between devices and small tensor utilities.
#include <minicnn/tensor.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <ostream>
#include <unordered_map>

#include <minicnn/check.h>
#if MINICNN_CUDA
#include <minicnn/cuda/context.h>
#include <minicnn/cuda/elementwise.h>
#include <minicnn/cuda/memory.h>
#endif

namespace minicnn {

int64_t Shape::operator[](int64_t d) const {
  const int64_t r = rank();
  MINICNN_CHECK(d >= -r && d < r, "Shape: dimension ", d, " is out of range for shape ", str());
  return dims_[static_cast<size_t>(d < 0 ? d + r : d)];
}

int64_t& Shape::operator[](int64_t d) {
  const int64_t r = rank();
  MINICNN_CHECK(d >= -r && d < r, "Shape: dimension ", d, " is out of range for shape ", str());
  return dims_[static_cast<size_t>(d < 0 ? d + r : d)];
}

int64_t Shape::numel() const {
  // No memory holds 2^50 floats; larger counts would overflow the byte arithmetic that follows.
  constexpr int64_t kMaxElements = int64_t{1} << 50;
  int64_t n = 1;
  for (int64_t d : dims_) {
    MINICNN_CHECK(!__builtin_mul_overflow(n, d, &n) && n <= kMaxElements && n >= -kMaxElements, "Shape: ", str(),
                  " has more than 2^50 elements");
  }
  return n;
}

std::string Shape::str() const {
  std::string s = "[";
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[i]);
  }
  return s + "]";
}

std::ostream& operator<<(std::ostream& os, const Shape& shape) { return os << shape.str(); }

const char* dtype_name(DType dtype) { return dtype == DType::Float32 ? "float32" : "int32"; }
size_t dtype_size(DType) { return 4; }

namespace {

// Blocks are kept by their exact (64-byte rounded) size: a training step asks for the same sizes every
// time, so after the first step every request is served from the cache.
class CpuCachingAllocator {
 public:
  static constexpr size_t kAlignment = 64;
  static constexpr size_t kMaxCachedBytes = size_t{4} << 30;

  void* allocate(size_t bytes) {
    bytes = round_up(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(bytes);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_bytes_ -= bytes;
        return p;
      }
    }
    void* p = std::aligned_alloc(kAlignment, bytes);
    MINICNN_CHECK(p != nullptr, "Tensor: could not allocate ", bytes, " bytes of CPU memory");
    std::lock_guard<std::mutex> lock(mutex_);
    live_bytes_ += bytes;
    return p;
  }

  void deallocate(void* p, size_t bytes) {
    bytes = round_up(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    if (cached_bytes_ + bytes > kMaxCachedBytes) {
      live_bytes_ -= bytes;
      std::free(p);
      return;
    }
    free_[bytes].push_back(p);
    cached_bytes_ += bytes;
  }

  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [bytes, blocks] : free_) {
      for (void* p : blocks) std::free(p);
      live_bytes_ -= bytes * blocks.size();
    }
    free_.clear();
    cached_bytes_ = 0;
  }

  size_t bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return live_bytes_;
  }

 private:
  static size_t round_up(size_t bytes) {
    return bytes == 0 ? kAlignment : (bytes + kAlignment - 1) / kAlignment * kAlignment;
  }

  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_bytes_ = 0;
  size_t live_bytes_ = 0;
};

CpuCachingAllocator& cpu_allocator() {
  static auto* allocator = new CpuCachingAllocator();  // never destroyed: tensors may outlive statics
  return *allocator;
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return;
  }
#if MINICNN_CUDA
  // Queued with the device that holds the source current (the destination's, from the host), after the work
  // that wrote it. Between two devices both sides are waited for: the destination's pending work may still
  // read the block being written, and its next work is not ordered with the source's stream.
  const bool across = src_device.is_cuda() && dst_device.is_cuda() && src_device.index != dst_device.index;
  if (across) {
    cuda::DeviceScope on(dst_device.index);
    cuda::synchronize_device();
  }
  cuda::DeviceScope on(src_device.is_cuda() ? src_device.index : dst_device.index);
  cuda::copy_bytes(dst, dst_device.is_cuda(), src, src_device.is_cuda(), bytes);
  if (across) cuda::synchronize();
#else
  MINICNN_ASSERT(false, "a CUDA tensor exists in a CPU-only build");
#endif
}

}  // namespace

namespace detail {

struct Storage {
  Storage(size_t size, Device where) : bytes(size), device(where) {
    if (device.is_cpu()) {
      ptr = cpu_allocator().allocate(bytes);
    } else {
      require_device(device, "Tensor");
#if MINICNN_CUDA
      ptr = cuda::device_alloc(bytes, device.index);
#endif
    }
  }
  ~Storage() {
    if (device.is_cpu()) {
      cpu_allocator().deallocate(ptr, bytes);
    } else {
#if MINICNN_CUDA
      cuda::device_free(ptr, bytes, device.index);
#endif
    }
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* ptr = nullptr;
  size_t bytes;
  Device device;
};

}  // namespace detail

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape.dims()) {
    MINICNN_CHECK(d >= 0, "Tensor: sizes should be non-negative, but got shape ", shape);
  }
  Tensor t;
  t.shape_ = shape;
  t.numel_ = shape.numel();
  t.dtype_ = dtype;
  t.device_ = device;
  t.storage_ = std::make_shared<detail::Storage>(t.nbytes(), device);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero_();
  return t;
}

Tensor Tensor::full(const Shape& shape, float value, Device device) {
#if MINICNN_CUDA
  if (device.is_cuda()) {  // device dispatch
    Tensor t = empty(shape, DType::Float32, device);
    cuda::DeviceScope on(device.index);
    cuda::fill(t.data(), value, t.numel());
    return t;
  }
#endif
  Tensor t = empty(shape);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = value;
  return t.to(device);
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values) {
  MINICNN_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "Tensor: shape ", shape, " holds ",
                shape.numel(), " elements, but got ", values.size(), " values");
  Tensor t = empty(shape);
  std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
  return t;
}

Tensor Tensor::from_vector_i32(const Shape& shape, const std::vector<int32_t>& values) {
  MINICNN_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "Tensor: shape ", shape, " holds ",
                shape.numel(), " elements, but got ", values.size(), " values");
  Tensor t = empty(shape, DType::Int32);
  std::memcpy(t.data_i32(), values.data(), values.size() * sizeof(int32_t));
  return t;
}

void Tensor::check_dtype(DType expected, const char* accessor) const {
  MINICNN_CHECK(defined(), "Tensor: ", accessor, " called on an undefined tensor");
  MINICNN_CHECK(dtype_ == expected, "Tensor: ", accessor, " expects a ", dtype_name(expected),
                " tensor, but got ", dtype_name(dtype_));
}

float* Tensor::data() {
  check_dtype(DType::Float32, "data()");
  return static_cast<float*>(storage_->ptr);
}
const float* Tensor::data() const {
  check_dtype(DType::Float32, "data()");
  return static_cast<const float*>(storage_->ptr);
}
int32_t* Tensor::data_i32() {
  check_dtype(DType::Int32, "data_i32()");
  return static_cast<int32_t*>(storage_->ptr);
}
const int32_t* Tensor::data_i32() const {
  check_dtype(DType::Int32, "data_i32()");
  return static_cast<const int32_t*>(storage_->ptr);
}
void* Tensor::raw_data() { return defined() ? storage_->ptr : nullptr; }
const void* Tensor::raw_data() const { return defined() ? storage_->ptr : nullptr; }

Tensor Tensor::to(Device device) const {
  MINICNN_CHECK(defined(), "Tensor: to(", device.str(), ") called on an undefined tensor");
  if (device == device_) return *this;
  Tensor t = empty(shape_, dtype_, device);
  copy_bytes(t.raw_data(), device, raw_data(), device_, nbytes());
  return t;
}

Tensor Tensor::clone() const {
  MINICNN_CHECK(defined(), "Tensor: clone() called on an undefined tensor");
  Tensor t = empty(shape_, dtype_, device_);
  copy_bytes(t.raw_data(), device_, raw_data(), device_, nbytes());
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const {
  MINICNN_CHECK(shape.numel() == numel(), "Tensor: cannot reshape ", shape_, " (", numel(),
                " elements) to ", shape, " (", shape.numel(), " elements)");
  Tensor t = *this;  // keeps numel_, equal to shape.numel() as checked above
  t.shape_ = shape;
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  MINICNN_CHECK(src.shape_ == shape_ && src.dtype_ == dtype_, "Tensor: copy_from expects a ",
                dtype_name(dtype_), " tensor of shape ", shape_, ", but got ", dtype_name(src.dtype_), " ",
                src.shape_);
  copy_bytes(raw_data(), device_, src.raw_data(), src.device_, nbytes());
}

void Tensor::zero_() {
  if (nbytes() == 0) return;
  if (device_.is_cpu()) {
    std::memset(raw_data(), 0, nbytes());
    return;
  }
#if MINICNN_CUDA
  cuda::DeviceScope on(device_.index);
  cuda::fill_zero(raw_data(), nbytes());
#endif
}

std::vector<float> Tensor::to_vector() const {
  Tensor cpu = to(Device::cpu());
  const float* p = cpu.data();
  return std::vector<float>(p, p + numel());
}

std::vector<int32_t> Tensor::to_vector_i32() const {
  Tensor cpu = to(Device::cpu());
  const int32_t* p = cpu.data_i32();
  return std::vector<int32_t>(p, p + numel());
}

float Tensor::item() const {
  MINICNN_CHECK(numel() == 1, "Tensor: item() expects a tensor with one element, but got shape ", shape_);
  return to_vector()[0];
}

namespace {

// A sum of x * 0 is NaN exactly when some x is NaN or infinite (0 * x is NaN exactly for those), so the sum
// is finite exactly when every value is, in any order: vector lanes and threads add in their own.
bool all_finite_on_cpu(const float* v, int64_t n) {
  float sum = 0.0f;
#pragma omp parallel for simd reduction(+ : sum) schedule(static) if (n > 65536)
  for (int64_t k = 0; k < n; ++k) sum += v[k] * 0.0f;
  return std::isfinite(sum);
}

}  // namespace

int64_t first_non_finite(const std::vector<const Tensor*>& tensors) {
  std::vector<int64_t> with_values;  // positions of the defined, non-empty tensors
  Device device;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = *tensors[i];
    if (t.numel() == 0) continue;
    MINICNN_CHECK(t.dtype() == DType::Float32, "first_non_finite: expects float32 tensors, but got ",
                  dtype_name(t.dtype()));
    if (with_values.empty()) device = t.device();
    MINICNN_CHECK(t.device() == device, "first_non_finite: expects tensors on one device, but got ",
                  device.str(), " and ", t.device().str());
    with_values.push_back(static_cast<int64_t>(i));
  }
  if (with_values.empty()) return -1;
  if (device.is_cuda()) {
#if MINICNN_CUDA
    // One flag per tensor, set on the device and read back together: no copy of the values and one wait.
    const auto count = static_cast<int64_t>(with_values.size());
    cuda::DeviceScope on(device.index);
    Tensor flags = Tensor::zeros({count}, DType::Int32, device);
    for (int64_t k = 0; k < count; ++k) {
      const Tensor& t = *tensors[static_cast<size_t>(with_values[k])];
      cuda::flag_non_finite(t.data(), t.numel(), flags.data_i32() + k);
    }
    const std::vector<int32_t> set = flags.to_vector_i32();
    for (int64_t k = 0; k < count; ++k) {
      if (set[k] != 0) return with_values[k];
    }
#endif
    return -1;
  }
  for (int64_t i : with_values) {
    const Tensor& t = *tensors[static_cast<size_t>(i)];
    if (!all_finite_on_cpu(t.data(), t.numel())) return i;
  }
  return -1;
}

void release_cached_memory() {
  cpu_allocator().release();
#if MINICNN_CUDA
  cuda::release_cached_memory();
#endif
}

size_t cpu_allocator_bytes() { return cpu_allocator().bytes(); }

}  // namespace minicnn
