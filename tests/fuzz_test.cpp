// The fuzz targets in the normal suite: every seed and every saved finding (tests/fuzz/regressions/<target>/)
// replayed through the same bodies the fuzzers run, and the bugs the fuzzers found, as unit tests with
// their bytes inline.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>

#include <minicnn/conv2d.h>
#include "fuzz/fuzz_seeds.h"
#include "fuzz/fuzz_targets.h"
#include <minicnn/image_io.h>
#include <minicnn/npy.h>
#include <minicnn/pool2d.h>
#include <minicnn/registry.h>
#include <minicnn/safetensors.h>
#include "test_util.h"

namespace minicnn {
namespace {

namespace fs = std::filesystem;
using fuzz::be32;
using fuzz::le16;
using fuzz::le32;
using testing::error_of;

void replay(const fuzz::Target& target, const std::string& what, const std::string& bytes) {
  try {
    target.run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  } catch (const std::exception& e) {
    ADD_FAILURE() << target.name << " on " << what << ": " << e.what();
  }
}

TEST(FuzzTargets, AcceptEverySeed) {
  for (const fuzz::Target& t : fuzz::targets()) {
    const std::vector<fuzz::Seed> seeds = fuzz::seeds(t.name);
    EXPECT_GE(seeds.size(), 2u) << t.name;
    for (const fuzz::Seed& s : seeds) replay(t, "seed " + s.name, s.bytes);
  }
}

TEST(FuzzTargets, ReplaySavedFindingsWithoutCrashing) {
  const fs::path root = fs::path(MINICNN_SOURCE_DIR) / "tests/fuzz/regressions";
  int replayed = 0;
  for (const fuzz::Target& t : fuzz::targets()) {
    if (!fs::is_directory(root / t.name)) continue;
    for (const auto& e : fs::directory_iterator(root / t.name)) {
      replay(t, e.path().string(), testing::read_bytes(e.path().string()));
      ++replayed;
    }
  }
  EXPECT_GT(replayed, 0) << "no files under " << root;
}

// The seeds are valid files, so that the fuzzers start inside each format (and the variants stb_image
// reads are known to decode).
TEST(FuzzSeeds, ImagesDecode) {
  for (const fuzz::Seed& s : fuzz::seeds("image")) {
    const auto& b = s.bytes;
    EXPECT_EQ(error_of([&] { decode_image(reinterpret_cast<const uint8_t*>(b.data()), b.size(), s.name); }),
              "(no error)");
  }
}

TEST(FuzzSeeds, NpyAndSafetensorsParse) {
  for (const fuzz::Seed& s : fuzz::seeds("npy")) {
    const auto* p = reinterpret_cast<const uint8_t*>(s.bytes.data());
    const std::string error = error_of([&] { parse_npy(p, s.bytes.size(), s.name); });
    if (s.name.find("fortran") != std::string::npos) {
      EXPECT_NE(error.find("is in Fortran order"), std::string::npos) << error;
    } else {
      EXPECT_EQ(error, "(no error)") << s.name;
    }
  }
  for (const fuzz::Seed& s : fuzz::seeds("safetensors")) {
    const auto* p = reinterpret_cast<const uint8_t*>(s.bytes.data());
    EXPECT_EQ(error_of([&] { parse_safetensors(p, s.bytes.size(), s.name); }), "(no error)") << s.name;
  }
}

// A 2x2 24-bit BMP whose rows are stored top first (negative height) or bottom first (positive height).
std::string bmp_2x2(bool top_down) {
  std::string b("BM\x46\0\0\0\0\0\0\0\x36\0\0\0", 14);
  b += std::string("\x28\0\0\0\x02\0\0\0", 8);
  b += top_down ? std::string("\xfe\xff\xff\xff", 4) : std::string("\x02\0\0\0", 4);
  b += std::string("\x01\0\x18\0\0\0\0\0\x10\0\0\0\x13\x0b\0\0\x13\x0b\0\0\0\0\0\0\0\0\0\0", 28);
  b += std::string("\x01\x02\x03\x04\x05\x06\0\0\x07\x08\x09\x0a\x0b\x0c\0\0", 16);  // BGR rows, padded to 8
  return b;
}

// Found by FuzzSeeds.ImagesDecode: stb_image's info reports a top-down BMP's height as negative, and
// decode_image refused such files ("is 2x-2").
TEST(DecodeImage, ReadsTopDownAndBottomUpBmp) {
  for (const bool top_down : {true, false}) {
    const std::string b = bmp_2x2(top_down);
    const DecodedImage img = decode_image(reinterpret_cast<const uint8_t*>(b.data()), b.size(), "rows.bmp");
    EXPECT_EQ(img.width, 2);
    EXPECT_EQ(img.height, 2);
    ASSERT_EQ(img.channels, 3);
    const std::vector<uint8_t> top_left(img.pixels.begin(), img.pixels.begin() + 3);
    EXPECT_EQ(top_left, top_down ? std::vector<uint8_t>({3, 2, 1}) : std::vector<uint8_t>({9, 8, 7}));
  }
}

std::string png_chunk(const std::string& type, const std::string& data, uint32_t announced) {
  const std::string td = type + data;
  return be32(announced) + td +
         be32(static_cast<uint32_t>(
             crc32(0L, reinterpret_cast<const Bytef*>(td.data()), static_cast<uInt>(td.size()))));
}

// A PNG signature and IHDR for a w x h image of `depth` bits and colour type `colour`.
std::string png_head(uint32_t w, uint32_t h, char depth, char colour) {
  const std::string ihdr = be32(w) + be32(h) + depth + colour + std::string(3, '\0');
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr, 13);
}

std::string decode_error(const std::string& bytes, const std::string& name) {
  return error_of([&] { decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), name); });
}

