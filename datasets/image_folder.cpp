// The image-folder reader (listing, parallel decoding, channel and size rules) and the bilinear resize.
#include <minicnn/image_folder.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <exception>
#include <filesystem>
#include <iterator>

#include <minicnn/check.h>
#include <minicnn/file_io.h>

namespace minicnn {
namespace {

namespace fs = std::filesystem;

constexpr const char* kComponent = "image folder";
constexpr uint64_t kMaxImageFileBytes = uint64_t{1} << 30;
// The layout --data should name, for the sentences that say a folder is missing.
constexpr const char* kLayout = "train/<class>/ and test/<class>/ folders of PNG, JPEG or BMP images";

// Grey from colour by the luma weights 0.299, 0.587, 0.114, rounded to nearest.
uint8_t luma(uint8_t r, uint8_t g, uint8_t b) {
  return static_cast<uint8_t>((299 * r + 587 * g + 114 * b + 500) / 1000);
}

// The weights one output pixel takes along one axis: `count` source pixels from `first`.
struct AxisTaps {
  std::vector<int64_t> first, count;
  std::vector<float> weights;  // (out, taps), zero-padded
  int64_t taps = 0;
};

AxisTaps axis_taps(int64_t in, int64_t out) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double support = std::max(scale, 1.0);  // the triangle's half-width in source pixels
  AxisTaps t;
  t.taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  t.first.resize(static_cast<size_t>(out));
  t.count.resize(static_cast<size_t>(out));
  t.weights.assign(static_cast<size_t>(out * t.taps), 0.0f);
  for (int64_t i = 0; i < out; ++i) {
    const double center =
        (static_cast<double>(i) + 0.5) * scale;  // in edge coordinates: pixel x spans [x, x + 1)
    const int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(std::floor(center - support)));
    const int64_t hi = std::min<int64_t>(in, static_cast<int64_t>(std::ceil(center + support)));
    std::vector<double> w;
    double sum = 0;
    for (int64_t x = lo; x < hi; ++x) {
      const double v = std::max(0.0, 1.0 - std::abs(static_cast<double>(x) + 0.5 - center) / support);
      w.push_back(v);
      sum += v;
    }
    MINICNN_ASSERT(sum > 0 && static_cast<int64_t>(w.size()) <= t.taps);
    t.first[static_cast<size_t>(i)] = lo;
    t.count[static_cast<size_t>(i)] = static_cast<int64_t>(w.size());
    for (size_t k = 0; k < w.size(); ++k)
      t.weights[static_cast<size_t>(i * t.taps) + k] = static_cast<float>(w[k] / sum);
  }
  return t;
}

// An image as decoded and brought to its own channel count (1 grey, 3 colour) and the common size.
struct Planar {
  std::vector<uint8_t> pixels;  // (C, H, W)
  int64_t channels = 0, height = 0, width = 0;
};

struct ImageFile {
  std::string path;
  int32_t label;
};

std::vector<fs::path> sorted_entries(const fs::path& dir, bool directories) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  MINICNN_CHECK(!ec, kComponent, ": cannot list '", dir.string(), "': ", ec.message());
  std::vector<fs::path> out;
  for (; it != end; it.increment(ec)) {
    MINICNN_CHECK(!ec, kComponent, ": cannot list '", dir.string(), "': ", ec.message());
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (directories ? it->is_directory(ec) : (it->is_regular_file(ec) && is_image_file_name(name)))
      out.push_back(it->path());
  }
  std::sort(out.begin(), out.end(), [](const fs::path& a, const fs::path& b) {
    return a.filename().string() < b.filename().string();
  });
  return out;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}

// The image files of DIR/<split>/<class>/ in class then file-name order. The class folders found become
// `classes` when it is empty (train/), else they must be the same (test/).
std::vector<ImageFile> list_split(const fs::path& root, const std::string& split,
                                  std::vector<std::string>& classes) {
  const fs::path dir = root / split;
  MINICNN_CHECK(fs::is_directory(dir), kComponent, ": expected --data '", root.string(), "' to hold ",
                kLayout, ", but '", dir.string(), "' does not exist");
  std::vector<std::string> found;
  for (const fs::path& p : sorted_entries(dir, true)) found.push_back(p.filename().string());
  if (classes.empty()) {
    MINICNN_CHECK(!found.empty(), kComponent, ": '", dir.string(),
                  "' holds no class folders, expected one sub-folder of images per class");
    classes = found;
  } else if (found != classes) {
    std::vector<std::string> missing, extra;
    std::set_difference(classes.begin(), classes.end(), found.begin(), found.end(),
                        std::back_inserter(missing));
    std::set_difference(found.begin(), found.end(), classes.begin(), classes.end(),
                        std::back_inserter(extra));
    detail::throw_error(detail::concat(kComponent, ": '", dir.string(),
                                       "' should hold the same class folders as '", (root / "train").string(),
                                       "', but ", missing.empty() ? "" : "it lacks " + join(missing),
                                       !missing.empty() && !extra.empty() ? " and " : "",
                                       extra.empty() ? "" : "it also holds " + join(extra)));
  }
  std::vector<ImageFile> files;
  for (size_t c = 0; c < classes.size(); ++c) {
    const fs::path class_dir = dir / classes[c];
    const std::vector<fs::path> images = sorted_entries(class_dir, false);
    MINICNN_CHECK(!images.empty(), kComponent, ": class folder '", class_dir.string(),
                  "' holds no PNG, JPEG or BMP images");
    for (const fs::path& p : images) files.push_back({p.string(), static_cast<int32_t>(c)});
  }
  return files;
}

