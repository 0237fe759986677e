// DataLoader: seeded shuffling, batching (the last partial batch kept), augmentation and normalisation
// of a uint8 ImageDataset into float batches.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <minicnn/dataset.h>
#include <minicnn/device.h>
#include <minicnn/image_view.h>
#include <minicnn/recipe.h>
#include <minicnn/tensor.h>

namespace minicnn {

namespace detail {
class DeviceImageSet;
}

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = false;
  uint64_t seed = 0;
  Augment augment = Augment::None;  // training: drawn per (seed, epoch, image)
  Normalization normalization;      // empty: no normalisation (pixels / 255)
  ImageView view;                   // without augmentation: the same view of every image (test-time augmentation)
  bool drop_last = false;           // leave out the last partial batch
  Device device;                    // where batches are made and returned (see DataLoader)
};

/// One batch: images (B, C, H, W) float32 and labels (B) int32, on the loader's device.
struct Batch {
  Tensor images;
  Tensor labels;
  int64_t size = 0;
};

/// Iterates a dataset (or a subset of its indices) in batches. The order of epoch e is a permutation
/// drawn from (seed, e), so any batch of any epoch can be rebuilt after a restart.
/// On a CUDA device the uint8 images and labels it serves are copied there once, before the first batch, and
/// each batch is built there by one kernel from the batch's plan (which image, which view: 16 bytes an image,
/// uploaded from pinned memory without waiting), so the device is never fed through a synchronous copy of
/// float batches; the values are the CPU's bit for bit (image_view.h). Images larger than half the
/// device's free memory are batched on the CPU and copied instead.
/// Example: DataLoader loader(train, {64, true, 1}); loader.set_epoch(0); Batch b = loader.batch(0);
class DataLoader {
 public:
  DataLoader(const ImageDataset& data, LoaderOptions options, std::vector<int64_t> subset = {});

  int64_t size() const { return static_cast<int64_t>(indices_.size()); }
  int64_t num_batches() const {
    return options_.drop_last ? size() / options_.batch_size : (size() + options_.batch_size - 1) / options_.batch_size;
  }
  /// Fixes the order (and augmentation draws) for epoch `epoch`.
  void set_epoch(int64_t epoch);
  /// Batch `b` of the current epoch; the returned tensors are reused by the next call.
  Batch batch(int64_t b);
  const ImageDataset& dataset() const { return data_; }
  /// Whether batches are built on the CUDA device from a copy of the images kept there (known after the
  /// first batch; false on the CPU and for a data set too large for the device).
  bool batches_built_on_device() const { return on_device_ != nullptr; }

 private:
  ImageView view_of(int64_t index) const;
  Batch batch_on_cpu(int64_t start, int64_t count);
  Batch batch_on_device(int64_t start, int64_t count);  // defined in CUDA builds only

  const ImageDataset& data_;
  LoaderOptions options_;
  std::vector<int64_t> indices_;  // the images this loader serves (a subset, or all in order)
  std::vector<int64_t> order_;    // this epoch's order, as positions in indices_
  int64_t epoch_ = 0;
  std::vector<float> scale_, shift_;  // per channel: x = u8 * scale + shift
  Tensor images_, labels_;
  bool tried_device_ = false;                          // whether the copy below was attempted
  std::shared_ptr<detail::DeviceImageSet> on_device_;  // the data set's copy on options_.device, if made
};

/// `images` (N, C, H, W) float32, on the CPU or a CUDA device, as `view` reads them (pixels outside the
/// image, when the view does not reflect, are 0 of this tensor's values: normalised images read them as
/// the mean pixel). The result is on the images' device.
Tensor view_images(const Tensor& images, const ImageView& view);

/// `n` distinct indices of [0, total) drawn from `seed` (the same subset for the same seed), sorted.
std::vector<int64_t> random_subset(int64_t total, int64_t n, uint64_t seed);

}  // namespace minicnn