// zlib data of one PNG row: its filter byte and one pixel.
const std::string kOnePixelIdat("\x78\x01\x63\x60\x00\x00\x00\x02\x00\x01", 10);

// Found by fuzz_image (tests/fuzz/regressions/image/png-idat-chunk-announces-2gb.png): stb_image reserves
// what an IDAT chunk announces before reading it, 2 GiB for a 300-byte file.
TEST(DecodeImage, RefusesAPngChunkLongerThanTheFile) {
  const std::string& idat = kOnePixelIdat;
  const std::string bytes =
      png_head(1, 1, 8, 0) + png_chunk("IDAT", idat, 0x7fffffff) + png_chunk("IEND", "", 0);
  EXPECT_EQ(
      decode_error(bytes, "long.png"),
      "image: 'long.png' is corrupt or truncated: a PNG chunk at byte 33 announces 2147483647 bytes, but "
      "the file has only 26 after its header");
  // The same file with the true length decodes.
  const std::string good = png_head(1, 1, 8, 0) + png_chunk("IDAT", idat, 10) + png_chunk("IEND", "", 0);
  EXPECT_EQ(decode_error(good, "one.png"), "(no error)");
}

// stb_image reserves a PNG's whole decoded image (here 2 GiB) before it inflates the data, which 10 bytes
// cannot hold: deflate expands at most 1032 times.
TEST(DecodeImage, RefusesAPngTooSmallForTheImageItAnnounces) {
  const std::string bytes =
      png_head(16384, 16384, 16, 6) + png_chunk("IDAT", kOnePixelIdat, 10) + png_chunk("IEND", "", 0);
  EXPECT_EQ(
      decode_error(bytes, "huge.png"),
      "image: 'huge.png' is corrupt or truncated: a 16384x16384 PNG needs at least 2080896 bytes of IDAT "
      "data, but the file has 10");
}

