// CIFAR-10 binary batches and image folders: the two readers agree on the same images, every error is one
// sentence naming its file, grey/colour rules, the bilinear resize, and `minicnn predict` on image files.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <filesystem>

#include <minicnn/cifar10.h>
#include <minicnn/image_folder.h>
#include <minicnn/image_io.h>
#include <minicnn/random.h>
#include <minicnn/runtime.h>
#include "test_util.h"

namespace minicnn {
namespace {

namespace fs = std::filesystem;
using testing::contains;
using testing::error_of;
using testing::TempDir;
using testing::write_bytes;

const std::vector<std::string> kCifarClasses = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                "dog",      "frog",       "horse", "ship", "truck"};

// `per_class` random 3x32x32 images of each of the 10 classes, in label order (the order an image folder
// of the same images has: class, then file name).
ImageDataset random_cifar_like(int64_t per_class, uint64_t seed) {
  Generator gen(seed);
  ImageDataset d;
  d.channels = 3;
  d.height = 32;
  d.width = 32;
  d.classes = kCifarClasses;
  for (int32_t c = 0; c < 10; ++c) {
    for (int64_t i = 0; i < per_class; ++i) {
      d.labels.push_back(c);
      for (int64_t k = 0; k < d.image_bytes(); ++k) d.images.push_back(static_cast<uint8_t>(gen.below(256)));
    }
  }
  return d;
}

// CIFAR-10 records (label byte, then the R, G, B planes) of images [begin, end) of `d`.
std::string cifar_records(const ImageDataset& d, int64_t begin, int64_t end) {
  std::string out;
  for (int64_t i = begin; i < end; ++i) {
    out += static_cast<char>(d.labels[static_cast<size_t>(i)]);
    out.append(reinterpret_cast<const char*>(d.image(i)), static_cast<size_t>(d.image_bytes()));
  }
  return out;
}

// Writes `train` as data_batch_1..5.bin (split as evenly as the count allows) and `test` as test_batch.bin.
void write_cifar_bin(const std::string& dir, const ImageDataset& train, const ImageDataset& test,
                     bool meta = true) {
  fs::create_directories(dir);
  for (int64_t b = 0; b < 5; ++b) {
    write_bytes(dir + "/data_batch_" + std::to_string(b + 1) + ".bin",
                cifar_records(train, b * train.size() / 5, (b + 1) * train.size() / 5));
  }
  write_bytes(dir + "/test_batch.bin", cifar_records(test, 0, test.size()));
  if (meta) {
    std::string names;
    for (const std::string& c : kCifarClasses) names += c + "\n";
    write_bytes(dir + "/batches.meta.txt", names + "\n");
  }
}

// Image i of `d` (C, H, W) as interleaved (H, W, C) pixels, as write_png takes them.
std::vector<uint8_t> interleaved(const ImageDataset& d, int64_t i) {
  const int64_t plane = d.height * d.width;
  std::vector<uint8_t> px(static_cast<size_t>(d.image_bytes()));
  for (int64_t c = 0; c < d.channels; ++c) {
    for (int64_t k = 0; k < plane; ++k)
      px[static_cast<size_t>(k * d.channels + c)] = d.image(i)[c * plane + k];
  }
  return px;
}

// Writes `d` as DIR/<split>/<class>/NNNN.png.
void write_png_split(const std::string& dir, const std::string& split, const ImageDataset& d) {
  std::vector<int64_t> counts(d.classes.size());
  for (int64_t i = 0; i < d.size(); ++i) {
    const auto label = static_cast<size_t>(d.labels[static_cast<size_t>(i)]);
    const fs::path folder = fs::path(dir) / split / d.classes[label];
    fs::create_directories(folder);
    const std::vector<uint8_t> px = interleaved(d, i);
    write_png((folder / fmt::format("{:04d}.png", counts[label]++)).string(), px.data(), d.width, d.height,
              static_cast<int>(d.channels));
  }
}

// A hand-written 24-bit BMP (bottom-up rows of B, G, R, padded to 4 bytes).
std::string bmp_rgb(int64_t w, int64_t h, const std::vector<uint8_t>& rgb) {
  const int64_t row = (w * 3 + 3) / 4 * 4, data = row * h;
  auto le32 = [](int64_t v) {
    return std::string{static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 24)};
  };
  std::string out = "BM" + le32(54 + data) + le32(0) + le32(54);
  out += le32(40) + le32(w) + le32(h) + std::string("\x01\x00\x18\x00", 4) + le32(0) + le32(data) +
         le32(2835) + le32(2835) + le32(0) + le32(0);
  for (int64_t y = h - 1; y >= 0; --y) {
    std::string line;
    for (int64_t x = 0; x < w; ++x) {
      const uint8_t* p = rgb.data() + (y * w + x) * 3;
      line += {static_cast<char>(p[2]), static_cast<char>(p[1]), static_cast<char>(p[0])};
    }
    out += line + std::string(static_cast<size_t>(row - w * 3), '\0');
  }
  return out;
}

