// Device parsing and printing, and the checks that say why a CUDA device cannot be used.
#include <minicnn/device.h>

#include <atomic>

#include <minicnn/check.h>
#if MINICNN_CUDA
#include <minicnn/cuda/memory.h>
#endif

namespace minicnn {

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5 &&
      text.find_first_not_of("0123456789", 5) == std::string::npos && text.size() < 10) {
    return cuda(std::stoi(text.substr(5)));
  }
  detail::throw_error(detail::concat("Device: expected 'cpu', 'cuda' or 'cuda:N', but got '", text, "'"));
}

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

namespace {
std::atomic<bool> g_allow_tf32{false};
}  // namespace

void set_allow_tf32(bool allow) {
  g_allow_tf32 = allow;
}
bool allow_tf32() {
  return g_allow_tf32;
}

bool cuda_built() { return MINICNN_CUDA != 0; }
bool cudnn_built() { return MINICNN_CUDNN != 0; }

int cuda_device_count() {
#if MINICNN_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

void require_device(const Device& device, const char* component) {
  if (device.is_cpu()) return;
#if MINICNN_CUDA
  const int count = cuda::device_count();
  MINICNN_CHECK(count > 0, component, ": device ", device.str(), " was asked for, but no CUDA device is available (",
                cuda::unavailable_reason(), ")");
  MINICNN_CHECK(device.index >= 0 && device.index < count, component, ": device ", device.str(),
                " was asked for, but this machine has ", count, " CUDA device(s)");
#else
  detail::throw_error(detail::concat(component, ": device ", device.str(),
                                     " was asked for, but this minicnn was built without CUDA; rebuild with "
                                     "-DMINICNN_CUDA=ON"));
#endif
}

}  // namespace minicnn
