// The `minicnn` command as users meet it: exit codes, one-sentence errors, and the tutorial through `pool`.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <minicnn/npy.h>
#include "test_util.h"

namespace minicnn {
namespace {

using testing::contains;
using testing::run_cli;
using testing::TempDir;

TEST(Cli, UnknownFlagIsAUsageErrorNamingTheFlag) {
  const auto r = run_cli("train --dataset mnist --epoch 3");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "--epoch")) << r.output;
  EXPECT_FALSE(contains(r.output, "terminate")) << r.output;
}

TEST(Cli, MissingDataDirectoryExitsWithOneSentence) {
  const auto r = run_cli("train --dataset mnist --data /nonexistent/mnist --out /tmp/unused");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(
      contains(r.output,
               "minicnn: error: MNIST: data directory '/nonexistent/mnist' does not exist or is not a "
               "directory; pass --data naming the folder of its four IDX files, or run "
               "scripts/get_mnist.sh (it fills data/mnist, the default --data)\n"))
      << r.output;
}

// Each data set's missing folder or file is one sentence that names --data and how to get the data.
TEST(Cli, MissingDataSaysWhereToGetIt) {
  TempDir tmp("cli_nodata");
  auto error = [&](const std::string& flags) {
    const auto r = run_cli("train " + flags + " --out " + (tmp / "run"));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_FALSE(std::filesystem::exists(tmp / "run")) << flags;
    return r.output;
  };
  std::string out = error("--dataset fashion-mnist --data /nonexistent/x");
  EXPECT_TRUE(
      contains(out,
               "minicnn: error: Fashion-MNIST: data directory '/nonexistent/x' does not exist or is not "
               "a directory; pass --data naming the folder of its four IDX files, or install them with "
               "'apt-get install dataset-fashion-mnist' (into /usr/share/datasets/fashion-mnist, the "
               "default --data)\n"))
      << out;
  testing::write_tiny_mnist(tmp / "mnist", 20, 10);
  std::filesystem::remove(tmp / "mnist/train-labels-idx1-ubyte");
  out = error("--dataset mnist --data " + (tmp / "mnist"));
  const std::string missing = "'train-labels-idx1-ubyte' (or 'train-labels-idx1-ubyte.gz') is missing in '";
  EXPECT_TRUE(contains(out, "minicnn: error: MNIST: " + missing + (tmp / "mnist") +
                                "'; pass --data naming the folder of its four IDX files, or run "
                                "scripts/get_mnist.sh"))
      << out;
  out = error("--dataset cifar10 --data /nonexistent/x");
  EXPECT_TRUE(
      contains(out,
               "minicnn: error: CIFAR-10: data directory '/nonexistent/x' does not exist or is not a "
               "directory; pass --data naming the official cifar-10-batches-bin folder (unpacked from "
               "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz)\n"))
      << out;
  out = error("--dataset cifar10 --data " + (tmp / "mnist"));
  EXPECT_TRUE(contains(out, "minicnn: error: CIFAR-10: 'data_batch_1.bin' is missing in '" + (tmp / "mnist") +
                                "'; pass --data naming the official cifar-10-batches-bin folder"))
      << out;
  out = error("--dataset folder --data /nonexistent/x");
  EXPECT_TRUE(
      contains(out,
               "minicnn: error: image folder: data directory '/nonexistent/x' does not exist or is not "
               "a directory; pass --data naming a folder with train/<class>/ and test/<class>/ folders "
               "of PNG, JPEG or BMP images\n"))
      << out;
  out = error("--dataset folder --data " + (tmp / "mnist"));
  EXPECT_TRUE(contains(out, "minicnn: error: image folder: expected --data '" + (tmp / "mnist") +
                                "' to hold train/<class>/ and test/<class>/ folders of PNG, JPEG or BMP "
                                "images, but '" +
                                (tmp / "mnist/train") + "' does not exist\n"))
      << out;
}

