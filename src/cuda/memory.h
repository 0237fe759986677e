// CUDA memory for Tensor and the data sets: the device query, a caching allocator over cudaMalloc, owned
// device bytes, pinned staging for per-step uploads, copies and fills.
// Plain C++ declarations: code outside src/cuda and .cu files includes this without CUDA headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

struct CUevent_st;

namespace minicnn::cuda {

/// Number of usable CUDA devices, asked once; 0 without a driver or a GPU ("driver version is
/// insufficient" from cudaGetDeviceCount means exactly that: no usable device).
int device_count();
/// Why device_count() is 0, as one clause for "no CUDA device is available (...)"; empty when it is not.
std::string unavailable_reason();

/// `bytes` of device memory on `device` from the caching allocator (plain cudaMalloc underneath, never
/// managed memory). Blocks are cached by rounded size and reused in the order work is queued: every
/// kernel runs on the calling thread's current stream, and streams are joined at Model boundaries
/// (cuda/context.h), so a block freed here is reused only by work queued after its last use.
void* device_alloc(size_t bytes, int device);
/// Returns a block to the cache (or to the driver when the cache is full); never throws.
void device_free(void* ptr, size_t bytes, int device) noexcept;
/// Copies between host and device memory in either direction (cudaMemcpyDefault) on the current stream;
/// waits for the copy when one side is host memory, so host data is valid when this returns.
void copy_bytes(void* dst, bool dst_cuda, const void* src, bool src_cuda, size_t bytes);
/// Sets `bytes` of device memory to zero on the current stream.
void fill_zero(void* ptr, size_t bytes);
/// Sets `count` floats of device memory to `value` on the current stream.
void fill(float* ptr, float value, int64_t count);
/// Bytes of free memory on `device` as the driver reports them (cudaMemGetInfo).
size_t free_device_bytes(int device);

/// `bytes` of device memory on one device from the caching allocator, returned to it with the object.
/// Example: DeviceBytes images(n, 0); copy_bytes(images.get(), true, host, false, n);
class DeviceBytes {
 public:
  DeviceBytes() = default;
  DeviceBytes(size_t bytes, int device) : ptr_(device_alloc(bytes, device)), bytes_(bytes), device_(device) {}
  ~DeviceBytes() { device_free(ptr_, bytes_, device_); }
  DeviceBytes(const DeviceBytes&) = delete;
  DeviceBytes& operator=(const DeviceBytes&) = delete;

  void* get() const { return ptr_; }
  size_t size() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  int device_ = 0;
};

/// A page-locked host buffer for what the host writes before each step and the device reads (a batch's
/// plan): upload() queues the copy on the current stream and returns at once, and host() hands the buffer
/// back for writing only once the last upload from it has been copied, so the host never waits for more
/// than that copy and never overwrites bytes still in flight.
class PinnedStaging {
 public:
  explicit PinnedStaging(size_t bytes);
  ~PinnedStaging();
  PinnedStaging(const PinnedStaging&) = delete;
  PinnedStaging& operator=(const PinnedStaging&) = delete;

  /// The buffer, free to write (waits for the previous upload's copy, if it is still queued).
  void* host();
  /// Queues a copy of the buffer's first `bytes` to device memory `dst` on the current stream.
  void upload(void* dst, size_t bytes);
  size_t size() const { return bytes_; }

 private:
  void* host_ = nullptr;
  size_t bytes_ = 0;
  CUevent_st* copied_ = nullptr;  // recorded after the last upload's copy
  bool pending_ = false;
};

/// Frees every cached block on every device (after waiting for the device).
void release_cached_memory();
/// Bytes this process holds from cudaMalloc on `device`, in use or cached.
size_t allocator_bytes(int device);

}  // namespace minicnn::cuda