// Reads and decodes one file: grey (+alpha) to 1 channel, RGB(A) to 3, resized when asked.
Planar decode_file(const std::string& path, const DatasetOptions& options) {
  const std::vector<uint8_t> bytes = read_file(path, kComponent, kMaxImageFileBytes);
  const DecodedImage image = decode_image(bytes.data(), bytes.size(), path);
  Planar p;
  p.channels = image.channels >= 3 ? 3 : 1;
  p.height = image.height;
  p.width = image.width;
  p.pixels = to_planar(image, p.channels);
  if (options.resize() && (p.height != options.resize_height || p.width != options.resize_width)) {
    std::vector<uint8_t> resized(
        static_cast<size_t>(p.channels * options.resize_height * options.resize_width));
    resize_bilinear(p.pixels.data(), p.channels, p.height, p.width, resized.data(), options.resize_height,
                    options.resize_width);
    p.pixels = std::move(resized);
    p.height = options.resize_height;
    p.width = options.resize_width;
  }
  return p;
}

// Copies `from` into `out` (C, H, W) with C = `channels`, replicating grey or taking colour's luma.
void convert_into(const Planar& from, int64_t channels, uint8_t* out) {
  const int64_t plane = from.height * from.width;
  if (from.channels == channels) {
    std::copy(from.pixels.begin(), from.pixels.end(), out);
  } else if (from.channels == 1) {
    for (int64_t c = 0; c < 3; ++c) std::copy(from.pixels.begin(), from.pixels.end(), out + c * plane);
  } else {
    const uint8_t *r = from.pixels.data(), *g = r + plane, *b = g + plane;
    for (int64_t k = 0; k < plane; ++k) out[k] = luma(r[k], g[k], b[k]);
  }
}

std::string dataset_name(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  std::string name = p.filename().string();
  if (name.empty() || name == "." || name == "..")
    name = fs::absolute(p).lexically_normal().filename().string();
  return name.empty() ? dir : name;
}

}  // namespace

bool is_image_file_name(const std::string& name) {
  if (name.empty() || name[0] == '.') return false;
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = name.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return ext == "png" || ext == "jpg" || ext == "jpeg" || ext == "bmp";
}

std::vector<uint8_t> to_planar(const DecodedImage& image, int64_t channels) {
  MINICNN_CHECK(channels == 1 || channels == 3, "image: expected 1 or 3 channels to convert to, but got ",
                channels);
  const int64_t plane = image.height * image.width, stored = image.channels;
  MINICNN_ASSERT(stored >= 1 && stored <= 4 && static_cast<int64_t>(image.pixels.size()) == plane * stored);
  std::vector<uint8_t> out(static_cast<size_t>(channels * plane));
  const uint8_t* px = image.pixels.data();
  const bool colour = stored >= 3;
  for (int64_t k = 0; k < plane; ++k) {
    const uint8_t* p = px + k * stored;
    if (channels == 3) {
      for (int64_t c = 0; c < 3; ++c) out[static_cast<size_t>(c * plane + k)] = colour ? p[c] : p[0];
    } else {
      out[static_cast<size_t>(k)] = colour ? luma(p[0], p[1], p[2]) : p[0];
    }
  }
  return out;
}