TEST(Cli, WrongMagicNamesTheFile) {
  TempDir tmp("cli_magic");
  testing::write_tiny_mnist(tmp.path().string(), 20, 10);
  std::filesystem::copy_file(tmp / "train-labels-idx1-ubyte", tmp / "train-images-idx3-ubyte",
                             std::filesystem::copy_options::overwrite_existing);
  const auto r = run_cli("train --dataset mnist --data " + tmp.path().string() + " --out " + (tmp / "run"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "'train-images-idx3-ubyte' has magic 0x00000801, expected 0x00000803 (images)"))
      << r.output;
}

TEST(Cli, TruncatedFileIsNamed) {
  TempDir tmp("cli_trunc");
  testing::write_tiny_mnist(tmp.path().string(), 20, 10);
  const std::string full = testing::read_bytes(tmp / "t10k-images-idx3-ubyte");
  testing::write_bytes(tmp / "t10k-images-idx3-ubyte", full.substr(0, 1000));
  const auto r = run_cli("train --dataset mnist --data " + tmp.path().string() + " --out " + (tmp / "run"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "'t10k-images-idx3-ubyte' is truncated")) << r.output;
}

TEST(Cli, NonEmptyRunDirectoryIsRefused) {
  TempDir tmp("cli_nonempty");
  testing::write_tiny_mnist(tmp.path().string(), 20, 10);
  std::filesystem::create_directories(tmp / "run");
  testing::write_bytes(tmp / "run/keep.txt", "x");
  const auto r = run_cli("train --dataset mnist --data " + tmp.path().string() + " --out " + (tmp / "run"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "is not empty; pass --resume")) << r.output;
}

TEST(Cli, TrainEvalAndResumeOnATinyDataSet) {
  TempDir tmp("cli_train");
  testing::write_tiny_mnist(tmp.path().string(), 128, 32);
  const std::string common = "--dataset mnist --data " + tmp.path().string() + " --out " + (tmp / "run") +
                             " --model lenet5 --epochs 1 --batch-size 32";
  const auto r = run_cli("train " + common);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "test accuracy: 0.")) << r.output;
  const std::string accuracy = r.output.substr(r.output.find("test accuracy: "), 21);
  const auto e = run_cli("eval --checkpoint " + (tmp / "run/model.safetensors") + " --data " + tmp.path().string());
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EXPECT_TRUE(contains(e.output, accuracy)) << e.output << " vs " << accuracy;
  const auto again = run_cli("train " + common + " --resume");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_TRUE(contains(again.output, "already finished")) << again.output;
}

// `train` of lenet5 for one epoch, with `flags`, on a tiny MNIST written into `tmp` (the run in tmp/run).
testing::CommandResult train_lenet5_on_tiny_mnist(const TempDir& tmp, const std::string& flags) {
  testing::write_tiny_mnist(tmp.path().string(), 64, 32);
  return run_cli("train --dataset mnist --data " + tmp.path().string() + " --out " + (tmp / "run") +
                 " --model lenet5 --epochs 1 " + flags);
}

// torch.optim.Adam has no nesterov argument: asking for it is an error, not a silent no-op.
TEST(Cli, NesterovWithAdamIsRefused) {
  TempDir tmp("cli_nesterov");
  const auto r = train_lenet5_on_tiny_mnist(tmp, "--optimizer adam --nesterov true");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output,
                       "train: --nesterov applies to SGD (torch.optim.SGD's nesterov), but the "
                       "optimizer is adam; leave --nesterov out or use --optimizer sgd"))
      << r.output;
}

// The banner says that --pool swapped the preset's pooling layers.
TEST(Cli, TheBannerNamesThePoolingVariant) {
  TempDir tmp("cli_pool_banner");
  const auto r = train_lenet5_on_tiny_mnist(tmp, "--pool avg2");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "training lenet5 with avg2 pooling on ")) << r.output;
}

