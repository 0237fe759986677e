// The CUDA context of the calling thread: current device and stream, and the cuBLAS/cuDNN handles bound
// to that stream. Plain C++ declarations (the CUDA types are only forward-declared here).
#pragma once

struct CUstream_st;
struct CUevent_st;
struct cublasContext;
struct cudnnContext;

namespace minicnn::cuda {

/// An owned CUDA stream on one device (a Model on a CUDA device holds one and queues all its kernels on
/// it). It is a blocking stream, so it is also ordered with the legacy default stream: the DataLoader
/// rewrites a batch's buffers on that stream while a step may still read them, and relies on this.
class Stream {
 public:
  explicit Stream(int device);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  CUstream_st* get() const { return stream_; }
  int device() const { return device_; }

 private:
  friend class StreamGuard;
  int device_;
  CUstream_st* stream_ = nullptr;
  CUevent_st* enter_ = nullptr;  // recorded on the caller's stream when a guard opens
  CUevent_st* leave_ = nullptr;  // recorded on this stream when a guard closes
};

/// While alive, makes `stream` (and its device) current on this thread; a null stream does nothing.
/// Work stays in program order across the switch: the stream first waits for what the caller's stream
/// holds (the model's input), and on exit the caller's stream waits for what the stream holds (the output).
/// Example: { StreamGuard g(&stream); ...kernels... }
class StreamGuard {
 public:
  explicit StreamGuard(const Stream* stream);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  const Stream* stream_;
  CUstream_st* previous_stream_ = nullptr;
  int previous_device_ = 0;
};

/// The stream kernels are queued on: the innermost StreamGuard's, else the legacy default stream (null).
CUstream_st* current_stream();
/// The calling thread's current CUDA device.
int current_device();
/// Makes `device` current on this thread.
void set_device(int device);

/// While alive, makes `device` current on this thread; the previous device is current again afterwards.
/// Example: { DeviceScope on(1); ...allocations and kernels on cuda:1... }
class DeviceScope {
 public:
  explicit DeviceScope(int device);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
  int device_ = 0;
};
/// Waits until the current stream has finished its work.
void synchronize();
/// Waits until the current device has finished the work of all its streams.
void synchronize_device();
/// The cuBLAS handle of the current device, bound to the current stream (one per thread and device;
/// default math mode: exact float32 GEMMs, no TF32 unless allow_tf32() in <minicnn/device.h>).
cublasContext* cublas_handle();
/// The cuDNN handle of the current device, bound to the current stream (MINICNN_CUDNN builds only).
cudnnContext* cudnn_handle();

}  // namespace minicnn::cuda
