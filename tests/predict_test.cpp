// `minicnn predict` as users meet it: .npy pixel dtypes and scale, unreadable files among readable ones,
// checkpoints whose outputs are not their classes, and the logits file.
#include <gtest/gtest.h>

#include <filesystem>

#include <minicnn/checkpoint.h>
#include <minicnn/image_io.h>
#include <minicnn/npy.h>
#include <minicnn/registry.h>
#include "test_util.h"

namespace minicnn {
namespace {

namespace fs = std::filesystem;
using testing::contains;
using testing::run_cli;
using testing::TempDir;

// A lenet5 checkpoint trained for one epoch on a tiny MNIST-like set, made once per test process (its
// accuracy does not matter here, only that its predictions are those of a real checkpoint).
const std::string& tiny_checkpoint() {
  static TempDir tmp("predict_ckpt");
  static const std::string path = [] {
    testing::write_tiny_mnist(tmp / "data", 64, 16);
    const auto r = run_cli("train --dataset mnist --data " + (tmp / "data") +
                           " --model lenet5 --epochs 1 --batch-size 32 --out " + (tmp / "run"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return tmp / "run/model.safetensors";
  }();
  return path;
}

// Pixels 0..255 of `n` 28x28 images (n, 28, 28), each a bright bar on a dark background at its own rows.
std::vector<uint8_t> bar_pixels(int64_t n) {
  std::vector<uint8_t> p(static_cast<size_t>(n * 28 * 28), 12);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < 3 * 28; ++k) p[static_cast<size_t>(i * 784 + (4 + 7 * i) * 28 + k)] = 230;
  }
  return p;
}

std::string predict(const std::string& args) {
  return "predict --checkpoint " + tiny_checkpoint() + " " + args;
}

TEST(Predict, ReadsIntegerAndFloat64NpyAsPixelValues) {
  TempDir tmp("predict_dtypes");
  const std::vector<uint8_t> u1 = bar_pixels(3);
  std::vector<float> f4(u1.begin(), u1.end());
  std::vector<double> f8(u1.begin(), u1.end());
  std::vector<int64_t> i8(u1.begin(), u1.end());
  const std::string path = tmp / "x.npy";
  save_npy(path, Tensor::from_vector({3, 28, 28}, f4));
  const auto want = run_cli(predict("--npy " + path));
  ASSERT_EQ(want.exit_code, 0) << want.output;
  EXPECT_TRUE(contains(want.output, path + "[2]: ")) << want.output;
  testing::write_bytes(path, testing::npy_file("|u1", "(3, 28, 28)", u1.data(), u1.size()));
  EXPECT_EQ(run_cli(predict("--npy " + path)).output, want.output);
  testing::write_bytes(path, testing::npy_file("<f8", "(3, 28, 28)", f8.data(), f8.size() * 8));
  EXPECT_EQ(run_cli(predict("--npy " + path)).output, want.output);
  testing::write_bytes(path, testing::npy_file("<i8", "(3, 28, 28)", i8.data(), i8.size() * 8));
  const auto r = run_cli(predict("--npy " + path));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, want.output);
}

// What a PyTorch user has after ToTensor(): pixels scaled to 0..1, which read as 0..255 are a black image.
TEST(Predict, RefusesFloatPixelsInZeroToOne) {
  TempDir tmp("predict_unit");
  std::vector<float> x;
  for (uint8_t v : bar_pixels(2)) x.push_back(static_cast<float>(v) / 255.0f);
  save_npy(tmp / "x.npy", Tensor::from_vector({2, 1, 28, 28}, x));
  const auto r = run_cli(predict("--npy " + (tmp / "x.npy")));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(
      contains(r.output, "minicnn: error: predict: '" + (tmp / "x.npy") +
                             "' holds pixel values within 0..1 (such as 0.047058824 at flat index 0), "
                             "but the model expects pixel values 0..255 as image files hold them; "
                             "multiply the array by 255"))
      << r.output;
  EXPECT_FALSE(contains(r.output, "[0]: ")) << r.output;
}

TEST(Predict, WarnsWhenPixelsAreOnlyZeroAndOne) {
  TempDir tmp("predict_binary");
  std::vector<float> x;
  for (uint8_t v : bar_pixels(1)) x.push_back(v > 100 ? 1.0f : 0.0f);
  save_npy(tmp / "x.npy", Tensor::from_vector({1, 28, 28}, x));
  const auto r = run_cli(predict("--npy " + (tmp / "x.npy")));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "minicnn: warning: predict: '" + (tmp / "x.npy") +
                                     "' holds only the values 0 and 1, which are read as pixel values 0..255 "
                                     "(nearly black); if they are pixels scaled to 0..1, multiply the array "
                                     "by 255\n"))
      << r.output;
  EXPECT_TRUE(contains(r.output, (tmp / "x.npy") + "[0]: ")) << r.output;
  // A black image is the same in either scale, and pixels 0..255 are what is expected: no warning.
  save_npy(tmp / "x.npy", Tensor::zeros({1, 28, 28}));
  EXPECT_FALSE(contains(run_cli(predict("--npy " + (tmp / "x.npy"))).output, "warning")) << r.output;
}

