// Seed inputs made by code: IDX (raw and gzipped), CIFAR-10 records, PNG/BMP/JPEG images (through the
// library's stb_image_write and by hand for the variants it cannot write), .npy, .safetensors, model specs
// and pooling variant names.
#include "fuzz_seeds.h"

#include <stb_image_write.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>

#include <minicnn/cifar10.h>
#include <minicnn/npy.h>
#include <minicnn/registry.h>
#include <minicnn/safetensors.h>
#include <minicnn/tensor.h>

namespace minicnn::fuzz {
namespace {

namespace fs = std::filesystem;

// Bytes of a fixed pseudo-random pattern (the same every run).
std::string pattern(size_t n, uint32_t seed) {
  std::string out(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : out) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

// ---- IDX and gzip.

std::string idx(const std::vector<uint32_t>& dims, uint32_t seed, bool labels) {
  std::string out = be32(0x800u | static_cast<uint32_t>(dims.size()));
  size_t count = 1;
  for (uint32_t d : dims) {
    out += be32(d);
    count *= d;
  }
  std::string body = pattern(count, seed);
  if (labels) {
    for (char& c : body) c = static_cast<char>(static_cast<uint8_t>(c) % 10);
  }
  return out + body;
}

// Deflate-compressed `raw` framed by `window_bits` as zlib's deflateInit2 reads it: 16 + MAX_WBITS for
// the gzip format (as `gzip` writes it), MAX_WBITS for zlib's (PNG's IDAT), -MAX_WBITS for raw deflate
// (Apple's CgBI PNGs).
std::string deflate_with(const std::string& raw, int level, int window_bits) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("fuzz seeds: deflateInit2 failed");
  std::string out(deflateBound(&zs, raw.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("fuzz seeds: deflate failed");
  return out;
}

std::string gzip(const std::string& raw, int level) { return deflate_with(raw, level, 16 + MAX_WBITS); }
std::string deflate_bytes(const std::string& raw, bool raw_deflate) {
  return deflate_with(raw, 9, raw_deflate ? -MAX_WBITS : MAX_WBITS);
}

// ---- Images.

void append_to(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

std::string stb_png(int w, int h, int comp, uint32_t seed) {
  const std::string px = pattern(static_cast<size_t>(w * h * comp), seed);
  std::string out;
  stbi_write_png_to_func(append_to, &out, w, h, comp, px.data(), w * comp);
  return out;
}

std::string stb_bmp(int w, int h, int comp, uint32_t seed) {
  const std::string px = pattern(static_cast<size_t>(w * h * comp), seed);
  std::string out;
  stbi_write_bmp_to_func(append_to, &out, w, h, comp, px.data());
  return out;
}

std::string stb_jpg(int w, int h, int comp, int quality, uint32_t seed) {
  // Smooth gradients with a little noise: what a photo's blocks look like to the encoder.
  std::string px(static_cast<size_t>(w * h * comp), '\0');
  const std::string noise = pattern(px.size(), seed);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < comp; ++c) {
        const size_t i = static_cast<size_t>((y * w + x) * comp + c);
        px[i] = static_cast<char>(
            (x * 255 / w + y * 64 / h + c * 40 + (static_cast<uint8_t>(noise[i]) & 15)) & 255);
      }
    }
  }
  std::string out;
  stbi_write_jpg_to_func(append_to, &out, w, h, comp, px.data(), quality);
  return out;
}

std::string png_chunk(const std::string& type, const std::string& data) {
  const std::string td = type + data;
  const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(td.data()), static_cast<uInt>(td.size()));
  return be32(static_cast<uint32_t>(data.size())) + td + be32(static_cast<uint32_t>(crc));
}

// A PNG written by hand: any bit depth and colour type, Adam7 interlacing, every row filter type, a
// palette with transparency, or Apple's CgBI variant (raw deflate).
std::string handmade_png(int w, int h, int depth, int colour, bool interlace, uint32_t seed,
                         bool cgbi = false) {
  static const int kChannels[] = {1, 0, 3, 1, 2, 0, 4};
  const int bits = depth * kChannels[colour];
  std::string raw;
  int row = 0;
  auto rows = [&](int pw, int ph) {
    if (pw <= 0 || ph <= 0) return;
    const size_t bytes = (static_cast<size_t>(pw) * static_cast<size_t>(bits) + 7) / 8;
    for (int y = 0; y < ph; ++y, ++row) {
      raw += static_cast<char>(row % 5);  // filter types none, sub, up, average, Paeth
      raw += pattern(bytes, seed + static_cast<uint32_t>(row));
    }
  };
  if (!interlace) {
    rows(w, h);
  } else {
    static const int kPass[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                    {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};
    for (const auto& p : kPass) rows((w - p[0] + p[2] - 1) / p[2], (h - p[1] + p[3] - 1) / p[3]);
  }
  std::string out("\x89PNG\r\n\x1a\n", 8);
  if (cgbi) out += png_chunk("CgBI", std::string("\x50\x00\x20\x06", 4));
  std::string ihdr = be32(static_cast<uint32_t>(w)) + be32(static_cast<uint32_t>(h));
  ihdr += static_cast<char>(depth);
  ihdr += static_cast<char>(colour);
  ihdr += std::string(2, '\0');
  ihdr += static_cast<char>(interlace ? 1 : 0);
  out += png_chunk("IHDR", ihdr);
  if (colour == 3) {
    const size_t entries = size_t{1} << std::min(depth, 8);
    out += png_chunk("PLTE", pattern(entries * 3, seed + 99));
    out += png_chunk("tRNS", pattern(entries / 2 + 1, seed + 98));
  } else if (colour == 0) {
    out += png_chunk("tRNS", std::string("\x00\x01", 2));
  } else if (colour == 2) {
    out += png_chunk("tRNS", std::string("\x00\x01\x00\x02\x00\x03", 6));
  }
  const std::string z = deflate_bytes(raw, cgbi);
  // Two IDAT chunks: the decoder must join them.
  out += png_chunk("IDAT", z.substr(0, z.size() / 2));
  out += png_chunk("IDAT", z.substr(z.size() / 2));
  out += png_chunk("IEND", "");
  return out;
}

// A BMP written by hand: `bpp` 1, 4, 8 (with a palette), 16, 24 or 32; bottom-up or top-down; the info
// header of 12 (OS/2), 40, 108 or 124 bytes; with bit-field masks for 16 and 32 bits when asked.
std::string handmade_bmp(int w, int h, int bpp, bool top_down, uint32_t header, bool bitfields,
                         uint32_t seed) {
  const uint32_t row_bytes = ((static_cast<uint32_t>(w * bpp) + 31) / 32) * 4;
  const uint32_t palette_entries = bpp <= 8 ? (1u << bpp) : 0;
  const uint32_t palette_bytes = palette_entries * (header == 12 ? 3 : 4);
  const bool masks_after_header = bitfields && header == 40;
  const uint32_t offset = 14 + header + (masks_after_header ? 12 : 0) + palette_bytes;
  const uint32_t image_bytes = row_bytes * static_cast<uint32_t>(h);
  std::string info;
  if (header == 12) {
    info = le32(12) + le16(static_cast<uint32_t>(w)) + le16(static_cast<uint32_t>(h)) + le16(1) +
           le16(static_cast<uint32_t>(bpp));
  } else {
    const uint32_t height = top_down ? static_cast<uint32_t>(-h) : static_cast<uint32_t>(h);
    info = le32(header) + le32(static_cast<uint32_t>(w)) + le32(height) + le16(1) +
           le16(static_cast<uint32_t>(bpp)) + le32(bitfields ? 3 : 0) + le32(image_bytes) + le32(2835) +
           le32(2835) + le32(0) + le32(0);
    const bool five = bpp == 16;
    const std::string masks = five ? le32(0x7c00) + le32(0x03e0) + le32(0x001f)
                                   : le32(0x00ff0000) + le32(0x0000ff00) + le32(0x000000ff);
    if (header >= 108) {
      info += (bitfields ? masks : std::string(12, '\0')) + le32(bitfields && !five ? 0xff000000u : 0);
      info += std::string("BGRs", 4) + std::string(36 + 12, '\0');
      if (header == 124) info += le32(4) + std::string(12, '\0');
    } else if (masks_after_header) {
      info += masks;
    }
  }
  std::string out = "BM" + le32(offset + image_bytes) + le32(0) + le32(offset) + info;
  if (palette_entries) {
    const std::string pal = pattern(palette_bytes, seed + 7);
    out += pal;
  }
  return out + pattern(image_bytes, seed);
}

// ---- .npy.

std::string handmade_npy(const std::string& dict, const std::string& data, int major = 1) {
  std::string header = dict;
  const size_t preamble = major == 1 ? 10 : 12;
  header.append((64 - (preamble + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  out += major == 1 ? le16(static_cast<uint32_t>(header.size())) : le32(static_cast<uint32_t>(header.size()));
  return out + header + data;
}

Tensor counting(const Shape& shape) {
  std::vector<float> v(static_cast<size_t>(shape.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.5f - 1.0f;
  return Tensor::from_vector(shape, v);
}

// ---- .safetensors.

std::string handmade_safetensors(const std::string& json, const std::string& body) {
  std::string out;
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  return out + json + body;
}

std::string saved_safetensors() {
  const fs::path path =
      fs::temp_directory_path() / ("minicnn_fuzz_seed_" + std::to_string(::getpid()) + ".safetensors");
  const Tensor w = counting({2, 3, 2, 2}), b = counting({2});
  const Tensor i = Tensor::from_vector_i32({3}, {1, -2, 3});
  save_safetensors(path.string(), {{"0.weight", &w}, {"0.bias", &b}, {"optimizer.0.step", &i}},
                   {{"format", "minicnn.checkpoint.v1"}, {"minicnn.spec", "Conv2d(3, 2, 2)"}});
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::error_code ec;
  fs::remove(path, ec);
  return bytes;
}

// ---- The seeds of each target.

std::vector<Seed> idx_seeds() {
  return {{"images-2x3x4", idx({2, 3, 4}, 1, false)},
          {"images-1x28x28", idx({1, 28, 28}, 2, false)},
          {"labels-5", idx({5}, 3, true)},
          {"labels-1", idx({1}, 4, true)}};
}

std::vector<Seed> idx_gzip_seeds() {
  std::vector<Seed> out;
  for (const Seed& s : idx_seeds()) {
    out.push_back({s.name + ".gz", gzip(s.bytes, 9)});
    out.push_back({s.name + "-stored.gz", gzip(s.bytes, 0)});
  }
  out.push_back({"zeros-64k.gz", gzip(std::string(65536, '\0'), 9)});  // compresses about 1000:1
  return out;
}

std::vector<Seed> cifar10_seeds() {
  std::string two = pattern(2 * kCifar10RecordBytes, 5);
  two[0] = 3;
  two[kCifar10RecordBytes] = 9;
  return {{"two-records.bin", two}, {"one-record.bin", two.substr(0, kCifar10RecordBytes)}};
}

std::vector<Seed> image_seeds() {
  std::vector<Seed> out;
  for (int comp = 1; comp <= 4; ++comp) {
    out.push_back(
        {"stb-" + std::to_string(comp) + "ch.png", stb_png(7, 5, comp, static_cast<uint32_t>(comp))});
    out.push_back(
        {"stb-" + std::to_string(comp) + "ch.bmp", stb_bmp(5, 3, comp, static_cast<uint32_t>(comp))});
  }
  out.push_back({"stb-grey-q90.jpg", stb_jpg(16, 9, 1, 90, 1)});
  out.push_back({"stb-rgb-q95.jpg", stb_jpg(19, 11, 3, 95, 2)});  // no chroma subsampling
  out.push_back({"stb-rgb-q50.jpg", stb_jpg(24, 17, 3, 50, 3)});  // 4:2:0 subsampling
  const struct {
    int depth, colour;
  } kinds[] = {{1, 0}, {2, 0}, {4, 0}, {8, 0}, {16, 0}, {8, 2}, {16, 2}, {1, 3},
               {2, 3}, {4, 3}, {8, 3}, {8, 4}, {16, 4}, {8, 6}, {16, 6}};
  for (const auto& k : kinds) {
    const std::string name = "png-d" + std::to_string(k.depth) + "-c" + std::to_string(k.colour);
    out.push_back({name + ".png", handmade_png(9, 6, k.depth, k.colour, false,
                                               static_cast<uint32_t>(k.depth * 7 + k.colour))});
    out.push_back({name + "-adam7.png",
                   handmade_png(11, 9, k.depth, k.colour, true, static_cast<uint32_t>(k.depth + k.colour))});
  }
  out.push_back({"png-cgbi.png", handmade_png(4, 3, 8, 6, false, 17, true)});
  for (int bpp : {1, 4, 8, 16, 24, 32}) {
    const std::string name = "bmp-" + std::to_string(bpp) + "bpp";
    out.push_back({name + ".bmp", handmade_bmp(7, 5, bpp, false, 40, false, static_cast<uint32_t>(bpp))});
    out.push_back({name + "-topdown-v5.bmp", handmade_bmp(6, 4, bpp, true, 124, bpp == 16 || bpp == 32,
                                                          static_cast<uint32_t>(bpp + 1))});
  }
  out.push_back({"bmp-16bpp-bitfields.bmp", handmade_bmp(5, 3, 16, false, 40, true, 3)});
  out.push_back({"bmp-32bpp-bitfields-v4.bmp", handmade_bmp(5, 3, 32, false, 108, true, 4)});
  out.push_back({"bmp-24bpp-os2.bmp", handmade_bmp(5, 3, 24, false, 12, false, 5)});
  out.push_back({"bmp-8bpp-os2.bmp", handmade_bmp(5, 3, 8, false, 12, false, 6)});
  return out;
}

std::vector<Seed> npy_seeds() {
  const Tensor ints = Tensor::from_vector_i32({4}, {1, -1, 7, 1 << 30});
  std::string f8, i8;
  for (int i = 0; i < 3; ++i) {
    const double d = i * 1.25 - 2;
    const int64_t v = int64_t{i} * 1000 - 1;
    f8.append(reinterpret_cast<const char*>(&d), 8);
    i8.append(reinterpret_cast<const char*>(&v), 8);
  }
  return {
      {"f4-2x3.npy", npy_bytes(counting({2, 3}))},
      {"f4-1x2x3x4.npy", npy_bytes(counting({1, 2, 3, 4}))},
      {"f4-scalar.npy", npy_bytes(counting({}))},
      {"i4-4.npy", npy_bytes(ints)},
      {"f8-3.npy", handmade_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", f8)},
      {"i8-3.npy", handmade_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3L,), }", i8)},
      {"u1-2x2.npy",
       handmade_npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", "\x01\x02\x03\xff")},
      {"f4-0x3.npy", handmade_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", "")},
      {"f4-v2.npy",
       handmade_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", pattern(8, 1), 2)},
      {"f4-v3-fortran.npy",
       handmade_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", pattern(16, 2), 3)},
  };
}

std::vector<Seed> safetensors_seeds() {
  std::string i64;
  for (int64_t v : {int64_t{5}, int64_t{-7}}) i64.append(reinterpret_cast<const char*>(&v), 8);
  return {
      {"saved.safetensors", saved_safetensors()},
      {"i64.safetensors", handmade_safetensors(R"({"a":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},)"
                                               R"("e":{"dtype":"F32","shape":[0,4],"data_offsets":[16,16]}})",
                                               i64)},
      {"metadata-only.safetensors", handmade_safetensors(R"({"__metadata__":{"format":"pt"}})", "")},
      {"scalar.safetensors",
       handmade_safetensors(
           R"({"__metadata__":{},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}      )",
           pattern(4, 9))},
  };
}

std::vector<Seed> model_spec_seeds() {
  std::vector<Seed> out;
  for (const Preset& p : presets()) {
    out.push_back({"preset-" + p.name, p.name});
    out.push_back({"spec-" + p.name, p.spec});
  }
  const char* specs[] = {
      "LazyConv2d(8, 3, padding='same') ReLU(inplace=True) MaxPool2d(3, stride=2, padding=1, ceil_mode=True) "
      "Flatten LazyLinear(10)",
      "Conv2d(1, 4, (3, 5), stride=(1, 2), padding=(1, 2), dilation=(2, 1), bias=False) -> "
      "AvgPool2d(2, count_include_pad=False, divisor_override=3) -> LazyBatchNorm2d(eps=1e-3, momentum=None) "
      "-> "
      "Dropout(p=0.25) -> Flatten(1, -1) -> LazyLinear(10, bias=False)",
      "AdaptiveAvgPool2d((7, None)), AdaptiveMaxPool2d(3), Flatten(), Linear(9, 10)",
      "MaxPool2d(2, dilation=2, padding=1) Conv2d(1, 2, 1, padding='valid') "
      "BatchNorm2d(2, affine=False, track_running_stats=False) AvgPool2d((2, 3), (1, 2), (1, 1), True, "
      "False)",
      "Flatten Linear(784, 10)",
      "MaxPool2d(kernel_size=4, stride=None, padding=2, dilation=1, return_indices=False, ceil_mode=True) "
      "LazyConv2d(out_channels=3, kernel_size=1, groups=1, padding_mode='zeros') Flatten(start_dim=1) "
      "Dropout(0.0, False) LazyLinear(out_features=2)",
  };
  for (size_t i = 0; i < std::size(specs); ++i) out.push_back({"spec-" + std::to_string(i), specs[i]});
  return out;
}

std::vector<Seed> pool_variant_seeds() {
  std::vector<Seed> out;
  for (const char* name :
       {"max2", "max3s2p1", "max2s1", "avg2", "avg3s2p1", "max3s2p1d2c", "avg3s1p1c", "max5s3p2d1"})
    out.push_back({name, name});
  return out;
}

}  // namespace

std::vector<Seed> seeds(const std::string& name) {
  static const std::vector<std::pair<std::string, std::function<std::vector<Seed>()>>> makers = {
      {"idx", idx_seeds},
      {"idx_gzip", idx_gzip_seeds},
      {"cifar10", cifar10_seeds},
      {"image", image_seeds},
      {"npy", npy_seeds},
      {"safetensors", safetensors_seeds},
      {"model_spec", model_spec_seeds},
      {"pool_variant", pool_variant_seeds}};
  for (const auto& [n, make] : makers) {
    if (n == name) return make();
  }
  throw std::invalid_argument("no fuzz seeds for a target called '" + name + "'");
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}
std::string le16(uint32_t v) {
  return {static_cast<char>(v), static_cast<char>(v >> 8)};
}
std::string le32(uint32_t v) {
  return le16(v & 0xffff) + le16(v >> 16);
}

}  // namespace minicnn::fuzz
