// IDX reading (raw and gzipped) with its error sentences, and the DataLoader's batching, shuffling,
// subsets, normalisation and augmentation.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <set>

#include <minicnn/loader.h>
#include <minicnn/mnist.h>
#include "test_util.h"

namespace minicnn {
namespace {

using testing::error_of;
using testing::image_set;
using testing::TempDir;
using testing::write_bytes;

IdxArray parse(const std::string& bytes, int rank, const std::string& file) {
  return parse_idx(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), rank, "MNIST", file);
}

TEST(Idx, ParsesImagesAndLabels) {
  const IdxArray images = parse(testing::idx_images(3, 5, 4, 1), 3, "x");
  EXPECT_EQ(images.dims, std::vector<int64_t>({3, 5, 4}));
  EXPECT_EQ(images.data.size(), 60u);
  EXPECT_EQ(parse(testing::idx_labels(7, 1), 1, "y").data.size(), 7u);
}

TEST(Idx, SwappedLabelsAndImagesAreNamed) {
  EXPECT_EQ(error_of([] { parse(testing::idx_labels(7, 1), 3, "train-labels-idx1-ubyte"); }),
            "MNIST: 'train-labels-idx1-ubyte' has magic 0x00000801, expected 0x00000803 (images); are labels and "
            "images swapped?");
}

TEST(Idx, TruncatedAndOversizedFilesAreRejected) {
  const std::string full = testing::idx_images(2, 4, 4, 1);
  EXPECT_EQ(error_of([&] { parse(full.substr(0, full.size() - 5), 3, "f"); }),
            "MNIST: 'f' is truncated: its header announces 32 bytes of images but the file holds 27");
  EXPECT_EQ(error_of([&] { parse(full + "xy", 3, "f"); }), "MNIST: 'f' has 2 bytes after the 32 its header announces");
  EXPECT_EQ(error_of([&] { parse(full.substr(0, 9), 3, "f"); }),
            "MNIST: 'f' is truncated inside its header (9 bytes, the header needs 16)");
  // A header announcing 2^30 x 2^30 images is refused before anything is allocated.
  std::string huge = full.substr(0, 16);
  huge[4] = 0x3f;
  huge[8] = 0x3f;
  EXPECT_NE(error_of([&] { parse(huge, 3, "f"); }).find("announces more than"), std::string::npos);
}

TEST(Mnist, LoadsRawAndGzippedFiles) {
  TempDir tmp("mnist_gz");
  testing::write_tiny_mnist(tmp.path().string(), 40, 10);
  // Gzip one file and remove the raw one: the reader finds the .gz.
  const std::string raw = testing::read_bytes(tmp / "train-images-idx3-ubyte");
  gzFile gz = gzopen((tmp / "train-images-idx3-ubyte.gz").c_str(), "wb");
  gzwrite(gz, raw.data(), static_cast<unsigned>(raw.size()));
  gzclose(gz);
  std::filesystem::remove(tmp / "train-images-idx3-ubyte");
  const DatasetSplit d = load_mnist(tmp.path().string());
  EXPECT_EQ(d.train.size(), 40);
  EXPECT_EQ(d.test.size(), 10);
  EXPECT_EQ(d.train.height, 28);
  EXPECT_EQ(std::string(d.train.images.begin(), d.train.images.end()), raw.substr(16));
}

TEST(Mnist, MissingDirectoryFileAndCountMismatchAreClear) {
  const std::string how =
      "; pass --data naming the folder of its four IDX files, or run scripts/get_mnist.sh (it fills "
      "data/mnist, the default --data)";
  EXPECT_EQ(error_of([] { load_mnist("/nonexistent/mnist"); }),
            "MNIST: data directory '/nonexistent/mnist' does not exist or is not a directory" + how);
  EXPECT_EQ(error_of([] { load_mnist("/nonexistent/fashion", "Fashion-MNIST"); }),
            "Fashion-MNIST: data directory '/nonexistent/fashion' does not exist or is not a directory; pass "
            "--data naming the folder of its four IDX files, or install them with 'apt-get install "
            "dataset-fashion-mnist' (into /usr/share/datasets/fashion-mnist, the default --data)");
  TempDir tmp("mnist_bad");
  testing::write_tiny_mnist(tmp.path().string(), 40, 10);
  std::filesystem::remove(tmp / "t10k-labels-idx1-ubyte");
  EXPECT_EQ(error_of([&] { load_mnist(tmp.path().string()); }),
            "MNIST: 't10k-labels-idx1-ubyte' (or 't10k-labels-idx1-ubyte.gz') is missing in '" +
                tmp.path().string() + "'" + how);
  write_bytes(tmp / "t10k-labels-idx1-ubyte", testing::idx_labels(9, 22));
  EXPECT_EQ(error_of([&] { load_mnist(tmp.path().string()); }),
            "MNIST: 't10k-images-idx3-ubyte' holds 10 images but 't10k-labels-idx1-ubyte' holds 9 labels");
  write_bytes(tmp / "t10k-labels-idx1-ubyte", std::string("\x1f\x8b\x08\x00garbage", 11));
  EXPECT_NE(error_of([&] { load_mnist(tmp.path().string()); }).find("is not a valid gzip file"), std::string::npos);
}

ImageDataset counting_dataset(int64_t n) {
  ImageDataset d = image_set("counting", 1, 2, 2);
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < 4; ++k) d.images.push_back(static_cast<uint8_t>(i));
    d.labels.push_back(static_cast<int32_t>(i % 10));
  }
  return d;
}

