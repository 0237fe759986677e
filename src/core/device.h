// Where a tensor lives: the CPU or a CUDA device, and whether this build and machine have CUDA.
#pragma once

#include <string>

namespace minicnn {

enum class DeviceType { CPU, CUDA };

/// A device, printed as "cpu" or "cuda:0". Example: Device::cuda(0), Device::parse("cuda").
struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {}; }
  static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  /// Parses "cpu", "cuda" or "cuda:N"; throws Error for anything else.
  static Device parse(const std::string& text);

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const;
  bool operator==(const Device& other) const = default;
};

/// True when minicnn was built with MINICNN_CUDA=ON.
bool cuda_built();
/// True when minicnn was built with MINICNN_CUDNN=ON.
bool cudnn_built();
/// Number of usable CUDA devices (0 in a CPU-only build, without a driver, or without a GPU).
int cuda_device_count();
/// Whether CUDA float32 matrix products (cuBLAS) and cuDNN convolutions may round their inputs to TF32 on
/// tensor cores (Ampere and later): faster, but no longer float32's results. Off by default, so CUDA runs
/// stay comparable with the CPU; process-wide.
void set_allow_tf32(bool allow);
bool allow_tf32();
/// Throws Error with one sentence saying why `device` cannot be used (CPU-only build, no driver, no such
/// device); `component` names who asked ("minicnn train").
void require_device(const Device& device, const char* component);

}  // namespace minicnn
