// CUDA memory for Tensor: the device query, a caching allocator over cudaMalloc, copies and fills.
// Plain C++ declarations: code outside src/cuda and .cu files includes this without CUDA headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

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
/// Frees every cached block on every device (after waiting for the device).
void release_cached_memory();
/// Bytes this process holds from cudaMalloc on `device`, in use or cached.
size_t allocator_bytes(int device);

}  // namespace minicnn::cuda