TEST(Predict, PredictsTheReadableImagesAndNamesEachUnreadableOne) {
  TempDir tmp("predict_partial");
  const std::vector<uint8_t> pixels = bar_pixels(2);
  write_png(tmp / "a.png", pixels.data(), 28, 28, 1);
  write_png(tmp / "b.png", pixels.data() + 784, 28, 28, 1);
  testing::write_bytes(tmp / "broken.png", testing::read_bytes(tmp / "a.png").substr(0, 60));
  const auto good = run_cli(predict((tmp / "a.png") + " " + (tmp / "b.png")));
  ASSERT_EQ(good.exit_code, 0) << good.output;

  const auto r = run_cli(predict((tmp / "a.png") + " " + (tmp / "broken.png") + " " + (tmp / "b.png") + " " +
                                 (tmp / "missing.png")));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  // The readable images get the lines they get alone, in order.
  EXPECT_TRUE(contains(r.output, good.output)) << r.output << " vs " << good.output;
  EXPECT_TRUE(
      contains(r.output, "minicnn: error: image: '" + (tmp / "broken.png") + "' is corrupt or truncated"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "minicnn: error: image: cannot open '" + (tmp / "missing.png") + "'"))
      << r.output;
  size_t errors = 0;
  for (size_t at = r.output.find("minicnn: error:"); at != std::string::npos;
       at = r.output.find("minicnn: error:", at + 1)) {
    ++errors;
  }
  EXPECT_EQ(errors, 2u) << r.output;

  // The logits' rows would not match the files given: none are written rather than shifted ones.
  const auto l = run_cli(predict("--quiet --logits " + (tmp / "l.npy") + " " + (tmp / "a.png") + " " +
                                 (tmp / "broken.png") + " " + (tmp / "b.png")));
  EXPECT_EQ(l.exit_code, 1) << l.output;
  EXPECT_FALSE(fs::exists(tmp / "l.npy"));
  EXPECT_TRUE(contains(l.output, "minicnn: error: predict: --logits '" + (tmp / "l.npy") +
                                     "' was not written, because 1 of the 3 images could not be read"))
      << l.output;
}

TEST(Predict, LogitsAreOneRowPerImageAndOneColumnPerClass) {
  TempDir tmp("predict_logits");
  const std::vector<uint8_t> u1 = bar_pixels(3);
  save_npy(tmp / "x.npy", Tensor::from_vector({3, 1, 28, 28}, std::vector<float>(u1.begin(), u1.end())));
  const auto r = run_cli(predict("--quiet --npy " + (tmp / "x.npy") + " --logits " + (tmp / "l.npy")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "");
  const Tensor logits = load_npy(tmp / "l.npy");
  EXPECT_EQ(logits.dtype(), DType::Float32);
  EXPECT_EQ(logits.shape(), Shape({3, 10}));
}

// Checkpoints from before the trainer checked it can hold a model of more outputs than classes: a softmax
// over 12 outputs read as 10 classes does not add up to 1.
TEST(Predict, RefusesACheckpointWhoseOutputsAreNotItsClasses) {
  TempDir tmp("predict_classes");
  Model model = parse_model("Flatten LazyLinear(12)");
  model.build({1, 28, 28}, 1);
  CheckpointMeta meta;
  meta.spec = model_to_spec(model);
  meta.model_name = "custom";
  meta.input_chw = {1, 28, 28};
  meta.normalization = {{0.1f}, {0.3f}};
  meta.dataset = "mnist";
  for (int c = 0; c < 10; ++c) meta.classes.push_back(std::to_string(c));
  save_checkpoint(tmp / "m.safetensors", model, nullptr, meta, TrainState{});
  const std::vector<uint8_t> pixels = bar_pixels(1);
  write_png(tmp / "a.png", pixels.data(), 28, 28, 1);
  const auto r = run_cli("predict --checkpoint " + (tmp / "m.safetensors") + " " + (tmp / "a.png"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(
      r.output,
      "minicnn: error: predict: the model in '" + (tmp / "m.safetensors") +
          "' gives 12 outputs, but the checkpoint records 10 classes of mnist, so its probabilities "
          "would not be over those classes; retrain it with a model whose last layer gives 10 outputs\n");
}

}  // namespace
}  // namespace minicnn
