// The messages of failed CUDA, cuBLAS and cuDNN calls: one sentence naming the call and the error.
#include <minicnn/cuda/check.h>

#include <string>

namespace minicnn::cuda {
namespace {

// "/home/u/minicnn/layers/pool2d.cu" -> "layers/pool2d.cu": the path inside the project.
std::string project_path(const char* file) {
  const std::string path = file;
  size_t best = std::string::npos;
  for (const char* dir : {"/src/", "/layers/", "/optim/", "/bench/", "/tests/"}) {
    const size_t at = path.rfind(dir);
    if (at != std::string::npos && (best == std::string::npos || at > best)) best = at;
  }
  return best == std::string::npos ? path : path.substr(best + 1);
}

[[noreturn]] void throw_failed(const char* library, const char* call, const std::string& what,
                               const char* file, int line) {
  detail::throw_error(
      detail::concat(library, ": ", call, " failed: ", what, " at ", project_path(file), ":", line));
}

}  // namespace

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  throw_failed("CUDA", call, detail::concat(cudaGetErrorString(status), " (", cudaGetErrorName(status), ")"),
               file, line);
}

void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  throw_failed("cuBLAS", call, cublasGetStatusString(status), file, line);
}

#if MINICNN_CUDNN
void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file, int line) {
  throw_failed("cuDNN", call, cudnnGetErrorString(status), file, line);
}
#endif

void check_launch(const char* kernel, const char* file, int line) {
  const cudaError_t status = cudaGetLastError();
  if (status == cudaSuccess) [[likely]]
    return;
  throw_failed("CUDA", detail::concat("launching kernel ", kernel).c_str(),
               detail::concat(cudaGetErrorString(status), " (", cudaGetErrorName(status), ")"), file, line);
}

}  // namespace minicnn::cuda
