// Test helpers: tensor comparisons, temporary directories, .npy and synthetic IDX files, and running the CLI.
#include "test_util.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <minicnn/check.h>
#include <minicnn/image_io.h>
#include <minicnn/random.h>

namespace minicnn::testing {

namespace fs = std::filesystem;

namespace {

::testing::AssertionResult same_layout(const Tensor& actual, const Tensor& expected) {
  if (actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure() << "shape " << actual.shape() << ", expected " << expected.shape();
  }
  if (actual.dtype() != expected.dtype()) {
    return ::testing::AssertionFailure()
           << "dtype " << dtype_name(actual.dtype()) << ", expected " << dtype_name(expected.dtype());
  }
  return ::testing::AssertionSuccess();
}

bool same_float(float a, float e) {
  return std::memcmp(&a, &e, sizeof(float)) == 0 || (std::isnan(a) && std::isnan(e));
}

// Every element pair through `same`, reporting how many differ and the first of them.
template <typename T, typename Same>
::testing::AssertionResult same_elements(const std::vector<T>& a, const std::vector<T>& e, Same same) {
  size_t differ = 0, first = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i], e[i]) && differ++ == 0) first = i;
  }
  if (differ == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << differ << " of " << a.size() << " elements differ, the first at flat index " << first << ": "
         << a[first] << ", expected " << e[first];
}

}  // namespace

::testing::AssertionResult same_values(const Tensor& actual, const Tensor& expected) {
  if (auto layout = same_layout(actual, expected); !layout) return layout;
  if (actual.dtype() == DType::Int32) {
    return same_elements(actual.to_vector_i32(), expected.to_vector_i32(), std::equal_to<int32_t>());
  }
  return same_elements(actual.to_vector(), expected.to_vector(), same_float);
}

::testing::AssertionResult close_values(const Tensor& actual, const Tensor& expected, Tolerance tol) {
  if (auto layout = same_layout(actual, expected); !layout) return layout;
  if (actual.dtype() != DType::Float32)
    return ::testing::AssertionFailure() << "close_values compares float32 tensors";
  const std::vector<float> a = actual.to_vector(), e = expected.to_vector();
  double scale = 0.0;
  for (float v : e) {
    if (std::isfinite(v)) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  }
  const double allowed = tol.abs + tol.rel * scale;
  double worst = 0.0;
  size_t worst_at = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - e[i]);
    if (std::isnan(d)) {  // a NaN on either side, or infinities of one sign
      return ::testing::AssertionFailure() << "flat index " << i << ": " << a[i] << ", expected " << e[i]
                                           << " (no tolerance covers a NaN or an infinity)";
    }
    if (d > worst) {
      worst = d;
      worst_at = i;
    }
  }
  if (worst <= allowed) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "largest difference " << worst << " (allowed " << allowed << ") at flat index " << worst_at
         << ": " << a[worst_at] << ", expected " << e[worst_at];
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TempDir::TempDir(const std::string& name)
    : path_(fs::temp_directory_path() / ("minicnn_" + name + "_" + std::to_string(::getpid()))) {
  fs::remove_all(path_);
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string npy_file(const std::string& descr, const std::string& shape, const void* bytes, size_t size) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');  // the data starts on a 64-byte boundary
  header += '\n';
  std::string out = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size() & 0xff) +
                    static_cast<char>(header.size() >> 8) + header;
  return out.append(static_cast<const char*>(bytes), size);
}

namespace {

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

}  // namespace

std::string idx_labels(int64_t n, uint64_t seed) {
  Generator gen(seed);
  std::string out = be32(0x801) + be32(static_cast<uint32_t>(n));
  for (int64_t i = 0; i < n; ++i) out += static_cast<char>(gen.below(10));
  return out;
}

std::string idx_images(int64_t n, int64_t h, int64_t w, uint64_t seed) {
  // Labels come from the same seed: image i draws a bright bar at a row given by its label, plus noise.
  Generator labels(seed), noise(seed + 1);
  std::string out = be32(0x803) + be32(static_cast<uint32_t>(n)) + be32(static_cast<uint32_t>(h)) +
                    be32(static_cast<uint32_t>(w));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = static_cast<int64_t>(labels.below(10));
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        const bool bar = y >= 2 + label * (h - 4) / 10 && y < 2 + (label + 1) * (h - 4) / 10;
        out += static_cast<char>(bar ? 200 + noise.below(56) : noise.below(40));
      }
    }
  }
  return out;
}

ImageDataset image_set(const char* name, int64_t channels, int64_t height, int64_t width) {
  ImageDataset d;
  d.name = name;
  d.channels = channels;
  d.height = height;
  d.width = width;
  return d;
}

void write_tiny_mnist(const std::string& dir, int64_t n_train, int64_t n_test) {
  fs::create_directories(dir);
  write_bytes(dir + "/train-images-idx3-ubyte", idx_images(n_train, 28, 28, 11));
  write_bytes(dir + "/train-labels-idx1-ubyte", idx_labels(n_train, 11));
  write_bytes(dir + "/t10k-images-idx3-ubyte", idx_images(n_test, 28, 28, 22));
  write_bytes(dir + "/t10k-labels-idx1-ubyte", idx_labels(n_test, 22));
}

// A tiny three-class folder: class k has a bright band in the k-th third of the rows, noise elsewhere.
void write_band_folder(const std::string& dir, int64_t size, int64_t per_class_train,
                       int64_t per_class_test) {
  Generator noise(3);
  const std::vector<std::string> classes = {"bottom", "middle", "top"};
  for (const char* split : {"train", "test"}) {
    const int64_t count = std::string(split) == "train" ? per_class_train : per_class_test;
    for (int64_t c = 0; c < 3; ++c) {
      fs::create_directories(fs::path(dir) / split / classes[static_cast<size_t>(c)]);
      for (int64_t i = 0; i < count; ++i) {
        std::vector<uint8_t> px(static_cast<size_t>(size * size * 3));
        const int64_t band = 2 - c;  // "top" (c = 2) is bright in the first third
        for (int64_t y = 0; y < size; ++y) {
          const bool bright = y * 3 / size == band;
          for (int64_t k = 0; k < size * 3; ++k) {
            px[static_cast<size_t>(y * size * 3 + k)] =
                static_cast<uint8_t>(bright ? 200 + noise.below(56) : noise.below(60));
          }
        }
        write_png(
            (fs::path(dir) / split / classes[static_cast<size_t>(c)] / fmt::format("{}.png", i)).string(),
            px.data(), size, size, 3);
      }
    }
  }
}

LoaderOptions loader_options(int64_t batch_size, bool shuffle, uint64_t seed, Augment augment,
                             Normalization normalization) {
  LoaderOptions o;
  o.batch_size = batch_size;
  o.shuffle = shuffle;
  o.seed = seed;
  o.augment = augment;
  o.normalization = std::move(normalization);
  return o;
}

CommandResult run_cli(const std::string& args, const std::string& env) {
  const std::string cmd = env + " " + MINICNN_CLI_PATH + " " + args + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  MINICNN_ASSERT(pipe != nullptr);
  std::string output;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  int code = -1;
  if (WIFEXITED(status)) code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) code = 128 + WTERMSIG(status);
  return {code, output};
}

}  // namespace minicnn::testing