std::vector<int64_t> epoch_order(DataLoader& loader, int64_t epoch) {
  loader.set_epoch(epoch);
  std::vector<int64_t> order;
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    const Batch batch = loader.batch(b);
    for (int64_t i = 0; i < batch.size; ++i) order.push_back(std::lround(batch.images.data()[i * 4] * 255.0f));
  }
  return order;
}

TEST(DataLoader, ShufflesEveryImageOnceAndKeepsTheLastPartialBatch) {
  const ImageDataset d = counting_dataset(10);
  DataLoader loader(d, testing::loader_options(4, true, 7));
  EXPECT_EQ(loader.num_batches(), 3);
  loader.set_epoch(0);
  EXPECT_EQ(loader.batch(2).size, 2);
  const auto e0 = epoch_order(loader, 0), e1 = epoch_order(loader, 1);
  EXPECT_EQ(std::set<int64_t>(e0.begin(), e0.end()).size(), 10u);
  EXPECT_NE(e0, e1);
  EXPECT_EQ(e0, epoch_order(loader, 0));  // an epoch's order can be rebuilt
  DataLoader same(d, testing::loader_options(4, true, 7));
  EXPECT_EQ(epoch_order(same, 1), e1);
}

TEST(DataLoader, NormalisesWithMeanAndStd) {
  const ImageDataset d = counting_dataset(3);
  DataLoader loader(d, testing::loader_options(3, false, 0, Augment::None, {{0.5f}, {0.25f}}));
  const Batch b = loader.batch(0);
  EXPECT_FLOAT_EQ(b.images.data()[2 * 4], (2.0f / 255.0f - 0.5f) / 0.25f);
  EXPECT_EQ(b.labels.to_vector_i32(), std::vector<int32_t>({0, 1, 2}));
}

