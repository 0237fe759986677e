// ImageDataset: labelled images kept as uint8 in memory, converted to float only when a batch is made.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace minicnn {

/// N images of C x H x W bytes (NCHW order) with int32 labels in [0, classes.size()). The readers fill it,
/// or a program from images it holds in memory (examples/custom_dataset.cpp); a DataLoader checks its sizes.
struct ImageDataset {
  std::string name;  // "MNIST", "Fashion-MNIST", "CIFAR-10", a folder's name
  int64_t channels = 0, height = 0, width = 0;
  std::vector<uint8_t> images;
  std::vector<int32_t> labels;
  std::vector<std::string> classes;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t image_bytes() const { return channels * height * width; }
  const uint8_t* image(int64_t i) const { return images.data() + i * image_bytes(); }
};

/// A training and a test set of the same image shape and classes.
struct DatasetSplit {
  ImageDataset train, test;
};

/// Per-channel mean and standard deviation of pixel values scaled to [0, 1], as torchvision's Normalize uses.
struct Normalization {
  std::vector<float> mean, std;
};

/// How a data set is loaded beyond its folder. A resize (both sizes > 0) applies to image folders only.
struct DatasetOptions {
  int64_t resize_height = 0, resize_width = 0;  // 0, 0: keep the images' own size
  bool resize() const { return resize_height > 0 && resize_width > 0; }
};

/// Loads a data set by the name `minicnn train --dataset` uses ("mnist", "fashion-mnist", "cifar10",
/// "folder") from `dir`. A resize asked for another kind than "folder" is an error.
DatasetSplit load_dataset(const std::string& kind, const std::string& dir, const DatasetOptions& options = {});
/// The names load_dataset() knows, for messages.
std::string known_datasets();

/// The mean and standard deviation of each channel over the whole set (in double).
Normalization compute_normalization(const ImageDataset& data);

}  // namespace minicnn
