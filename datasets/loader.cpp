// DataLoader: per-epoch permutations, parallel batch assembly from uint8 through each image's view
// (augmentation draws, or a fixed view for test-time augmentation), on the CPU or, through loader.cu, on
// a CUDA device.
#include <minicnn/loader.h>

#include <algorithm>

#include <minicnn/check.h>
#include <minicnn/mix.h>
#include <minicnn/random.h>

#if MINICNN_CUDA
#include "loader_cuda.h"
#endif

namespace minicnn {
namespace {

// flip-translate's largest shift, in pixels along each axis.
constexpr int64_t kFlipTranslateShift = 2;

// view_fits, or an error naming `component`.
void check_reflect_fits(const ImageView& v, int64_t H, int64_t W, const char* component) {
  MINICNN_CHECK(
      view_fits(v, H, W), component, ": a shift of (", v.dy, ", ", v.dx,
      ") with reflect padding needs images larger than the shift along each axis (torch's 'reflect' "
      "padding is smaller than the input), but got ",
      H, "x", W, " images");
}

}  // namespace

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
  // A data set filled by hand (images from the user's own arrays) is read only through these sizes.
  MINICNN_CHECK(data.channels > 0 && data.height > 0 && data.width > 0 &&
                    data.images.size() == static_cast<size_t>(data.size() * data.image_bytes()),
                "DataLoader: the data set '", data.name, "' should hold ", data.size(), " images of ",
                data.channels, "x", data.height, "x", data.width, " bytes (one per label), but holds ",
                data.images.size(), " bytes");
  for (int64_t i : indices_) {
    MINICNN_CHECK(i >= 0 && i < data.size(), "DataLoader: subset index ", i, " is outside the data set '",
                  data.name, "' of ", data.size(), " images");
  }
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
  if (options_.augment == Augment::FlipTranslate) {
    check_reflect_fits({.dy = kFlipTranslateShift, .dx = kFlipTranslateShift, .reflect = true}, data.height,
                       data.width, "DataLoader: flip-translate");
  } else if (options_.augment == Augment::None) {
    check_reflect_fits(options_.view, data.height, data.width, "DataLoader");
  }
  set_epoch(0);
  if (options_.device.is_cuda()) require_device(options_.device, "DataLoader");
}

void DataLoader::set_epoch(int64_t epoch) {
  epoch_ = epoch;
  if (options_.shuffle) {
    Generator gen(splitmix64(options_.seed, static_cast<uint64_t>(epoch)));
    order_ = random_permutation(size(), gen);
  } else {
    order_.resize(static_cast<size_t>(size()));
    for (int64_t i = 0; i < size(); ++i) order_[static_cast<size_t>(i)] = i;
  }
}

namespace {

// A flip or shift of one axis: the source index of each output index, -1 for zero padding.
void source_indices(int64_t n, int64_t shift, bool flip_after, bool reflect, bool flip_before, int64_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = view_source_index(n, i, shift, flip_after, reflect, flip_before);
}

}  // namespace

Tensor view_images(const Tensor& images, const ImageView& view) {
  MINICNN_CHECK(images.dim() == 4, "view_images: expected (N, C, H, W) images, but got ", images.shape());
  check_reflect_fits(view, images.size(2), images.size(3), "view_images");
#if MINICNN_CUDA
  if (images.is_cuda()) return detail::view_images_on_device(images, view);
#endif
  const int64_t planes = images.size(0) * images.size(1), H = images.size(2), W = images.size(3);
  std::vector<int64_t> rows(static_cast<size_t>(H)), cols(static_cast<size_t>(W));
  source_indices(H, view.dy, false, view.reflect, false, rows.data());
  source_indices(W, view.dx, view.flip_after, view.reflect, view.flip_before, cols.data());
  Tensor out = Tensor::empty(images.shape());
  const float* src = images.data();
  float* dst = out.data();
#pragma omp parallel for schedule(static) if (planes * H * W > 65536)
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t h = 0; h < H; ++h) {
      const int64_t sh = rows[static_cast<size_t>(h)];
      for (int64_t w = 0; w < W; ++w) {
        const int64_t sw = cols[static_cast<size_t>(w)];
        dst[(p * H + h) * W + w] = sh >= 0 && sw >= 0 ? src[(p * H + sh) * W + sw] : 0.0f;
      }
    }
  }
  return out;
}

