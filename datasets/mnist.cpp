// IDX parsing (MNIST's file format) with every size checked before allocation, and gzip via zlib.
#include <minicnn/mnist.h>

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <limits>

#include <minicnn/check.h>
#include <minicnn/file_io.h>

namespace minicnn {
namespace {

constexpr uint64_t kMaxDecompressed = uint64_t{1} << 31;

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string basename(const std::string& path) { return std::filesystem::path(path).filename().string(); }

// The end of the sentences that say the files are missing: which flag names them, and where to get them.
std::string how_to_get(const std::string& name) {
  if (name == "Fashion-MNIST") {
    return "; pass --data naming the folder of its four IDX files, or install them with 'apt-get install "
           "dataset-fashion-mnist' (into /usr/share/datasets/fashion-mnist, the default --data)";
  }
  return "; pass --data naming the folder of its four IDX files, or run scripts/get_mnist.sh (it fills "
         "data/mnist, the default --data)";
}

}  // namespace

IdxArray parse_idx(const uint8_t* bytes, size_t size, int rank, const std::string& component, const std::string& file) {
  const uint32_t expected_magic = 0x00000800u | static_cast<uint32_t>(rank);
  const char* what = rank == 3 ? "images" : "labels";
  MINICNN_CHECK(size >= 4, component, ": '", file, "' is truncated (", size, " bytes, an IDX header needs at least 4)");
  const uint32_t magic = be32(bytes);
  if (magic != expected_magic) {
    std::string hint;
    if (magic == (0x00000800u | (rank == 3 ? 1u : 3u))) hint = "; are labels and images swapped?";
    else if (bytes[0] == 0x1f && bytes[1] == 0x8b) hint = "; it looks gzipped but could not be decompressed";
    else hint = "; is this an IDX file?";
    detail::throw_error(fmt::format("{}: '{}' has magic 0x{:08x}, expected 0x{:08x} ({}){}", component, file, magic,
                                    expected_magic, what, hint));
  }
  const size_t header = 4 + 4 * static_cast<size_t>(rank);
  MINICNN_CHECK(size >= header, component, ": '", file, "' is truncated inside its header (", size, " bytes, the header needs ",
                header, ")");
  IdxArray a;
  uint64_t count = 1;
  for (int d = 0; d < rank; ++d) {
    const uint32_t dim = be32(bytes + 4 + 4 * d);
    MINICNN_CHECK(dim > 0 && dim < (1u << 30), component, ": '", file, "' announces dimension ", d, " = ", dim,
                  ", which is not a plausible size");
    count *= dim;
    MINICNN_CHECK(count <= kMaxDecompressed, component, ": '", file, "' announces more than ", kMaxDecompressed, " bytes");
    a.dims.push_back(dim);
  }
  MINICNN_CHECK(size - header >= count, component, ": '", file, "' is truncated: its header announces ", count,
                " bytes of ", what, " but the file holds ", size - header);
  MINICNN_CHECK(size - header == count, component, ": '", file, "' has ", size - header - count,
                " bytes after the ", count, " its header announces");
  a.data.assign(bytes + header, bytes + header + count);
  return a;
}

std::vector<uint8_t> gunzip_bounded(const uint8_t* data, size_t size, const std::string& component,
                                    const std::string& name, uint64_t max_bytes) {
  MINICNN_CHECK(size <= std::numeric_limits<uInt>::max(), component, ": '", name, "' has ", size,
                " compressed bytes, more than the ", std::numeric_limits<uInt>::max(), " this reader accepts");
  z_stream zs{};
  MINICNN_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, component, ": cannot start gzip decompression");
  std::vector<uint8_t> out;
  out.resize(static_cast<size_t>(std::min<uint64_t>(uint64_t{size} * 4 + 1024, max_bytes)));
  zs.next_in = const_cast<Bytef*>(data);
  zs.avail_in = static_cast<uInt>(size);
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (zs.total_out == out.size()) {
      if (out.size() >= max_bytes) {
        inflateEnd(&zs);
        detail::throw_error(fmt::format("{}: '{}' decompresses to more than {} bytes", component, name, max_bytes));
      }
      out.resize(static_cast<size_t>(std::min<uint64_t>(uint64_t{out.size()} * 2, max_bytes)));
    }
    zs.next_out = out.data() + zs.total_out;
    zs.avail_out = static_cast<uInt>(out.size() - zs.total_out);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      const char* why = rc == Z_BUF_ERROR ? "it ends before the compressed stream does" : "its compressed data is corrupt";
      detail::throw_error(fmt::format("{}: '{}' is not a valid gzip file: {}", component, name, why));
    }
  }
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

std::vector<uint8_t> read_maybe_gzip(const std::string& path, const std::string& component) {
  std::vector<uint8_t> raw = read_file(path, component.c_str());
  if (raw.size() < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return raw;
  return gunzip_bounded(raw.data(), raw.size(), component, path, kMaxDecompressed);
}

DatasetSplit load_mnist(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  MINICNN_CHECK(fs::is_directory(dir), name, ": data directory '", dir,
                "' does not exist or is not a directory", how_to_get(name));
  auto find = [&](const std::string& stem) {
    for (const std::string& candidate : {stem, stem + ".gz"}) {
      if (fs::exists(fs::path(dir) / candidate)) return (fs::path(dir) / candidate).string();
    }
    detail::throw_error(
        fmt::format("{}: '{}' (or '{}.gz') is missing in '{}'{}", name, stem, stem, dir, how_to_get(name)));
  };
  auto load = [&](const std::string& images_stem, const std::string& labels_stem) {
    const std::string ip = find(images_stem), lp = find(labels_stem);
    const std::vector<uint8_t> ib = read_maybe_gzip(ip, name), lb = read_maybe_gzip(lp, name);
    IdxArray images = parse_idx(ib.data(), ib.size(), 3, name, basename(ip));
    IdxArray labels = parse_idx(lb.data(), lb.size(), 1, name, basename(lp));
    MINICNN_CHECK(images.dims[0] == labels.dims[0], name, ": '", basename(ip), "' holds ", images.dims[0],
                  " images but '", basename(lp), "' holds ", labels.dims[0], " labels");
    ImageDataset d;
    d.name = name;
    d.channels = 1;
    d.height = images.dims[1];
    d.width = images.dims[2];
    d.images = std::move(images.data);
    d.labels.resize(labels.data.size());
    for (size_t i = 0; i < labels.data.size(); ++i) {
      MINICNN_CHECK(labels.data[i] < 10, name, ": '", basename(lp), "' holds label ", int(labels.data[i]), " at position ",
                    i, ", expected 0..9");
      d.labels[i] = labels.data[i];
    }
    if (name == "Fashion-MNIST") {
      d.classes = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
    } else {
      for (int c = 0; c < 10; ++c) d.classes.push_back(std::to_string(c));
    }
    return d;
  };
  DatasetSplit split{load("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                     load("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")};
  MINICNN_CHECK(split.train.height == split.test.height && split.train.width == split.test.width, name,
                ": training images are ", split.train.height, "x", split.train.width, " but test images are ",
                split.test.height, "x", split.test.width);
  return split;
}

}  // namespace minicnn