// eval --tta gives the accuracy the trainer's final evaluation recorded with the same level.
TEST(Cli, EvalWithTestTimeAugmentationMatchesTheRunsOwn) {
  TempDir tmp("cli_eval_tta");
  testing::write_tiny_mnist(tmp.path().string(), 128, 64);
  const auto r = run_cli("train --dataset mnist --data " + tmp.path().string() + " --out " + (tmp / "run") +
                         " --model lenet5 --epochs 1 --batch-size 32 --tta 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json summary = nlohmann::json::parse(testing::read_bytes((tmp / "run/summary.json")));
  const std::string expected = fmt::format("test accuracy: {:.4f} (test-time augmentation level 2)",
                                           summary.at("test_accuracy_tta").get<double>());
  EXPECT_TRUE(contains(r.output, ", test-time augmentation level 2;")) << r.output;  // the banner
  EXPECT_TRUE(contains(r.output, fmt::format("test accuracy with test-time augmentation level 2: {:.4f}",
                                             summary.at("test_accuracy_tta").get<double>())))
      << r.output;
  const auto e = run_cli("eval --checkpoint " + (tmp / "run") + " --tta 2");
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EXPECT_TRUE(contains(e.output, expected)) << e.output << " vs " << expected;
  const auto bad = run_cli("eval --checkpoint " + (tmp / "run") + " --tta 3");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_TRUE(contains(bad.output, "--tta")) << bad.output;
}

// The tutorial's examples through the command line: x.npy in, y.npy and indices out.
TEST(Cli, PoolReproducesTheTutorial) {
  TempDir tmp("cli_pool");
  std::vector<float> v;
  for (int i = 1; i <= 16; ++i) v.push_back(static_cast<float>(i));
  save_npy(tmp / "x.npy", Tensor::from_vector({1, 1, 4, 4}, v));
  auto pool = [&](const std::string& flags) {
    const auto r = run_cli("pool --input " + (tmp / "x.npy") + " --output " + (tmp / "y.npy") + " " + flags);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return load_npy(tmp / "y.npy").to_vector();
  };
  const auto r = run_cli("pool --mode max --kernel-size 2 --stride 2 --input " + (tmp / "x.npy") + " --output " +
                         (tmp / "y.npy") + " --indices " + (tmp / "i.npy"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(load_npy(tmp / "y.npy").to_vector(), std::vector<float>({6, 8, 14, 16}));
  EXPECT_EQ(load_npy(tmp / "i.npy").to_vector_i32(), std::vector<int32_t>({5, 7, 13, 15}));
  EXPECT_EQ(pool("--kernel-size 2 --stride 1"), std::vector<float>({6, 7, 8, 10, 11, 12, 14, 15, 16}));
  EXPECT_EQ(pool("--kernel-size 2 --stride 2 --padding 1"), std::vector<float>({1, 3, 4, 9, 11, 12, 13, 15, 16}));
  for (float& x : v) x = -x;
  save_npy(tmp / "x.npy", Tensor::from_vector({1, 1, 4, 4}, v));
  EXPECT_EQ(pool("--kernel-size 2 --stride 2 --padding 1"), std::vector<float>({-1, -2, -4, -5, -6, -8, -13, -14, -16}));
  EXPECT_EQ(pool("--mode avg --kernel-size 2 --stride 2 --padding 1 --count-include-pad false")[0], -1.0f);
}

TEST(Cli, PoolBackwardWritesTheInputGradient) {
  TempDir tmp("cli_pool_bw");
  save_npy(tmp / "x.npy", Tensor::from_vector({1, 1, 2, 2}, {1, 4, 3, 2}));
  save_npy(tmp / "dy.npy", Tensor::from_vector({1, 1, 1, 1}, {5}));
  const auto r = run_cli("pool --kernel-size 2 --input " + (tmp / "x.npy") + " --output " + (tmp / "y.npy") +
                         " --grad-output " + (tmp / "dy.npy") + " --grad-input " + (tmp / "dx.npy"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(load_npy(tmp / "dx.npy").to_vector(), std::vector<float>({0, 5, 0, 0}));
}

// pool reads .npy values by the one rule (npy.h): integers and float64 become float32, exactly or not at all.
TEST(Cli, PoolReadsIntegerArraysAsFloat32) {
  TempDir tmp("cli_pool_int");
  const int64_t x[] = {1, 4, 3, 2};
  const int32_t dy[] = {5};
  testing::write_bytes(tmp / "x.npy", testing::npy_file("<i8", "(1, 1, 2, 2)", x, sizeof x));
  testing::write_bytes(tmp / "dy.npy", testing::npy_file("<i4", "(1, 1, 1, 1)", dy, sizeof dy));
  const auto r = run_cli("pool --kernel-size 2 --input " + (tmp / "x.npy") + " --output " + (tmp / "y.npy") +
                         " --grad-output " + (tmp / "dy.npy") + " --grad-input " + (tmp / "dx.npy"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(load_npy(tmp / "y.npy").to_vector(), std::vector<float>({4}));
  EXPECT_EQ(load_npy(tmp / "dx.npy").to_vector(), std::vector<float>({0, 5, 0, 0}));
  const uint8_t u[] = {9, 200, 7, 0};
  testing::write_bytes(tmp / "x.npy", testing::npy_file("|u1", "(1, 1, 2, 2)", u, sizeof u));
  const auto ru =
      run_cli("pool --mode avg --kernel-size 2 --input " + (tmp / "x.npy") + " --output " + (tmp / "y.npy"));
  ASSERT_EQ(ru.exit_code, 0) << ru.output;
  EXPECT_EQ(load_npy(tmp / "y.npy").to_vector(), std::vector<float>({54}));
}

TEST(Cli, PoolRefusesIntegersFloat32CannotHold) {
  TempDir tmp("cli_pool_big");
  const int64_t x[] = {1, 16777217, 3, 2};
  testing::write_bytes(tmp / "x.npy", testing::npy_file("<i8", "(1, 1, 2, 2)", x, sizeof x));
  const auto r = run_cli("pool --kernel-size 2 --input " + (tmp / "x.npy") + " --output " + (tmp / "y.npy"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "minicnn: error: npy: '" + (tmp / "x.npy") +
                                     "' holds the int64 value 16777217 at flat index 1, but float32 holds "
                                     "integers exactly only up to 2^24"))
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(tmp / "y.npy"));
}

TEST(Cli, PoolErrorsAreSentencesNotCrashes) {
  TempDir tmp("cli_pool_err");
  save_npy(tmp / "x.npy", Tensor::zeros({4, 4}));
  auto r = run_cli("pool --kernel-size 2 --input " + (tmp / "x.npy") + " --output " + (tmp / "y.npy"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "MaxPool2d: expected 3D (C, H, W) or 4D (N, C, H, W) input, but got shape [4, 4]"))
      << r.output;
  save_npy(tmp / "x.npy", Tensor::zeros({1, 1, 2, 2}));
  r = run_cli("pool --kernel-size 3 --input " + (tmp / "x.npy") + " --output " + (tmp / "y.npy"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "output size is too small")) << r.output;
  r = run_cli("pool --kernel-size 3 --padding 2 --input " + (tmp / "x.npy") + " --output " + (tmp / "y.npy"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "padding should be at most half of effective kernel size")) << r.output;
  r = run_cli("pool --kernel-size 2,x --input " + (tmp / "x.npy") + " --output " + (tmp / "y.npy"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "--kernel-size: expected")) << r.output;
  r = run_cli("pool --mode avg --dilation 2 --kernel-size 2 --input " + (tmp / "x.npy") + " --output " + (tmp / "y.npy"));
  EXPECT_EQ(r.exit_code, 2);
  r = run_cli("pool --kernel-size 2 --input " + (tmp / "missing.npy") + " --output " + (tmp / "y.npy"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "cannot open")) << r.output;
}

}  // namespace
}  // namespace minicnn