ImageView DataLoader::view_of(int64_t index) const {
  // Draws depend on (seed, epoch, image), not on the thread or batch layout.
  const auto draw = [&](uint64_t stream) {
    return splitmix64(splitmix64(options_.seed, stream), static_cast<uint64_t>(index));
  };
  ImageView v;
  switch (options_.augment) {
    case Augment::None:
      return options_.view;
    case Augment::CropFlip: {
      const uint64_t r = draw(static_cast<uint64_t>(epoch_) + 0x100000);
      v.dy = static_cast<int64_t>(r % 9) - 4;
      v.dx = static_cast<int64_t>((r >> 8) % 9) - 4;
      v.flip_after = ((r >> 16) & 1) != 0;
      return v;
    }
    case Augment::FlipTranslate: {
      const uint64_t r = draw(static_cast<uint64_t>(epoch_) + 0x100000);
      v.dy = static_cast<int64_t>(r % (2 * kFlipTranslateShift + 1)) - kFlipTranslateShift;
      v.dx = static_cast<int64_t>((r >> 8) % (2 * kFlipTranslateShift + 1)) - kFlipTranslateShift;
      v.reflect = true;
      v.flip_before = (draw(0x200000) & 1) != 0;  // once per image, the same in every epoch
      v.flip_after = epoch_ % 2 == 1;              // every image, in every second epoch
      return v;
    }
  }
  return v;
}

Batch DataLoader::batch(int64_t b) {
  MINICNN_CHECK(b >= 0 && b < num_batches(), "DataLoader: batch ", b, " is out of range (", num_batches(), " batches)");
  const int64_t start = b * options_.batch_size;
  const int64_t count = std::min(options_.batch_size, size() - start);
#if MINICNN_CUDA
  if (options_.device.is_cuda() && !tried_device_) {
    tried_device_ = true;
    on_device_ =
        detail::copy_to_device(data_, indices_, scale_, shift_, options_.batch_size, options_.device);
  }
  if (on_device_) return batch_on_device(start, count);
#endif
  Batch batch = batch_on_cpu(start, count);
  if (options_.device.is_cpu()) return batch;
  return {batch.images.to(options_.device), batch.labels.to(options_.device), batch.size};
}

#if MINICNN_CUDA
Batch DataLoader::batch_on_device(int64_t start, int64_t count) {
  std::vector<detail::ImagePlan> plans(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t position =
        order_[static_cast<size_t>(start + i)];  // the device copy holds indices_ in order
    plans[static_cast<size_t>(i)] =
        detail::plan_of(position, view_of(indices_[static_cast<size_t>(position)]));
  }
  const Shape shape{count, data_.channels, data_.height, data_.width};
  if (!images_.defined() || images_.shape() != shape) {
    images_ = Tensor::empty(shape, DType::Float32, options_.device);
    labels_ = Tensor::empty({count}, DType::Int32, options_.device);
  }
  detail::make_batch(*on_device_, plans, images_, labels_);
  return {images_, labels_, count};
}
#endif

Batch DataLoader::batch_on_cpu(int64_t start, int64_t B) {
  const int64_t C = data_.channels, H = data_.height, W = data_.width, plane = H * W;
  const Shape shape{B, C, H, W};
  if (!images_.defined() || images_.shape() != shape) {
    images_ = Tensor::empty(shape);
    labels_ = Tensor::empty({B}, DType::Int32);
  }
  float* out = images_.data();
  int32_t* lab = labels_.data_i32();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < B; ++i) {
    const int64_t index = indices_[static_cast<size_t>(order_[static_cast<size_t>(start + i)])];
    lab[i] = data_.labels[static_cast<size_t>(index)];
    const uint8_t* src = data_.image(index);
    float* dst = out + i * C * plane;
    const ImageView v = view_of(index);
    std::vector<int64_t> rows, cols;
    if (!v.identity()) {
      rows.resize(static_cast<size_t>(H));
      cols.resize(static_cast<size_t>(W));
      source_indices(H, v.dy, false, v.reflect, false, rows.data());
      source_indices(W, v.dx, v.flip_after, v.reflect, v.flip_before, cols.data());
    }
    for (int64_t c = 0; c < C; ++c) {
      const float scale = scale_[static_cast<size_t>(c)], shift = shift_[static_cast<size_t>(c)];
      const uint8_t* sp = src + c * plane;
      float* dp = dst + c * plane;
      if (v.identity()) {
        for (int64_t k = 0; k < plane; ++k) dp[k] = normalize_pixel(sp[k], scale, shift);
        continue;
      }
      for (int64_t h = 0; h < H; ++h) {
        const int64_t sh = rows[static_cast<size_t>(h)];
        for (int64_t w = 0; w < W; ++w) {
          const int64_t sw = cols[static_cast<size_t>(w)];
          dp[h * W + w] = normalize_pixel(sh >= 0 && sw >= 0 ? sp[sh * W + sw] : uint8_t{0}, scale, shift);
        }
      }
    }
  }
  return {images_, labels_, B};
}

}  // namespace minicnn
