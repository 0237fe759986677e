// The CUDA device query, the caching allocator over cudaMalloc, and copies between host and device.
#include <minicnn/cuda/memory.h>

#include <mutex>
#include <unordered_map>
#include <vector>

#include <minicnn/cuda/check.h>
#include <minicnn/cuda/context.h>

namespace minicnn::cuda {
namespace {

struct DeviceQuery {
  int count = 0;
  std::string reason;
};

const DeviceQuery& query() {
  static const DeviceQuery q = [] {
    DeviceQuery r;
    const cudaError_t status = cudaGetDeviceCount(&r.count);
    if (status != cudaSuccess) {
      cudaGetLastError();  // the failed query must not linger as the next call's error
      r.count = 0;
      r.reason = detail::concat("cudaGetDeviceCount: ", cudaGetErrorString(status));
      if (status == cudaErrorInsufficientDriver) {
        r.reason += detail::concat("; no NVIDIA driver for CUDA ", CUDART_VERSION / 1000, ".",
                                   CUDART_VERSION % 1000 / 10, " or newer is loaded");
      }
    } else if (r.count == 0) {
      r.reason = "cudaGetDeviceCount found no GPU";
    }
    return r;
  }();
  return q;
}

// Blocks are kept per device by their exact rounded size: a training step asks for the same sizes every
// time, so once warmed up every request is served from the cache without cudaMalloc's implicit syncs.
class CachingAllocator {
 public:
  static constexpr size_t kGranularity = 512;
  static constexpr size_t kMaxCachedBytes = size_t{16} << 30;

  void* allocate(size_t bytes, int device) {
    bytes = round_up(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      PerDevice& d = per_device(device);
      auto it = d.free.find(bytes);
      if (it != d.free.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        d.cached -= bytes;
        return p;
      }
    }
    DeviceScope scope(device);
    void* p = nullptr;
    cudaError_t status = cudaMalloc(&p, bytes);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      release(device);  // the cache may hold enough in blocks of other sizes
      status = cudaMalloc(&p, bytes);
    }
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      detail::throw_error(detail::concat("CUDA: out of memory on cuda:", device, " allocating ", mib(bytes),
                                         " MiB (minicnn holds ", mib(bytes_on(device)),
                                         " MiB, the device has ", mib(free_bytes), " of ", mib(total_bytes),
                                         " MiB free); use a smaller batch size or model"));
    }
    MINICNN_CUDA_CHECK(status);
    std::lock_guard<std::mutex> lock(mutex_);
    per_device(device).live += bytes;
    return p;
  }

  void deallocate(void* p, size_t bytes, int device) noexcept {
    bytes = round_up(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    PerDevice& d = per_device(device);
    if (d.cached + bytes > kMaxCachedBytes) {
      d.live -= bytes;
      cudaFree(p);  // may run during process exit, when the runtime is gone: errors are ignored
      cudaGetLastError();
      return;
    }
    d.free[bytes].push_back(p);
    d.cached += bytes;
  }

  // Frees the cached blocks of `device` (-1: every device).
  void release(int device) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = 0; i < devices_.size(); ++i) {
      if (device >= 0 && static_cast<int>(i) != device) continue;
      PerDevice& d = devices_[i];
      if (d.cached == 0) continue;
      DeviceScope scope(static_cast<int>(i));
      MINICNN_CUDA_CHECK(cudaDeviceSynchronize());
      for (auto& [bytes, blocks] : d.free) {
        for (void* p : blocks) MINICNN_CUDA_CHECK(cudaFree(p));
        d.live -= bytes * blocks.size();
      }
      d.free.clear();
      d.cached = 0;
    }
  }

  size_t bytes_on(int device) {
    std::lock_guard<std::mutex> lock(mutex_);
    return device >= 0 && static_cast<size_t>(device) < devices_.size()
               ? devices_[static_cast<size_t>(device)].live
               : 0;
  }

 private:
  struct PerDevice {
    std::unordered_map<size_t, std::vector<void*>> free;
    size_t cached = 0;
    size_t live = 0;
  };

  static size_t round_up(size_t bytes) {
    return bytes == 0 ? kGranularity : (bytes + kGranularity - 1) / kGranularity * kGranularity;
  }
  static size_t mib(size_t bytes) { return (bytes + (size_t{1} << 20) - 1) >> 20; }

  PerDevice& per_device(int device) {
    if (static_cast<size_t>(device) >= devices_.size()) devices_.resize(static_cast<size_t>(device) + 1);
    return devices_[static_cast<size_t>(device)];
  }

  std::mutex mutex_;
  std::vector<PerDevice> devices_;
};

CachingAllocator& allocator() {
  static auto* a = new CachingAllocator();  // never destroyed: tensors may outlive statics
  return *a;
}

}  // namespace

int device_count() {
  return query().count;
}

std::string unavailable_reason() {
  return query().reason;
}

void* device_alloc(size_t bytes, int device) {
  return allocator().allocate(bytes, device);
}

void device_free(void* ptr, size_t bytes, int device) noexcept {
  if (ptr != nullptr) allocator().deallocate(ptr, bytes, device);
}

void copy_bytes(void* dst, bool dst_cuda, const void* src, bool src_cuda, size_t bytes) {
  if (bytes == 0) return;
  CUstream_st* stream = current_stream();
  MINICNN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream));
  if (!dst_cuda || !src_cuda) MINICNN_CUDA_CHECK(cudaStreamSynchronize(stream));
}

size_t free_device_bytes(int device) {
  DeviceScope scope(device);
  size_t free_bytes = 0, total_bytes = 0;
  MINICNN_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return free_bytes;
}

PinnedStaging::PinnedStaging(size_t bytes) : bytes_(bytes) {
  MINICNN_CUDA_CHECK(cudaHostAlloc(&host_, bytes == 0 ? 1 : bytes, cudaHostAllocDefault));
  const cudaError_t status = cudaEventCreateWithFlags(&copied_, cudaEventDisableTiming);
  if (status != cudaSuccess) cudaFreeHost(host_);
  MINICNN_CUDA_CHECK(status);
}

PinnedStaging::~PinnedStaging() {
  // The host memory must outlive the copy that reads it; errors are ignored (this may run at exit).
  if (pending_) cudaEventSynchronize(copied_);
  cudaEventDestroy(copied_);
  cudaFreeHost(host_);
  cudaGetLastError();
}

void* PinnedStaging::host() {
  if (pending_) {
    MINICNN_CUDA_CHECK(cudaEventSynchronize(copied_));
    pending_ = false;
  }
  return host_;
}

void PinnedStaging::upload(void* dst, size_t bytes) {
  if (bytes == 0) return;
  MINICNN_CHECK(bytes <= bytes_, "PinnedStaging: an upload of ", bytes, " bytes from a buffer of ", bytes_);
  CUstream_st* stream = current_stream();
  MINICNN_CUDA_CHECK(cudaMemcpyAsync(dst, host_, bytes, cudaMemcpyHostToDevice, stream));
  MINICNN_CUDA_CHECK(cudaEventRecord(copied_, stream));
  pending_ = true;
}

void fill_zero(void* ptr, size_t bytes) {
  if (bytes == 0) return;
  MINICNN_CUDA_CHECK(cudaMemsetAsync(ptr, 0, bytes, current_stream()));
}

void release_cached_memory() {
  if (device_count() > 0) allocator().release(-1);
}

size_t allocator_bytes(int device) {
  return allocator().bytes_on(device);
}

}  // namespace minicnn::cuda