// stb_image reads the rows a BMP lacks as zeros: 54 bytes decoded to 16384x16384 pixels (768 MiB), and
// a truncated photo to one with black rows.
TEST(DecodeImage, RefusesABmpWithoutAllItsRows) {
  const std::string header = "BM" + le32(54) + le32(0) + le32(54) + le32(40) + le32(16384) + le32(16384) +
                             le16(1) + le16(24) + le32(0) + le32(0) + le32(2835) + le32(2835) + le32(0) +
                             le32(0);
  EXPECT_EQ(decode_error(header, "empty.bmp"),
            "image: 'empty.bmp' is corrupt or truncated: a 16384x16384 BMP needs at least 805306422 bytes of "
            "data, but the file has 54");
  // Found by fuzz_image (tests/fuzz/regressions/image/bmp-29-bytes-announces-557-mb.bmp): a header cut short
  // was not checked at all.
  EXPECT_EQ(decode_error(header.substr(0, 29), "short.bmp"),
            "image: 'short.bmp' is corrupt or truncated: a 16384x16384 BMP needs at least 805306422 bytes of "
            "data, but the file has 29");
  // stb_image allocates the image before it refuses 2 bits per pixel.
  std::string two_bits = header;
  two_bits[28] = 2;
  EXPECT_EQ(decode_error(two_bits, "two.bmp"),
            "image: 'two.bmp' is a BMP of 2 bits per pixel, expected 1, 4, 8, 16, 24 or 32");
  const std::string whole = bmp_2x2(false);
  EXPECT_EQ(decode_error(whole, "whole.bmp"), "(no error)");
  EXPECT_EQ(
      decode_error(whole.substr(0, whole.size() - 3), "cut.bmp"),
      "image: 'cut.bmp' is corrupt or truncated: a 2x2 BMP needs at least 68 bytes of data, but the file "
      "has 67");
}

// A JPEG codes at least one bit per 8x8 block: 21 bytes cannot hold 16384x16384 pixels, which stb_image
// would allocate and decode from zeros.
TEST(DecodeImage, RefusesAJpegTooSmallForTheImageItAnnounces) {
  const std::string bytes(
      "\xff\xd8\xff\xc0\x00\x11\x08\x40\x00\x40\x00\x03\x01\x11\x00\x02\x11\x00\x03\x11\x00\xff\xd9", 23);
  EXPECT_EQ(decode_error(bytes, "huge.jpg"),
            "image: 'huge.jpg' is corrupt or truncated: a 16384x16384 JPEG needs at least 131072 bytes of "
            "data, but "
            "the file has 23");
}

// Found by fuzz_image (tests/fuzz/regressions/image/jpeg-dht-more-than-256-codes.jpg and, with fill bytes
// before SOI, jpeg-fill-bytes-before-soi-then-bad-dht.jpg): stb_image 2.27 built a Huffman table from 16
// counts adding up to more than 256 codes and wrote past it.
TEST(DecodeImage, RefusesAJpegHuffmanTableOfMoreThan256Codes) {
  const std::string table = std::string("\x00", 1) + std::string(16, '\x20') + std::string(512, '\x01');
  const std::string dht = std::string("\xff\xc4\x02\x13", 4) + table;  // length 2 + 17 + 512 = 0x213
  EXPECT_EQ(
      decode_error("\xff\xd8" + dht + "\xff\xd9", "codes.jpg"),
      "image: 'codes.jpg' is corrupt: a JPEG Huffman table (DHT) at byte 6 declares 512 codes, but a table "
      "holds at most 256");
  EXPECT_EQ(
      decode_error("\xff\xff\xff\xd8" + dht + "\xff\xd9", "fill.jpg"),
      "image: 'fill.jpg' is corrupt: a JPEG Huffman table (DHT) at byte 8 declares 512 codes, but a table "
      "holds at most 256");
}

// Found by fuzz_image (tests/fuzz/regressions/image/jpeg-scan-uses-an-undefined-huffman-table.jpg): stb_image
// 2.27 decoded a scan with a Huffman table that no DHT had defined, taking uninitialised memory as array
// indices (the sanitizers saw it only when the heap held garbage there).
TEST(DecodeImage, RefusesAJpegScanThatUsesAnUndefinedHuffmanTable) {
  const std::string dc0 =
      std::string("\x00\x01", 2) + std::string(15, '\x00') + std::string("\x00", 1);  // one code
  const std::string dht = std::string("\xff\xc4\x00\x14", 4) + dc0;                   // length 2 + 17 + 1
  const std::string sos =
      std::string("\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00", 10);  // component 1: DC0, AC0
  EXPECT_EQ(
      decode_error("\xff\xd8" + dht + sos + "\xff\xd9", "scan.jpg"),
      "image: 'scan.jpg' is corrupt: the JPEG scan (SOS) at byte 24 decodes with Huffman table AC0, which no "
      "DHT before it defines");
}

