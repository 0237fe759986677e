// Streams, the per-thread current stream, and the cuBLAS/cuDNN handles of each thread and device.
#include <minicnn/cuda/context.h>

#include <vector>

#include <minicnn/cuda/check.h>
#include <minicnn/device.h>

namespace minicnn::cuda {
namespace {

thread_local CUstream_st* t_current_stream = nullptr;

// Handles live as long as their thread and are deliberately never destroyed: destroying them during
// process exit, after the CUDA runtime has shut down, can crash.
struct ThreadHandles {
  std::vector<cublasHandle_t> cublas;
#if MINICNN_CUDNN
  std::vector<cudnnHandle_t> cudnn;
#endif
};
thread_local ThreadHandles t_handles;

template <typename Handle>
Handle& slot(std::vector<Handle>& handles, int device) {
  if (static_cast<size_t>(device) >= handles.size()) handles.resize(static_cast<size_t>(device) + 1, nullptr);
  return handles[static_cast<size_t>(device)];
}

}  // namespace

DeviceScope::DeviceScope(int device) : device_(device) {
  MINICNN_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device_) MINICNN_CUDA_CHECK(cudaSetDevice(device_));
}

DeviceScope::~DeviceScope() {
  if (previous_ != device_) cudaSetDevice(previous_);  // errors ignored: a destructor cannot report them
}

Stream::Stream(int device) : device_(device) {
  DeviceScope on(device);
  MINICNN_CUDA_CHECK(cudaStreamCreate(&stream_));
  MINICNN_CUDA_CHECK(cudaEventCreateWithFlags(&enter_, cudaEventDisableTiming));
  MINICNN_CUDA_CHECK(cudaEventCreateWithFlags(&leave_, cudaEventDisableTiming));
}

Stream::~Stream() {
  // Errors are ignored: a destructor cannot report them, and during process exit the runtime may be gone.
  cudaStreamSynchronize(stream_);
  cudaEventDestroy(enter_);
  cudaEventDestroy(leave_);
  cudaStreamDestroy(stream_);
  cudaGetLastError();
}

StreamGuard::StreamGuard(const Stream* stream) : stream_(stream) {
  if (stream_ == nullptr) return;
  previous_stream_ = t_current_stream;
  MINICNN_CUDA_CHECK(cudaGetDevice(&previous_device_));
  if (previous_device_ == stream_->device_) {
    MINICNN_CUDA_CHECK(cudaEventRecord(stream_->enter_, previous_stream_));
    MINICNN_CUDA_CHECK(cudaStreamWaitEvent(stream_->stream_, stream_->enter_, 0));
  } else {
    // Events cannot cross devices: let the other device's stream finish instead (rare: one GPU per model).
    MINICNN_CUDA_CHECK(cudaStreamSynchronize(previous_stream_));
    MINICNN_CUDA_CHECK(cudaSetDevice(stream_->device_));
  }
  t_current_stream = stream_->stream_;
}

StreamGuard::~StreamGuard() {
  if (stream_ == nullptr) return;
  // No exceptions from a destructor: a failure here leaves a sticky error that the next checked call reports.
  if (previous_device_ == stream_->device_) {
    cudaEventRecord(stream_->leave_, stream_->stream_);
    cudaStreamWaitEvent(previous_stream_, stream_->leave_, 0);
  } else {
    cudaStreamSynchronize(stream_->stream_);
    cudaSetDevice(previous_device_);
  }
  t_current_stream = previous_stream_;
}

CUstream_st* current_stream() {
  return t_current_stream;
}

int current_device() {
  int device = 0;
  MINICNN_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

void set_device(int device) {
  MINICNN_CUDA_CHECK(cudaSetDevice(device));
}

void synchronize() {
  MINICNN_CUDA_CHECK(cudaStreamSynchronize(t_current_stream));
}

void synchronize_device() {
  MINICNN_CUDA_CHECK(cudaDeviceSynchronize());
}

cublasContext* cublas_handle() {
  cublasHandle_t& h = slot(t_handles.cublas, current_device());
  if (h == nullptr) MINICNN_CUBLAS_CHECK(cublasCreate(&h));
  MINICNN_CUBLAS_CHECK(cublasSetStream(h, t_current_stream));
  // The default math mode computes SGEMMs in float32 (TF32 only through NVIDIA_TF32_OVERRIDE); TF32 tensor
  // cores only when the user asked for them.
  MINICNN_CUBLAS_CHECK(cublasSetMathMode(h, allow_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  return h;
}

#if MINICNN_CUDNN
cudnnContext* cudnn_handle() {
  cudnnHandle_t& h = slot(t_handles.cudnn, current_device());
  if (h == nullptr) MINICNN_CUDNN_CHECK(cudnnCreate(&h));
  MINICNN_CUDNN_CHECK(cudnnSetStream(h, t_current_stream));
  return h;
}
#endif

}  // namespace minicnn::cuda
