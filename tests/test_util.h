// Helpers shared by the tests: comparing tensors, capturing an Error's sentence, temporary directories, .npy
// files of any dtype, tiny IDX data sets, and running the `minicnn` command.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <minicnn/dataset.h>
#include <minicnn/loader.h>
#include <minicnn/recipe.h>

#include <minicnn/tensor.h>

namespace minicnn::testing {

/// Exact agreement: the same shape and dtype, int32 elements equal, float32 elements equal bit for bit,
/// except that any NaN equals any NaN. Where a NaN must propagate (max pooling's rule) it has to be there,
/// but its payload is no rule: arithmetic keeps it on x86 and gives the canonical NaN on the GPU.
/// Example: EXPECT_TRUE(same_values(pool.forward(x, Mode::Eval), y_torch)) << "output";
::testing::AssertionResult same_values(const Tensor& actual, const Tensor& expected);

/// Allowed difference per element: abs + rel * (the largest finite |expected| of the tensor).
struct Tolerance {
  double abs = 0.0;
  double rel = 0.0;
};

/// Agreement of float32 tensors of one shape within `tol`. The relative part scales with the tensor's
/// largest magnitude, not each element's: the error of a float sum (a GEMM, a pooling window) scales with
/// its terms, not with the result, which may cancel to near zero. A NaN or an infinity on either side is a
/// failure, even against the same value: tolerances are for finite arithmetic, and a NaN that should
/// propagate is checked with same_values. Example: EXPECT_TRUE(close_values(dx, dx_torch, {.abs = 1e-6}));
::testing::AssertionResult close_values(const Tensor& actual, const Tensor& expected, Tolerance tol);

/// Whether `text` holds `part`. Example: EXPECT_TRUE(contains(r.output, "test accuracy: ")) << r.output;
inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// The message of the minicnn::Error `f` throws, or "(no error)".
std::string error_of(const std::function<void()>& f);

/// A fresh directory under the system's temporary directory, removed when the object goes away.
class TempDir {
 public:
  explicit TempDir(const std::string& name);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

void write_bytes(const std::string& path, const std::string& bytes);
std::string read_bytes(const std::string& path);
/// A version 1.0 .npy file of dtype `descr` ("<i8", "|u1", ...) and shape `shape` ("(2, 3)") holding `bytes`,
/// for the dtypes save_npy does not write. Example: npy_file("<i8", "(2,)", values, sizeof values).
std::string npy_file(const std::string& descr, const std::string& shape, const void* bytes, size_t size);

/// IDX bytes: images (n, h, w) whose pixels encode their label (so a model can learn them) and labels.
std::string idx_images(int64_t n, int64_t h, int64_t w, uint64_t seed);
std::string idx_labels(int64_t n, uint64_t seed);
/// Writes the four MNIST files of a tiny data set (n_train, n_test images of 28x28) into `dir`.
void write_tiny_mnist(const std::string& dir, int64_t n_train = 256, int64_t n_test = 64);
/// A data set of C x H x W images with no images, labels or classes yet.
ImageDataset image_set(const char* name, int64_t channels, int64_t height, int64_t width);

/// An image folder (train/, test/) of 3 classes of size x size RGB PNGs ("bottom", "middle", "top"): a
/// bright horizontal band in the class's third of the image, over noise.
void write_band_folder(const std::string& dir, int64_t size, int64_t per_class_train, int64_t per_class_test);

/// Loader options from their plain settings (the rest at their defaults).
LoaderOptions loader_options(int64_t batch_size, bool shuffle = false, uint64_t seed = 0, Augment augment = Augment::None,
                             Normalization normalization = {});

struct CommandResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};
/// Runs the minicnn CLI with `args` (shell-quoted by the caller) and captures its output.
CommandResult run_cli(const std::string& args, const std::string& env = "");

}  // namespace minicnn::testing
