// Per-channel statistics of an image set.
#include <minicnn/dataset.h>

#include <minicnn/check.h>
#include <minicnn/cifar10.h>
#include <minicnn/image_folder.h>
#include <minicnn/mnist.h>

#include <algorithm>
#include <cmath>

namespace minicnn {

std::string known_datasets() { return "mnist, fashion-mnist, cifar10, folder"; }

DatasetSplit load_dataset(const std::string& kind, const std::string& dir, const DatasetOptions& options) {
  if (kind == "folder") return load_image_folder(dir, options);
  const bool fixed_size = kind == "mnist" || kind == "fashion-mnist" || kind == "cifar10";
  MINICNN_CHECK(!fixed_size || !options.resize(), "dataset: a resize applies to image folders (folder) only, but got "
                "dataset '", kind, "', whose images have a fixed size");
  if (kind == "cifar10") return load_cifar10(dir);
  if (kind == "mnist") return load_mnist(dir, "MNIST");
  if (kind == "fashion-mnist") return load_mnist(dir, "Fashion-MNIST");
  detail::throw_error("dataset: expected one of " + known_datasets() + ", but got '" + kind + "'");
}

Normalization compute_normalization(const ImageDataset& data) {
  Normalization n;
  const int64_t plane = data.height * data.width;
  for (int64_t c = 0; c < data.channels; ++c) {
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < data.size(); ++i) {
      const uint8_t* p = data.image(i) + c * plane;
      for (int64_t k = 0; k < plane; ++k) {
        const double v = p[k] / 255.0;
        sum += v;
        sq += v * v;
      }
    }
    const double count = static_cast<double>(data.size() * plane);
    const double mean = count > 0 ? sum / count : 0.0;
    const double var = count > 0 ? std::max(sq / count - mean * mean, 0.0) : 0.0;
    n.mean.push_back(static_cast<float>(mean));
    n.std.push_back(static_cast<float>(var > 0 ? std::sqrt(var) : 1.0));
  }
  return n;
}

}  // namespace minicnn
