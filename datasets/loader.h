// DataLoader: seeded shuffling, batching (the last partial batch kept), augmentation and normalisation
// of a uint8 ImageDataset into float batches.
#pragma once

#include <cstdint>
#include <vector>

#include <minicnn/dataset.h>
#include <minicnn/recipe.h>
#include <minicnn/tensor.h>

namespace minicnn {

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = false;
  uint64_t seed = 0;
  Augment augment = Augment::None;
  Normalization normalization;  // empty: no normalisation (pixels / 255)
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
  int64_t num_batches() const { return (size() + options_.batch_size - 1) / options_.batch_size; }
  /// Fixes the order (and augmentation draws) for epoch `epoch`.
  void set_epoch(int64_t epoch);
  /// Batch `b` of the current epoch; the returned tensors are reused by the next call.
  Batch batch(int64_t b);
  const ImageDataset& dataset() const { return data_; }

 private:
  const ImageDataset& data_;
  LoaderOptions options_;
  std::vector<int64_t> indices_;
  std::vector<int64_t> order_;
  int64_t epoch_ = 0;
  std::vector<float> scale_, shift_;  // per channel: x = u8 * scale + shift
  Tensor images_, labels_;
};

/// `n` distinct indices of [0, total) drawn from `seed` (the same subset for the same seed), sorted.
std::vector<int64_t> random_subset(int64_t total, int64_t n, uint64_t seed);

}  // namespace minicnn
