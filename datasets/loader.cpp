// DataLoader: per-epoch permutations, parallel batch assembly from uint8, crop+flip augmentation.
#include <minicnn/loader.h>

#include <algorithm>

#include <minicnn/check.h>
#include <minicnn/mix.h>
#include <minicnn/random.h>

namespace minicnn {

std::vector<int64_t> random_subset(int64_t total, int64_t n, uint64_t seed) {
  MINICNN_CHECK(n > 0 && n <= total, "limit-train: expected a count between 1 and ", total, ", but got ", n);
  Generator gen(splitmix64(seed, 0x5b5e7));
  std::vector<int64_t> perm = random_permutation(total, gen);
  perm.resize(static_cast<size_t>(n));
  std::sort(perm.begin(), perm.end());
  return perm;
}

DataLoader::DataLoader(const ImageDataset& data, LoaderOptions options, std::vector<int64_t> subset)
    : data_(data), options_(std::move(options)), indices_(std::move(subset)) {
  MINICNN_CHECK(options_.batch_size > 0, "DataLoader: batch size should be positive, but got ", options_.batch_size);
  MINICNN_CHECK(data.size() > 0, "DataLoader: the data set '", data.name, "' is empty");
  if (indices_.empty()) {
    indices_.resize(static_cast<size_t>(data.size()));
    for (int64_t i = 0; i < data.size(); ++i) indices_[static_cast<size_t>(i)] = i;
  }
  const Normalization& n = options_.normalization;
  MINICNN_CHECK(n.mean.empty() || static_cast<int64_t>(n.mean.size()) == data.channels, "DataLoader: normalisation has ",
                n.mean.size(), " channels, but the images have ", data.channels);
  for (int64_t c = 0; c < data.channels; ++c) {
    const float mean = n.mean.empty() ? 0.0f : n.mean[static_cast<size_t>(c)];
    const float std = n.std.empty() ? 1.0f : n.std[static_cast<size_t>(c)];
    scale_.push_back(1.0f / (255.0f * std));
    shift_.push_back(-mean / std);
  }
  set_epoch(0);
}

void DataLoader::set_epoch(int64_t epoch) {
  epoch_ = epoch;
  order_ = indices_;
  if (options_.shuffle) {
    Generator gen(splitmix64(options_.seed, static_cast<uint64_t>(epoch)));
    const std::vector<int64_t> perm = random_permutation(size(), gen);
    for (int64_t i = 0; i < size(); ++i) order_[static_cast<size_t>(i)] = indices_[static_cast<size_t>(perm[static_cast<size_t>(i)])];
  }
}

Batch DataLoader::batch(int64_t b) {
  MINICNN_CHECK(b >= 0 && b < num_batches(), "DataLoader: batch ", b, " is out of range (", num_batches(), " batches)");
  const int64_t start = b * options_.batch_size;
  const int64_t B = std::min(options_.batch_size, size() - start);
  const int64_t C = data_.channels, H = data_.height, W = data_.width, plane = H * W;
  const Shape shape{B, C, H, W};
  if (!images_.defined() || images_.shape() != shape) {
    images_ = Tensor::empty(shape);
    labels_ = Tensor::empty({B}, DType::Int32);
  }
  float* out = images_.data();
  int32_t* lab = labels_.data_i32();
  const bool augment = options_.augment == Augment::CropFlip;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < B; ++i) {
    const int64_t index = order_[static_cast<size_t>(start + i)];
    lab[i] = data_.labels[static_cast<size_t>(index)];
    const uint8_t* src = data_.image(index);
    float* dst = out + i * C * plane;
    int64_t dy = 0, dx = 0;
    bool flip = false;
    if (augment) {
      // Draws depend on (seed, epoch, image), not on the thread or batch layout.
      const uint64_t r = splitmix64(splitmix64(options_.seed, static_cast<uint64_t>(epoch_) + 0x100000),
                                    static_cast<uint64_t>(index));
      dy = static_cast<int64_t>(r % 9) - 4;
      dx = static_cast<int64_t>((r >> 8) % 9) - 4;
      flip = ((r >> 16) & 1) != 0;
    }
    for (int64_t c = 0; c < C; ++c) {
      const float scale = scale_[static_cast<size_t>(c)], shift = shift_[static_cast<size_t>(c)];
      const uint8_t* sp = src + c * plane;
      float* dp = dst + c * plane;
      if (!augment) {
        for (int64_t k = 0; k < plane; ++k) dp[k] = static_cast<float>(sp[k]) * scale + shift;
        continue;
      }
      // Output pixel (h, w) reads input (h + dy, w' + dx) with w' the possibly flipped column; outside is 0.
      for (int64_t h = 0; h < H; ++h) {
        const int64_t sh = h + dy;
        for (int64_t w = 0; w < W; ++w) {
          const int64_t sw = (flip ? W - 1 - w : w) + dx;
          const float v = (sh >= 0 && sh < H && sw >= 0 && sw < W) ? static_cast<float>(sp[sh * W + sw]) : 0.0f;
          dp[h * W + w] = v * scale + shift;
        }
      }
    }
  }
  return {images_, labels_, B};
}

}  // namespace minicnn