// The rule the CUDA loader shares (image_view.h): one rounding of byte * scale + shift, so the two agree
// bit for bit whatever either compiler contracts.
TEST(DataLoader, EachPixelIsItsByteTimesScalePlusShiftRoundedOnce) {
  ImageDataset d = image_set("bytes", 3, 16, 16);
  d.classes = {"a"};
  for (int n = 0; n < 2; ++n) {
    for (int i = 0; i < 3 * 256; ++i) d.images.push_back(static_cast<uint8_t>((i * 7 + n) % 256));
    d.labels.push_back(0);
  }
  const Normalization norm{{0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}};
  DataLoader loader(d, testing::loader_options(2, false, 0, Augment::None, norm));
  const Tensor x = loader.batch(0).images;
  int64_t differs_from_two_roundings = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const size_t c = static_cast<size_t>(i / 256 % 3);
    const float scale = 1.0f / (255.0f * norm.std[c]), shift = -norm.mean[c] / norm.std[c];
    const float byte = static_cast<float>(d.images[static_cast<size_t>(i)]);
    ASSERT_EQ(x.data()[i], std::fma(byte, scale, shift)) << "pixel " << i;
    const volatile float product = byte * scale;  // rounded on its own
    differs_from_two_roundings += x.data()[i] != product + shift;
  }
  EXPECT_GT(differs_from_two_roundings, 0);  // the two roundings are distinguishable on this data
}

TEST(DataLoader, NormalizationOfADatasetIsItsChannelStatistics) {
  const ImageDataset d = counting_dataset(3);  // pixels 0, 1, 2 (x4)
  const Normalization n = compute_normalization(d);
  EXPECT_NEAR(n.mean[0], 1.0 / 255.0, 1e-7);
  EXPECT_NEAR(n.std[0], std::sqrt(2.0 / 3.0) / 255.0, 1e-7);
}

TEST(DataLoader, RefusesADataSetWhosePixelsDoNotMatchItsLabelsAndShape) {
  ImageDataset d = counting_dataset(3);
  d.images.pop_back();
  EXPECT_EQ(
      error_of([&] { DataLoader(d, testing::loader_options(2, false, 0)); }),
      "DataLoader: the data set 'counting' should hold 3 images of 1x2x2 bytes (one per label), but holds 11 "
      "bytes");
  d = counting_dataset(3);
  d.width = 0;
  EXPECT_NE(error_of([&] { DataLoader(d, testing::loader_options(2, false, 0)); }), "(no error)");
}

TEST(DataLoader, RefusesASubsetIndexOutsideTheDataSet) {
  const ImageDataset d = counting_dataset(3);
  EXPECT_EQ(error_of([&] {
              DataLoader(d, testing::loader_options(2, false, 0), {0, 3});
            }),
            "DataLoader: subset index 3 is outside the data set 'counting' of 3 images");
}

TEST(DataLoader, RandomSubsetIsSeededAndDistinct) {
  const auto a = random_subset(1000, 100, 5), b = random_subset(1000, 100, 5), c = random_subset(1000, 100, 6);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), 100u);
  EXPECT_NE(a.back(), 99);  // not the first 100
  EXPECT_NE(error_of([] { random_subset(10, 11, 0); }), "(no error)");
}

TEST(DataLoader, CropFlipMovesPixelsWithinThePaddedImage) {
  ImageDataset d = image_set("one", 1, 8, 8);
  for (int i = 0; i < 64; ++i) d.images.push_back(static_cast<uint8_t>(i + 1));
  d.labels = {0};
  DataLoader plain(d, testing::loader_options(1));
  DataLoader aug(d, testing::loader_options(1, false, 3, Augment::CropFlip));
  int64_t changed_epochs = 0;
  for (int64_t e = 0; e < 8; ++e) {
    aug.set_epoch(e);
    const std::vector<float> a = aug.batch(0).images.to_vector();
    const std::vector<float> p = plain.batch(0).images.to_vector();
    changed_epochs += a != p;
    // Every output pixel is a zero (padding) or some input pixel.
    for (float v : a) EXPECT_TRUE(v == 0.0f || (v * 255.0f >= 0.5f && v * 255.0f <= 64.5f));
  }
  EXPECT_GE(changed_epochs, 6);
}

}  // namespace
}  // namespace minicnn
