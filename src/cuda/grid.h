// Grid-stride loop helpers for the kernels (CUDA sources only).
#pragma once

#include <cstdint>

namespace minicnn::cuda {

// Example: for (I i = thread_index<I>(); i < n; i += grid_stride<I>()) y[i] = f(x[i]);

/// This thread's first element, in index type I (uint32_t or int32_t where every index fits, else 64-bit).
template <typename I>
__device__ __forceinline__ I thread_index() {
  return static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x);
}

/// The step between the elements one thread handles: every thread of the grid.
template <typename I>
__device__ __forceinline__ I grid_stride() {
  return static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x);
}

/// Whether a grid-stride loop over `n` elements may use 32-bit indices: below 2^30 an index plus the
/// grid stride cannot overflow 32 bits either (32-bit division is cheaper).
inline bool indices_fit_32bit(int64_t n) { return n < (int64_t{1} << 30); }

}  // namespace minicnn::cuda
