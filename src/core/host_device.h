// MINICNN_HD: marks small functions that both the CPU code and the CUDA kernels call (one definition of
// the arithmetic, so the host tests exercise what the GPU runs).
#pragma once

#if defined(__CUDACC__)
#define MINICNN_HD __host__ __device__ __forceinline__
#else
#define MINICNN_HD inline
#endif
