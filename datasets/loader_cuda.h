// The DataLoader's CUDA side (loader.cu): the data set's copy on a device and the kernels that build a
// batch there and apply a view to float images. Plain C++ declarations; only loader.cu defines them.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <minicnn/dataset.h>
#include <minicnn/device.h>
#include <minicnn/image_view.h>
#include <minicnn/tensor.h>

namespace minicnn::detail {

/// One image of a batch as the kernel reads it: its index in the device copy and its view.
struct ImagePlan {
  int32_t index = 0;
  int32_t dy = 0, dx = 0;
  int32_t flags = 0;  // kFlipAfter | kReflect | kFlipBefore
};
inline constexpr int32_t kFlipAfter = 1, kReflect = 2, kFlipBefore = 4;

inline ImagePlan plan_of(int64_t index, const ImageView& v) {
  return {static_cast<int32_t>(index), static_cast<int32_t>(v.dy), static_cast<int32_t>(v.dx),
          (v.flip_after ? kFlipAfter : 0) | (v.reflect ? kReflect : 0) | (v.flip_before ? kFlipBefore : 0)};
}

/// The uint8 images, labels and per-channel scale and shift of a data set on one CUDA device, with the
/// pinned staging its batches' plans go through.
class DeviceImageSet;

/// Copies the images `indices` names (in that order) and their labels to `device` for batches of at most
/// `max_batch` images; null when the images would take more than half of the device's free memory (the
/// loader then batches on the CPU).
std::shared_ptr<DeviceImageSet> copy_to_device(const ImageDataset& data, const std::vector<int64_t>& indices,
                                               const std::vector<float>& scale,
                                               const std::vector<float>& shift, int64_t max_batch,
                                               Device device);

/// Fills `images` (B, C, H, W) and `labels` (B) on the set's device with the images `plans` name, each read
/// through its view and normalised: the CPU loader's values bit for bit.
void make_batch(DeviceImageSet& set, const std::vector<ImagePlan>& plans, Tensor& images, Tensor& labels);

/// view_images() for float images on a CUDA device.
Tensor view_images_on_device(const Tensor& images, const ImageView& view);

}  // namespace minicnn::detail
