// The CIFAR-10 binary batch reader: sizes and labels checked before anything is allocated or kept.
#include <minicnn/cifar10.h>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include <minicnn/check.h>
#include <minicnn/file_io.h>
#include <minicnn/runtime.h>

namespace minicnn {
namespace {

constexpr const char* kName = "CIFAR-10";
constexpr int kTrainBatches = 5;
constexpr int kClasses = 10;
constexpr size_t kImageBytes = kCifar10RecordBytes - 1;
// An official batch is 30,730,000 bytes; a file 30 times larger is surely not a batch.
constexpr uint64_t kMaxBatchBytes = uint64_t{1} << 30;
// The end of the sentences that say the batches are missing: which flag names them, and where to get them.
constexpr const char* kHowToGet =
    "; pass --data naming the official cifar-10-batches-bin folder (unpacked from "
    "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz)";

// The class names of batches.meta.txt: its non-empty lines (trailing spaces and '\r' removed).
std::vector<std::string> read_class_names(const std::filesystem::path& path) {
  const std::vector<uint8_t> bytes = read_file(path.string(), kName, uint64_t{1} << 20);
  std::vector<std::string> names;
  std::string line;
  auto finish_line = [&] {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    if (!line.empty()) names.push_back(line);
    line.clear();
  };
  for (uint8_t b : bytes) {
    if (b == '\n')
      finish_line();
    else
      line += static_cast<char>(b);
  }
  finish_line();
  MINICNN_CHECK(names.size() == kClasses, kName, ": '", path.filename().string(), "' should name ", kClasses,
                " classes (one per line, in label order), but it names ", names.size());
  return names;
}

}  // namespace

ImageDataset parse_cifar10_batch(const uint8_t* bytes, size_t size, const std::string& name) {
  MINICNN_CHECK(size > 0, kName, ": '", name, "' is empty, but a batch holds records of ",
                fmt::format("{}", fmt::group_digits(kCifar10RecordBytes)), " bytes");
  MINICNN_CHECK(size % kCifar10RecordBytes == 0, kName, ": '", name, "' has ", size,
                " bytes, not a whole number of ", fmt::format("{}", fmt::group_digits(kCifar10RecordBytes)), "-byte records");
  const size_t count = size / kCifar10RecordBytes;
  for (size_t i = 0; i < count; ++i) {
    const uint8_t label = bytes[i * kCifar10RecordBytes];
    MINICNN_CHECK(label < kClasses, kName, ": '", name, "' holds label ", int{label}, " in record ", i,
                  ", expected 0..9");
  }
  ImageDataset d;
  d.name = kName;
  d.channels = 3;
  d.height = 32;
  d.width = 32;
  d.images.resize(count * kImageBytes);
  d.labels.resize(count);
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* record = bytes + i * kCifar10RecordBytes;
    d.labels[i] = record[0];
    std::copy(record + 1, record + kCifar10RecordBytes,
              d.images.begin() + static_cast<std::ptrdiff_t>(i * kImageBytes));
  }
  return d;
}

DatasetSplit load_cifar10(const std::string& dir) {
  namespace fs = std::filesystem;
  MINICNN_CHECK(fs::is_directory(dir), kName, ": data directory '", dir,
                "' does not exist or is not a directory", kHowToGet);
  auto load = [&](const std::string& file) {
    const fs::path path = fs::path(dir) / file;
    if (!fs::exists(path)) {
      const fs::path nested = fs::path(dir) / "cifar-10-batches-bin";
      if (fs::is_directory(nested)) {
        detail::throw_error(detail::concat(kName, ": '", file, "' is missing in '", dir,
                                           "'; did you mean --data '", nested.string(),
                                           "', the folder it holds?"));
      }
      detail::throw_error(detail::concat(kName, ": '", file, "' is missing in '", dir, "'", kHowToGet));
    }
    const std::vector<uint8_t> bytes = read_file(path.string(), kName, kMaxBatchBytes);
    return parse_cifar10_batch(bytes.data(), bytes.size(), file);
  };
  DatasetSplit split;
  split.train = load("data_batch_1.bin");
  for (int b = 2; b <= kTrainBatches; ++b) {
    const ImageDataset more = load("data_batch_" + std::to_string(b) + ".bin");
    split.train.images.insert(split.train.images.end(), more.images.begin(), more.images.end());
    split.train.labels.insert(split.train.labels.end(), more.labels.begin(), more.labels.end());
  }
  split.test = load("test_batch.bin");
  const fs::path meta = fs::path(dir) / "batches.meta.txt";
  std::vector<std::string> classes;
  if (fs::exists(meta)) {
    classes = read_class_names(meta);
  } else {
    log_warning(detail::concat(kName, ": 'batches.meta.txt' is missing in '", dir,
                               "', so the classes are named 0..9"));
    for (int c = 0; c < kClasses; ++c) classes.push_back(std::to_string(c));
  }
  split.train.classes = classes;
  split.test.classes = classes;
  return split;
}

}  // namespace minicnn
