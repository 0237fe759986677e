// MINICNN_CUDA_CHECK, MINICNN_CUBLAS_CHECK, MINICNN_CUDNN_CHECK: turn a failed CUDA call into minicnn::Error.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#if MINICNN_CUDNN
#include <cudnn.h>
#endif

#include <minicnn/check.h>

namespace minicnn::cuda {

/// Throws Error "CUDA: <call> failed: <error string> (<error name>) at <file>:<line>".
[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line);
#if MINICNN_CUDNN
[[noreturn]] void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file, int line);
#endif

/// Checks that the kernel launched just before ran into no launch error (bad configuration, no device code
/// for this GPU); `kernel` names it in the message.
void check_launch(const char* kernel, const char* file, int line);

}  // namespace minicnn::cuda

/// Evaluates a CUDA runtime call once and throws minicnn::Error naming the call when it fails.
#define MINICNN_CUDA_CHECK(call)                                                     \
  do {                                                                               \
    const cudaError_t minicnn_status_ = (call);                                      \
    if (minicnn_status_ != cudaSuccess) [[unlikely]] {                               \
      ::minicnn::cuda::throw_cuda_error(minicnn_status_, #call, __FILE__, __LINE__); \
    }                                                                                \
  } while (0)

/// The same for a cuBLAS call.
#define MINICNN_CUBLAS_CHECK(call)                                                     \
  do {                                                                                 \
    const cublasStatus_t minicnn_status_ = (call);                                     \
    if (minicnn_status_ != CUBLAS_STATUS_SUCCESS) [[unlikely]] {                       \
      ::minicnn::cuda::throw_cublas_error(minicnn_status_, #call, __FILE__, __LINE__); \
    }                                                                                  \
  } while (0)

/// The same for a cuDNN call (cuDNN builds only).
#define MINICNN_CUDNN_CHECK(call)                                                     \
  do {                                                                                \
    const cudnnStatus_t minicnn_status_ = (call);                                     \
    if (minicnn_status_ != CUDNN_STATUS_SUCCESS) [[unlikely]] {                       \
      ::minicnn::cuda::throw_cudnn_error(minicnn_status_, #call, __FILE__, __LINE__); \
    }                                                                                 \
  } while (0)

/// After a <<<...>>> launch: throws Error naming `kernel` when the launch failed.
#define MINICNN_CUDA_CHECK_LAUNCH(kernel) ::minicnn::cuda::check_launch(kernel, __FILE__, __LINE__)