// Found by fuzz_model_spec (tests/fuzz/regressions/model_spec/maxpool-kernel-overflows-int64.txt): the
// option check squared the effective kernel in int64 (signed overflow) before any size was refused.
TEST(MaxPool2d, RefusesOptionsWhoseSizeArithmeticWouldOverflow) {
  EXPECT_EQ(error_of([] { MaxPool2d(MaxPool2dOptions(42949672960)); }),
            "MaxPool2d: kernel_size, stride, padding and dilation should be at most 2147483647, but got "
            "kernel_size=(42949672960, 42949672960), stride=(42949672960, 42949672960), padding=(0, 0), "
            "dilation=(1, 1)");
  EXPECT_EQ(error_of([] { AvgPool2d(AvgPool2dOptions(3).stride(IntPair(1, int64_t{1} << 40))); }),
            "AvgPool2d: kernel_size, stride, padding and dilation should be at most 2147483647, but got "
            "kernel_size=(3, 3), stride=(1, 1099511627776), padding=(0, 0), dilation=(1, 1)");
  EXPECT_EQ(error_of([] { parse_model("MaxPool2d(3, dilation=4611686018427387904)"); }),
            "model spec: layer 0 (MaxPool2d): kernel_size, stride, padding and dilation should be at most "
            "2147483647, but got kernel_size=(3, 3), stride=(3, 3), padding=(0, 0), "
            "dilation=(4611686018427387904, 4611686018427387904)");
  // The largest options still give sizes (the kernel spans more rows than an int32 plane has).
  EXPECT_NE(error_of([] {
              MaxPool2d(MaxPool2dOptions(2147483647).dilation(2147483647));
            }).find("too large for int32 indices"),
            std::string::npos);
}

// The same arithmetic in Conv2d's geometry (found while fixing the above).
TEST(Conv2d, RefusesOptionsWhoseSizeArithmeticWouldOverflow) {
  EXPECT_EQ(error_of([] { Conv2d(Conv2dOptions(1, 1, 3).dilation(int64_t{1} << 40)); }),
            "Conv2d: kernel_size, stride, padding and dilation should be at most 2147483647, but got "
            "kernel_size=(3, 3), stride=(1, 1), padding=(0, 0), dilation=(1099511627776, 1099511627776)");
}

// A shape's element count overflowed int64 (undefined behaviour) before the allocation could fail.
TEST(Shape, RefusesMoreElementsThanAnyMemoryHolds) {
  EXPECT_EQ((Shape{1 << 20, 1 << 20}.numel()), int64_t{1} << 40);
  EXPECT_EQ(error_of([] {
              (void)Shape({1 << 20, 1 << 20, 1 << 20}).numel();
            }),
            "Shape: [1048576, 1048576, 1048576] has more than 2^50 elements");
  EXPECT_NE(
      error_of([] { parse_model("Conv2d(1048576, 1048576, 1048576)"); }).find("has more than 2^50 elements"),
      std::string::npos);
}

// Found by fuzz_model_spec (tests/fuzz/regressions/model_spec/flatten-of-a-huge-adaptive-pool.txt): Flatten
// multiplied the sizes an adaptive pool announced in int64 and overflowed.
TEST(Flatten, RefusesSizesWhoseProductOverflows) {
  EXPECT_EQ(error_of([] {
              parse_model("AdaptiveMaxPool2d(34294967296) Flatten").build({1, 28, 28}, 0);
            }),
            "Model: layer 1 (Flatten): Shape: [1, 34294967296, 34294967296] has more than 2^50 elements");
}

// Receptive fields multiplied strides in int64 and overflowed after three large ones.
TEST(Model, SummaryOfHugeStridesDoesNotOverflow) {
  Model m = parse_model(
      "MaxPool2d(1, stride=2147483647) MaxPool2d(1, stride=2147483647) "
      "MaxPool2d(1, stride=2147483647) MaxPool2d(3, stride=1, padding=1)");
  m.build({1, 28, 28}, 0);
  const std::vector<LayerSummary> rows = m.summary_rows({1, 28, 28});
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].receptive_field, "1x1");
  EXPECT_EQ(rows[3].receptive_field, "1.9807040600895968e+28x1.9807040600895968e+28");
}

}  // namespace
}  // namespace minicnn
