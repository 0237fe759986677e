// The DataLoader on CUDA: the uint8 data set kept on the device, and kernels that build a batch from its
// plan and apply a view to float images, with image_view.h's rules (the CPU loader's, so the bits agree).
#include <cstring>

#include <minicnn/check.h>
#include <minicnn/cuda/check.h>
#include <minicnn/cuda/context.h>
#include <minicnn/cuda/elementwise.h>
#include <minicnn/cuda/grid.h>
#include <minicnn/cuda/memory.h>

#include "loader_cuda.h"

namespace minicnn::detail {

class DeviceImageSet {
 public:
  // `count` images (C x H x W bytes each, the sizes of `data`) and their labels, from host memory.
  DeviceImageSet(const ImageDataset& data, const uint8_t* images_bytes, const int32_t* labels_values,
                 int64_t count, const std::vector<float>& scale, const std::vector<float>& shift,
                 int64_t max_batch, int device)
      : channels(data.channels),
        height(data.height),
        width(data.width),
        max_batch(max_batch),
        device(device),
        images(static_cast<size_t>(count * data.image_bytes()), device),
        labels(static_cast<size_t>(count) * sizeof(int32_t), device),
        normalization(2 * scale.size() * sizeof(float), device),
        plans(static_cast<size_t>(max_batch) * sizeof(ImagePlan), device),
        staging(static_cast<size_t>(max_batch) * sizeof(ImagePlan)) {
    cuda::copy_bytes(images.get(), true, images_bytes, false, images.size());
    cuda::copy_bytes(labels.get(), true, labels_values, false, labels.size());
    std::vector<float> scale_then_shift(scale);
    scale_then_shift.insert(scale_then_shift.end(), shift.begin(), shift.end());
    cuda::copy_bytes(normalization.get(), true, scale_then_shift.data(), false, normalization.size());
  }

  const int64_t channels, height, width, max_batch;
  const int device;
  cuda::DeviceBytes images;         // uint8, (N, C, H, W)
  cuda::DeviceBytes labels;         // int32, (N)
  cuda::DeviceBytes normalization;  // float, C scales then C shifts
  cuda::DeviceBytes plans;          // ImagePlan, (max_batch)
  cuda::PinnedStaging staging;      // the next batch's plans on their way to `plans`
};

namespace {

// One thread per output element of the (B, C, H, W) batch; the first B elements' threads also write the
// labels.
__global__ void make_batch_kernel(const uint8_t* __restrict__ images, const int32_t* __restrict__ labels,
                                  const float* __restrict__ normalization,
                                  const ImagePlan* __restrict__ plans, float* __restrict__ out,
                                  int32_t* __restrict__ out_labels, int64_t B, int64_t C, int64_t H,
                                  int64_t W) {
  const int64_t plane = H * W, image = C * plane, n = B * image;
  for (int64_t e = cuda::thread_index<int64_t>(); e < n; e += cuda::grid_stride<int64_t>()) {
    const int64_t i = e / image, c = e / plane % C, h = e / W % H, w = e % W;
    const ImagePlan p = plans[i];
    const int64_t sh = view_source_index(H, h, p.dy, false, (p.flags & kReflect) != 0, false);
    const int64_t sw = view_source_index(W, w, p.dx, (p.flags & kFlipAfter) != 0, (p.flags & kReflect) != 0,
                                         (p.flags & kFlipBefore) != 0);
    const uint8_t pixel = sh >= 0 && sw >= 0 ? images[p.index * image + c * plane + sh * W + sw] : uint8_t{0};
    out[e] = normalize_pixel(pixel, normalization[c], normalization[C + c]);
    if (e < B) out_labels[e] = labels[plans[e].index];
  }
}

__global__ void view_images_kernel(const float* __restrict__ in, float* __restrict__ out, int64_t planes,
                                   int64_t H, int64_t W, ImageView v) {
  const int64_t plane = H * W, n = planes * plane;
  for (int64_t e = cuda::thread_index<int64_t>(); e < n; e += cuda::grid_stride<int64_t>()) {
    const int64_t p = e / plane, h = e / W % H, w = e % W;
    const int64_t sh = view_source_index(H, h, v.dy, false, v.reflect, false);
    const int64_t sw = view_source_index(W, w, v.dx, v.flip_after, v.reflect, v.flip_before);
    out[e] = sh >= 0 && sw >= 0 ? in[p * plane + sh * W + sw] : 0.0f;
  }
}

}  // namespace

std::shared_ptr<DeviceImageSet> copy_to_device(const ImageDataset& data, const std::vector<int64_t>& indices,
                                               const std::vector<float>& scale,
                                               const std::vector<float>& shift, int64_t max_batch,
                                               Device device) {
  cuda::DeviceScope on(device.index);
  const int64_t count = static_cast<int64_t>(indices.size()), bytes = data.image_bytes();
  if (static_cast<size_t>(count * bytes) > cuda::free_device_bytes(device.index) / 2) return nullptr;
  bool whole_set = count == data.size();
  for (int64_t i = 0; whole_set && i < count; ++i) whole_set = indices[static_cast<size_t>(i)] == i;
  if (whole_set) {
    return std::make_shared<DeviceImageSet>(data, data.images.data(), data.labels.data(), count, scale, shift,
                                            max_batch, device.index);
  }
  std::vector<uint8_t> images(static_cast<size_t>(count * bytes));
  std::vector<int32_t> labels(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t index = indices[static_cast<size_t>(i)];
    std::memcpy(images.data() + i * bytes, data.image(index), static_cast<size_t>(bytes));
    labels[static_cast<size_t>(i)] = data.labels[static_cast<size_t>(index)];
  }
  return std::make_shared<DeviceImageSet>(data, images.data(), labels.data(), count, scale, shift, max_batch,
                                          device.index);
}

void make_batch(DeviceImageSet& set, const std::vector<ImagePlan>& plans, Tensor& images, Tensor& labels) {
  const int64_t B = static_cast<int64_t>(plans.size());
  MINICNN_CHECK(B > 0 && B <= set.max_batch, "DataLoader: a batch of ", B, " images on a device set up for ",
                set.max_batch);
  cuda::DeviceScope on(set.device);
  const size_t bytes = plans.size() * sizeof(ImagePlan);
  std::memcpy(set.staging.host(), plans.data(), bytes);
  set.staging.upload(set.plans.get(), bytes);
  const int64_t n = images.numel();
  make_batch_kernel<<<cuda::blocks_for(n), cuda::kThreads, 0, cuda::current_stream()>>>(
      static_cast<const uint8_t*>(set.images.get()), static_cast<const int32_t*>(set.labels.get()),
      static_cast<const float*>(set.normalization.get()), static_cast<const ImagePlan*>(set.plans.get()),
      images.data(), labels.data_i32(), B, set.channels, set.height, set.width);
  MINICNN_CUDA_CHECK_LAUNCH("make_batch");
}

Tensor view_images_on_device(const Tensor& images, const ImageView& view) {
  cuda::DeviceScope on(images.device().index);
  Tensor out = Tensor::empty(images.shape(), DType::Float32, images.device());
  const int64_t n = images.numel();
  if (n == 0) return out;
  view_images_kernel<<<cuda::blocks_for(n), cuda::kThreads, 0, cuda::current_stream()>>>(
      images.data(), out.data(), images.size(0) * images.size(1), images.size(2), images.size(3), view);
  MINICNN_CUDA_CHECK_LAUNCH("view_images");
  return out;
}

}  // namespace minicnn::detail