void expect_same_images(const ImageDataset& a, const ImageDataset& b) {
  EXPECT_EQ(a.channels, b.channels);
  EXPECT_EQ(a.height, b.height);
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.classes, b.classes);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_TRUE(a.images == b.images);
}

// Captures the library's warnings while alive, then restores the CLI-like default.
class WarningCapture {
 public:
  WarningCapture() {
    set_log_handler([this](const std::string& m) { messages.push_back(m); });
  }
  ~WarningCapture() {
    set_log_handler([](const std::string& m) { std::fprintf(stderr, "minicnn: warning: %s\n", m.c_str()); });
  }
  std::vector<std::string> messages;
};

TEST(Cifar10, BinaryAndPngFolderOfTheSameImagesAgree) {
  TempDir tmp("cifar_agree");
  const ImageDataset train = random_cifar_like(3, 1), test = random_cifar_like(1, 2);
  write_cifar_bin(tmp / "bin", train, test);
  write_png_split(tmp / "png", "train", train);
  write_png_split(tmp / "png", "test", test);
  const DatasetSplit bin = load_dataset("cifar10", tmp / "bin");
  const DatasetSplit png = load_dataset("folder", tmp / "png");
  EXPECT_EQ(bin.train.name, "CIFAR-10");
  EXPECT_EQ(png.train.name, "png");
  EXPECT_EQ(load_dataset("folder", tmp / "png/").test.name, "png");  // named after the folder, slash or not
  EXPECT_EQ(bin.train.size(), 30);
  expect_same_images(bin.train, png.train);
  expect_same_images(bin.test, png.test);
  expect_same_images(bin.train, train);
  expect_same_images(bin.test, test);
}

TEST(Cifar10, ParsesAnyWholeNumberOfRecordsFromMemory) {
  const ImageDataset d = random_cifar_like(1, 3);
  const std::string bytes = cifar_records(d, 2, 9);
  const ImageDataset parsed =
      parse_cifar10_batch(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "data_batch_1.bin");
  EXPECT_EQ(parsed.size(), 7);
  EXPECT_EQ(parsed.labels, std::vector<int32_t>({2, 3, 4, 5, 6, 7, 8}));
  EXPECT_TRUE(std::equal(parsed.images.begin(), parsed.images.end(), d.image(2)));
}

