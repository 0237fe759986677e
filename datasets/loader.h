// DataLoader: seeded shuffling, batching (the last partial batch kept), augmentation and normalisation
// of a uint8 ImageDataset into float batches.
#pragma once

#include <cstdint>
#include <vector>

#include <minicnn/dataset.h>
#include <minicnn/recipe.h>
#include <minicnn/tensor.h>

namespace minicnn {

/// How an image is read into a batch: output pixel (h, w) comes from column w1 = flip_after ? W-1-w : w,
/// shifted to (h + dy, w1 + dx), where a position outside the image is 0 (padding) or, with `reflect`,
/// mirrored back inside as torch's 'reflect' padding does (-1 reads 1); then, with flip_before, that
/// column is mirrored. The identity view copies the image.
struct ImageView {
  bool flip_after = false;
  int64_t dy = 0, dx = 0;
  bool reflect = false;
  bool flip_before = false;
  bool identity() const { return !flip_after && !flip_before && dy == 0 && dx == 0; }
};

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = false;
  uint64_t seed = 0;
  Augment augment = Augment::None;  // training: drawn per (seed, epoch, image)
  Normalization normalization;      // empty: no normalisation (pixels / 255)
  ImageView view;                   // without augmentation: the same view of every image (test-time augmentation)
  bool drop_last = false;           // leave out the last partial batch
};

/// One batch: images (B, C, H, W) float32 and labels (B) int32, on the CPU.
struct Batch {
  Tensor images;
  Tensor labels;
  int64_t size = 0;
};

/// Iterates a dataset (or a subset of its indices) in batches. The order of epoch e is a permutation
/// drawn from (seed, e), so any batch of any epoch can be rebuilt after a restart.
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

 private:
  ImageView view_of(int64_t index) const;

  const ImageDataset& data_;
  LoaderOptions options_;
  std::vector<int64_t> indices_;
  std::vector<int64_t> order_;
  int64_t epoch_ = 0;
  std::vector<float> scale_, shift_;  // per channel: x = u8 * scale + shift
  Tensor images_, labels_;
};

/// `images` (N, C, H, W) float32 on the CPU as `view` reads them (pixels outside the image, when the view
/// does not reflect, are 0 of this tensor's values: normalised images read them as the mean pixel).
Tensor view_images(const Tensor& images, const ImageView& view);

/// `n` distinct indices of [0, total) drawn from `seed` (the same subset for the same seed), sorted.
std::vector<int64_t> random_subset(int64_t total, int64_t n, uint64_t seed);

}  // namespace minicnn