void resize_bilinear(const uint8_t* src, int64_t C, int64_t H, int64_t W, uint8_t* dst, int64_t OH,
                     int64_t OW) {
  MINICNN_CHECK(
      C > 0 && H > 0 && W > 0 && OH > 0 && OW > 0 && OH <= kMaxImageDimension && OW <= kMaxImageDimension,
      "resize: expected positive sizes of at most ", kMaxImageDimension, ", but got ", H, "x", W, " to ", OH,
      "x", OW);
  const AxisTaps tx = axis_taps(W, OW), ty = axis_taps(H, OH);
  std::vector<float> rows(static_cast<size_t>(H * OW));  // one channel resized along W: (H, OW)
  for (int64_t c = 0; c < C; ++c) {
    const uint8_t* s = src + c * H * W;
    for (int64_t y = 0; y < H; ++y) {
      for (int64_t ox = 0; ox < OW; ++ox) {
        const float* w = tx.weights.data() + ox * tx.taps;
        const uint8_t* in = s + y * W + tx.first[static_cast<size_t>(ox)];
        float acc = 0;
        for (int64_t k = 0; k < tx.count[static_cast<size_t>(ox)]; ++k)
          acc += w[k] * static_cast<float>(in[k]);
        rows[static_cast<size_t>(y * OW + ox)] = acc;
      }
    }
    uint8_t* d = dst + c * OH * OW;
    for (int64_t oy = 0; oy < OH; ++oy) {
      const float* w = ty.weights.data() + oy * ty.taps;
      const int64_t first = ty.first[static_cast<size_t>(oy)], count = ty.count[static_cast<size_t>(oy)];
      for (int64_t ox = 0; ox < OW; ++ox) {
        float acc = 0;
        for (int64_t k = 0; k < count; ++k) acc += w[k] * rows[static_cast<size_t>((first + k) * OW + ox)];
        d[oy * OW + ox] = static_cast<uint8_t>(std::lround(std::clamp(acc, 0.0f, 255.0f)));
      }
    }
  }
}

DatasetSplit load_image_folder(const std::string& dir, const DatasetOptions& options) {
  MINICNN_CHECK(fs::is_directory(dir), kComponent, ": data directory '", dir,
                "' does not exist or is not a directory; pass --data naming a folder with ", kLayout);
  MINICNN_CHECK(options.resize_height >= 0 && options.resize_width >= 0 &&
                    (options.resize_height > 0) == (options.resize_width > 0) &&
                    options.resize_height <= kMaxImageDimension && options.resize_width <= kMaxImageDimension,
                kComponent, ": expected a resize of two positive sizes of at most ", kMaxImageDimension,
                ", but got ", options.resize_height, "x", options.resize_width);
  std::vector<std::string> classes;
  const std::vector<ImageFile> train_files = list_split(dir, "train", classes);
  const std::vector<ImageFile> test_files = list_split(dir, "test", classes);

  // Decode every file once, in parallel; each slot is written by one thread, so the result is the same for
  // any thread count. After a failure, files past it are skipped, and the first failing file (in class then
  // file-name order, training files first) is the one reported.
  std::vector<ImageFile> files = train_files;
  files.insert(files.end(), test_files.begin(), test_files.end());
  const int64_t n_train = static_cast<int64_t>(train_files.size()), n = static_cast<int64_t>(files.size());
  std::vector<Planar> decoded(static_cast<size_t>(n));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
  std::atomic<int64_t> first_error{n};
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < n; ++i) {
    if (i > first_error.load(std::memory_order_relaxed)) continue;
    try {
      decoded[static_cast<size_t>(i)] = decode_file(files[static_cast<size_t>(i)].path, options);
    } catch (...) {
      errors[static_cast<size_t>(i)] = std::current_exception();
      int64_t seen = first_error.load();
      while (i < seen && !first_error.compare_exchange_weak(seen, i)) {
      }
    }
  }
  if (first_error.load() < n) std::rethrow_exception(errors[static_cast<size_t>(first_error.load())]);

  const int64_t H = decoded[0].height, W = decoded[0].width;
  for (int64_t i = 1; i < n; ++i) {
    const Planar& p = decoded[static_cast<size_t>(i)];
    MINICNN_CHECK(p.height == H && p.width == W, kComponent, ": expected every image to be ", H, "x", W,
                  " (H x W) like '", files[0].path, "', but '", files[static_cast<size_t>(i)].path, "' is ",
                  p.height, "x", p.width,
                  "; ask for a resize (--resize H,W) to bring all images to one size");
  }
  int64_t channels = 1;
  for (int64_t i = 0; i < n_train; ++i)
    channels = std::max(channels, decoded[static_cast<size_t>(i)].channels);

  const std::string name = dataset_name(dir);
  auto assemble = [&](int64_t begin, int64_t end) {
    ImageDataset d;
    d.name = name;
    d.channels = channels;
    d.height = H;
    d.width = W;
    d.classes = classes;
    const int64_t bytes = d.image_bytes();
    d.images.resize(static_cast<size_t>((end - begin) * bytes));
    d.labels.resize(static_cast<size_t>(end - begin));
#pragma omp parallel for schedule(static)
    for (int64_t i = begin; i < end; ++i) {
      convert_into(decoded[static_cast<size_t>(i)], channels, d.images.data() + (i - begin) * bytes);
      std::vector<uint8_t>().swap(decoded[static_cast<size_t>(i)].pixels);  // freed as it is copied
      d.labels[static_cast<size_t>(i - begin)] = files[static_cast<size_t>(i)].label;
    }
    return d;
  };
  DatasetSplit split;
  split.train = assemble(0, n_train);
  split.test = assemble(n_train, n);
  return split;
}

}  // namespace minicnn