TEST(Cifar10, ErrorsAreOneSentenceNamingTheFile) {
  auto parse = [](const std::string& bytes) {
    parse_cifar10_batch(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "data_batch_2.bin");
  };
  EXPECT_EQ(error_of([&] { parse(std::string(12345, '\0')); }),
            "CIFAR-10: 'data_batch_2.bin' has 12345 bytes, not a whole number of 3,073-byte records");
  EXPECT_EQ(error_of([&] { parse(""); }),
            "CIFAR-10: 'data_batch_2.bin' is empty, but a batch holds records of 3,073 bytes");
  std::string bad = cifar_records(random_cifar_like(1, 4), 0, 3);
  bad[2 * kCifar10RecordBytes] = 10;
  EXPECT_EQ(error_of([&] { parse(bad); }),
            "CIFAR-10: 'data_batch_2.bin' holds label 10 in record 2, expected 0..9");

  const std::string how =
      "; pass --data naming the official cifar-10-batches-bin folder (unpacked from "
      "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz)";
  EXPECT_EQ(error_of([] { load_cifar10("/nonexistent/cifar"); }),
            "CIFAR-10: data directory '/nonexistent/cifar' does not exist or is not a directory" + how);
  TempDir tmp("cifar_errors");
  const ImageDataset train = random_cifar_like(1, 5);
  write_cifar_bin(tmp.path().string(), train, train);
  fs::remove(tmp / "data_batch_4.bin");
  EXPECT_EQ(error_of([&] { load_cifar10(tmp.path().string()); }),
            "CIFAR-10: 'data_batch_4.bin' is missing in '" + tmp.path().string() + "'" + how);
  // The folder above the official one gets a hint.
  write_cifar_bin(tmp / "cifar-10-batches-bin", train, train);
  fs::remove(tmp / "data_batch_1.bin");
  EXPECT_EQ(error_of([&] { load_cifar10(tmp.path().string()); }),
            "CIFAR-10: 'data_batch_1.bin' is missing in '" + tmp.path().string() +
                "'; did you mean --data '" + (tmp / "cifar-10-batches-bin") + "', the folder it holds?");
  const std::string dir = tmp / "cifar-10-batches-bin";
  write_bytes(dir + "/test_batch.bin", cifar_records(train, 0, 2) + "xyz");
  EXPECT_EQ(error_of([&] { load_cifar10(dir); }),
            "CIFAR-10: 'test_batch.bin' has 6149 bytes, not a whole number of 3,073-byte records");
  write_bytes(dir + "/test_batch.bin", cifar_records(train, 0, 2));
  write_bytes(dir + "/batches.meta.txt", "cat\ndog\n");
  EXPECT_EQ(
      error_of([&] { load_cifar10(dir); }),
      "CIFAR-10: 'batches.meta.txt' should name 10 classes (one per line, in label order), but it names 2");
}

TEST(Cifar10, MissingMetaFileWarnsAndNumbersTheClasses) {
  TempDir tmp("cifar_meta");
  const ImageDataset train = random_cifar_like(1, 6);
  write_cifar_bin(tmp.path().string(), train, train, /*meta=*/false);
  WarningCapture warnings;
  const DatasetSplit d = load_cifar10(tmp.path().string());
  EXPECT_EQ(d.train.classes, std::vector<std::string>({"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  ASSERT_EQ(warnings.messages.size(), 1u);
  EXPECT_EQ(warnings.messages[0], "CIFAR-10: 'batches.meta.txt' is missing in '" + tmp.path().string() +
                                      "', so the classes are named 0..9");
}

TEST(Cifar10, ResizeIsRefusedForFixedSizeDataSets) {
  DatasetOptions resize;
  resize.resize_height = resize.resize_width = 16;
  EXPECT_EQ(error_of([&] { load_dataset("cifar10", "/nonexistent", resize); }),
            "dataset: a resize applies to image folders (folder) only, but got dataset 'cifar10', whose "
            "images have a "
            "fixed size");
  EXPECT_EQ(known_datasets(), "mnist, fashion-mnist, cifar10, folder");
}

// Writes one grey (1 channel) or colour image of a constant value to `path` as PNG.
void write_flat_png(const std::string& path, int64_t h, int64_t w, int channels, uint8_t value) {
  fs::create_directories(fs::path(path).parent_path());
  std::vector<uint8_t> px(static_cast<size_t>(h * w * channels), value);
  write_png(path, px.data(), w, h, channels);
}

// A folder with classes a, b, each with one train and one test image of 4x4 grey.
void write_small_folder(const std::string& dir) {
  for (const char* split : {"train", "test"}) {
    write_flat_png(dir + "/" + split + "/a/1.png", 4, 4, 1, 10);
    write_flat_png(dir + "/" + split + "/b/1.png", 4, 4, 1, 200);
  }
}

TEST(ImageFolder, FolderErrorsNameTheFolder) {
  TempDir tmp("folder_errors");
  const std::string root = tmp.path().string();
  EXPECT_EQ(error_of([&] { load_image_folder(root + "/nope"); }),
            "image folder: data directory '" + root +
                "/nope' does not exist or is not a directory; pass --data naming a folder with "
                "train/<class>/ and test/<class>/ folders of PNG, JPEG or BMP images");
  const std::string layout = "' to hold train/<class>/ and test/<class>/ folders of PNG, JPEG or BMP images";
  EXPECT_EQ(error_of([&] { load_image_folder(root); }),
            "image folder: expected --data '" + root + layout + ", but '" + root + "/train' does not exist");
  fs::create_directories(root + "/train");
  EXPECT_EQ(error_of([&] { load_image_folder(root); }),
            "image folder: '" + root +
                "/train' holds no class folders, expected one sub-folder of images per class");
  write_small_folder(root);
  fs::remove_all(root + "/test");
  EXPECT_EQ(error_of([&] { load_image_folder(root); }),
            "image folder: expected --data '" + root + layout + ", but '" + root + "/test' does not exist");
  write_small_folder(root);
  fs::create_directories(root + "/train/cat");
  write_bytes(root + "/train/cat/notes.txt", "not an image");
  EXPECT_EQ(error_of([&] { load_image_folder(root); }),
            "image folder: class folder '" + root + "/train/cat' holds no PNG, JPEG or BMP images");
  write_flat_png(root + "/train/cat/1.png", 4, 4, 1, 90);
  EXPECT_EQ(error_of([&] { load_image_folder(root); }), "image folder: '" + root +
                                                            "/test' should hold the same class folders as '" +
                                                            root + "/train', but it lacks 'cat'");
  write_flat_png(root + "/test/cat/1.png", 4, 4, 1, 90);
  write_flat_png(root + "/test/dog/1.png", 4, 4, 1, 90);
  write_flat_png(root + "/test/emu/1.png", 4, 4, 1, 90);
  fs::remove_all(root + "/test/a");
  EXPECT_EQ(error_of([&] { load_image_folder(root); }),
            "image folder: '" + root + "/test' should hold the same class folders as '" + root +
                "/train', but it lacks 'a' and it also holds 'dog', 'emu'");
}

TEST(ImageFolder, CorruptTruncatedAndMismatchedImagesAreNamed) {
  TempDir tmp("folder_corrupt");
  const std::string root = tmp.path().string();
  write_small_folder(root);
  ASSERT_EQ(error_of([&] { load_image_folder(root); }), "(no error)");
  const std::string good = testing::read_bytes(root + "/train/b/1.png");
  write_bytes(root + "/train/b/2.png", good.substr(0, good.size() / 2));
  EXPECT_TRUE(contains(error_of([&] { load_image_folder(root); }),
                       "image: '" + root + "/train/b/2.png' is corrupt or truncated"));
  write_bytes(root + "/train/b/2.png", "garbage that is no image");
  EXPECT_TRUE(contains(error_of([&] { load_image_folder(root); }),
                       "image: '" + root + "/train/b/2.png' is not a PNG, JPEG or BMP image"));
  fs::remove(root + "/train/b/2.png");
  write_flat_png(root + "/test/b/2.png", 5, 6, 1, 3);
  EXPECT_EQ(error_of([&] { load_image_folder(root); }),
            "image folder: expected every image to be 4x4 (H x W) like '" + root + "/train/a/1.png', but '" +
                root +
                "/test/b/2.png' is 5x6; ask for a resize (--resize H,W) to bring all images to one size");
  // With a resize every image is brought to the asked size.
  DatasetOptions resize;
  resize.resize_height = 3;
  resize.resize_width = 7;
  const DatasetSplit d = load_image_folder(root, resize);
  EXPECT_EQ(d.train.height, 3);
  EXPECT_EQ(d.test.width, 7);
  EXPECT_EQ(d.test.size(), 3);
  EXPECT_EQ(d.test.image(2)[20], 3);  // a constant image stays constant
  EXPECT_EQ(d.train.image(1)[0], 200);
}

TEST(ImageFolder, GreyColourAndAlphaFollowTheTrainingImages) {
  TempDir tmp("folder_channels");
  const std::string root = tmp.path().string();
  write_small_folder(root);
  DatasetSplit d = load_image_folder(root);
  EXPECT_EQ(d.train.channels, 1);  // all grey
  EXPECT_EQ(d.train.classes, std::vector<std::string>({"a", "b"}));

  // Grey + alpha drops alpha; a colour test image in a grey set becomes grey (luma).
  const std::vector<uint8_t> grey_alpha = {50, 255, 60, 0, 70, 128, 80, 1};
  write_png(root + "/train/a/2.png", grey_alpha.data(), 2, 2, 2);
  const std::vector<uint8_t> rgb_2x2 = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
  fs::remove(root + "/test/b/1.png");
  write_png(root + "/test/b/1.png", rgb_2x2.data(), 2, 2, 3);
  DatasetOptions keep2;
  keep2.resize_height = keep2.resize_width = 2;
  d = load_image_folder(root, keep2);
  EXPECT_EQ(d.train.channels, 1);
  EXPECT_EQ(std::vector<uint8_t>(d.train.image(1), d.train.image(1) + 4),
            std::vector<uint8_t>({50, 60, 70, 80}));
  EXPECT_EQ(std::vector<uint8_t>(d.test.image(1), d.test.image(1) + 4),
            std::vector<uint8_t>({76, 150, 29, 18}));

  // One colour training image (RGBA here, alpha dropped) makes the set RGB; grey images are replicated.
  const std::vector<uint8_t> rgba = {1, 2, 3, 9, 4, 5, 6, 9, 7, 8, 9, 9, 10, 11, 12, 9};
  write_png(root + "/train/b/2.png", rgba.data(), 2, 2, 4);
  d = load_image_folder(root, keep2);
  EXPECT_EQ(d.train.channels, 3);
  EXPECT_EQ(d.test.channels, 3);
  EXPECT_EQ(std::vector<uint8_t>(d.train.image(1), d.train.image(1) + 12),
            std::vector<uint8_t>({50, 60, 70, 80, 50, 60, 70, 80, 50, 60, 70, 80}));
  EXPECT_EQ(std::vector<uint8_t>(d.train.image(3), d.train.image(3) + 12),
            std::vector<uint8_t>({1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12}));
  EXPECT_EQ(std::vector<uint8_t>(d.test.image(1), d.test.image(1) + 12),
            std::vector<uint8_t>({255, 0, 0, 10, 0, 255, 0, 20, 0, 0, 255, 30}));
}

TEST(ImageFolder, TakesPngJpegAndBmpInAnyCaseAndSkipsOtherFiles) {
  TempDir tmp("folder_files");
  const std::string root = tmp.path().string();
  write_small_folder(root);
  const std::vector<uint8_t> rgb(4 * 4 * 3, 77);
  write_bytes(root + "/train/a/0.BMP", bmp_rgb(4, 4, rgb));
  write_flat_png(root + "/train/a/3.Png", 4, 4, 1, 33);
  write_bytes(root + "/train/a/readme.txt", "skipped");
  write_bytes(root + "/train/a/.hidden.png", "skipped, even though it is no image");
  write_bytes(root + "/train/a/noextension", "skipped");
  fs::create_directories(root + "/train/a/nested");
  write_flat_png(root + "/train/a/nested/9.png", 4, 4, 1, 1);  // sub-folders of a class are not searched
  fs::create_directories(root + "/train/.cache");              // nor hidden folders taken as classes
  const DatasetSplit d = load_image_folder(root);
  EXPECT_EQ(d.train.size(), 4);
  EXPECT_EQ(d.train.classes, std::vector<std::string>({"a", "b"}));
  EXPECT_EQ(d.train.channels, 3);
  EXPECT_EQ(d.train.labels, std::vector<int32_t>({0, 0, 0, 1}));
  EXPECT_EQ(d.train.image(0)[0], 77);   // 0.BMP sorts first
  EXPECT_EQ(d.train.image(1)[0], 10);   // 1.png
  EXPECT_EQ(d.train.image(2)[47], 33);  // 3.Png
  EXPECT_TRUE(is_image_file_name("x.JPEG"));
  EXPECT_TRUE(is_image_file_name("x.jpg"));
  EXPECT_FALSE(is_image_file_name("x.gif"));
  EXPECT_FALSE(is_image_file_name(".x.png"));
}

TEST(ImageFolder, SameResultForAnyThreadCount) {
  TempDir tmp("folder_threads");
  const ImageDataset train = random_cifar_like(4, 7), test = random_cifar_like(1, 8);
  write_png_split(tmp.path().string(), "train", train);
  write_png_split(tmp.path().string(), "test", test);
  const int before = num_threads();
  set_num_threads(1);
  const DatasetSplit one = load_image_folder(tmp.path().string());
  set_num_threads(3);
  const DatasetSplit three = load_image_folder(tmp.path().string());
  set_num_threads(before);
  expect_same_images(one.train, three.train);
  expect_same_images(one.test, three.test);
  expect_same_images(one.train, train);
}

std::vector<uint8_t> resized(const std::vector<uint8_t>& src, int64_t C, int64_t H, int64_t W, int64_t OH,
                             int64_t OW) {
  std::vector<uint8_t> out(static_cast<size_t>(C * OH * OW));
  resize_bilinear(src.data(), C, H, W, out.data(), OH, OW);
  return out;
}

TEST(Resize, ConstantImageStaysConstant) {
  for (auto [h, w, oh, ow] :
       {std::array<int64_t, 4>{7, 5, 13, 3}, {32, 32, 5, 9}, {1, 1, 4, 4}, {6, 6, 6, 6}}) {
    const std::vector<uint8_t> src(static_cast<size_t>(2 * h * w), 173);
    EXPECT_EQ(resized(src, 2, h, w, oh, ow), std::vector<uint8_t>(static_cast<size_t>(2 * oh * ow), 173))
        << h << "x" << w << " to " << oh << "x" << ow;
  }
}

TEST(Resize, UpscalingACheckerboardInterpolatesBetweenPixelCentres) {
  // torch.nn.functional.interpolate(x, size=(4, 4), mode="bilinear", align_corners=False) of [[0, 255], [255,
  // 0]] gives [[0, 63.75, 191.25, 255], [63.75, 95.625, 159.375, 191.25], ...], rounded here.
  const std::vector<uint8_t> board = {0, 255, 255, 0};
  EXPECT_EQ(resized(board, 1, 2, 2, 4, 4),
            std::vector<uint8_t>({0, 64, 191, 255, 64, 96, 159, 191, 191, 159, 96, 64, 255, 191, 64, 0}));
  // Same size is the identity.
  const std::vector<uint8_t> any = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(resized(any, 1, 2, 3, 2, 3), any);
}

TEST(Resize, ShrinkingAveragesInsteadOfAliasing) {
  // Vertical stripes one pixel wide, shrunk 3x: sampling one source pixel per output would give 0 or 255;
  // the widened filter gives values near the mean.
  std::vector<uint8_t> stripes(12 * 12);
  for (size_t k = 0; k < stripes.size(); ++k) stripes[k] = (k % 12) % 2 ? 255 : 0;
  const std::vector<uint8_t> out = resized(stripes, 1, 12, 12, 4, 4);
  for (int64_t y = 0; y < 4; ++y) {
    for (int64_t x = 1; x < 3; ++x)
      EXPECT_NEAR(out[static_cast<size_t>(y * 4 + x)], 127.5, 20) << y << "," << x;
  }
}

TEST(Predict, ImageFilesGetTheClassOfAModelTrainedOnAFolder) {
  TempDir tmp("predict_images");
  testing::write_band_folder(tmp / "bands", 9, 30, 4);
  const auto r = testing::run_cli("train --dataset folder --data " + (tmp / "bands") +
                                  " --model 'Flatten LazyLinear(3)' "
                                  "--epochs 4 --batch-size 10 --out " +
                                  (tmp / "run"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "test accuracy: 1.0000")) << r.output;
  // Query images: a grey one of the model's size and a colour one twice as large (resized to 9x9).
  std::vector<uint8_t> grey(81, 20), big(18 * 18 * 3, 30);
  for (int64_t k = 0; k < 27; ++k) grey[static_cast<size_t>(27 + k)] = 240;    // rows 3..5: middle
  for (int64_t k = 0; k < 6 * 18 * 3; ++k) big[static_cast<size_t>(k)] = 230;  // rows 0..5 of 18: top
  write_png(tmp / "grey_middle.png", grey.data(), 9, 9, 1);
  write_png(tmp / "big_top.png", big.data(), 18, 18, 3);
  const std::string ckpt = tmp / "run/model.safetensors";
  const auto p = testing::run_cli("predict --checkpoint " + ckpt + " " + (tmp / "grey_middle.png") + " " +
                                  (tmp / "big_top.png") + " " + (tmp / "bands/test/bottom/0.png"));
  ASSERT_EQ(p.exit_code, 0) << p.output;
  EXPECT_TRUE(contains(p.output, (tmp / "grey_middle.png") + ": middle  (top-3: middle ")) << p.output;
  EXPECT_TRUE(contains(p.output, (tmp / "big_top.png") + ": top  (top-3: top ")) << p.output;
  EXPECT_TRUE(contains(p.output, (tmp / "bands/test/bottom/0.png") + ": bottom  (top-3: bottom "))
      << p.output;

  write_bytes(tmp / "broken.png", testing::read_bytes(tmp / "big_top.png").substr(0, 60));
  const auto broken = testing::run_cli("predict --checkpoint " + ckpt + " " + (tmp / "broken.png"));
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_TRUE(contains(broken.output,
                       "minicnn: error: image: '" + (tmp / "broken.png") + "' is corrupt or truncated"))
      << broken.output;
  const auto none = testing::run_cli("predict --checkpoint " + ckpt);
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_TRUE(contains(none.output, "give image files (PNG, JPEG or BMP) or --npy")) << none.output;
}

TEST(Predict, ResizeFlagReachesTheFolderAndIsRefusedElsewhere) {
  TempDir tmp("resize_flag");
  testing::write_band_folder(tmp / "bands", 12, 10, 2);
  const std::string common = "--dataset folder --data " + (tmp / "bands") +
                             " --model 'Flatten LazyLinear(3)' "
                             "--epochs 1 --batch-size 10";
  const auto r = testing::run_cli("train " + common + " --resize 6,6 --out " + (tmp / "run"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string ckpt = tmp / "run/model.safetensors";
  // The checkpoint records the data set's folder and the resize: eval needs neither again.
  const auto recorded = testing::run_cli("eval --checkpoint " + (tmp / "run"));
  EXPECT_EQ(recorded.exit_code, 0) << recorded.output;
  EXPECT_TRUE(contains(recorded.output, "test accuracy: ")) << recorded.output;
  const auto other_size = testing::run_cli("eval --checkpoint " + ckpt + " --resize 8,8");
  EXPECT_EQ(other_size.exit_code, 1);
  EXPECT_TRUE(contains(other_size.output, "expects images of shape [3, 6, 6], but the data set has [3, 8, 8]"))
      << other_size.output;

  auto bad = testing::run_cli("train --dataset mnist --data " + (tmp / "bands") + " --resize 8,8 --out " +
                              (tmp / "x"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(contains(bad.output, "--resize: applies to --dataset folder only, but got --dataset mnist"))
      << bad.output;
  bad = testing::run_cli("train " + common + " --resize 8 --out " + (tmp / "x"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(contains(bad.output, "--resize: expected 2 comma-separated numbers (integers >= 0), but got '8'"))
      << bad.output;
  bad = testing::run_cli("train --dataset folder --out " + (tmp / "x"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(contains(bad.output, "--data DIR is needed for --dataset folder")) << bad.output;
  bad = testing::run_cli("train --dataset cifar10 --out " + (tmp / "x"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(contains(bad.output, "--data DIR is needed for --dataset cifar10")) << bad.output;
}

}  // namespace
}  // namespace minicnn
