// The one file that compiles stb_image and stb_image_write (from Debian's libstb-dev headers), so
// sanitizers and fuzzers see inside them.
#include <minicnn/image_io.h>

#include <algorithm>
#include <string_view>
#include <tuple>

#include <minicnn/check.h>
#include <minicnn/file_io.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_MAX_DIMENSIONS 16384
#include <stb_image.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb_image_write.h>

namespace minicnn {
namespace {

uint32_t be32_at(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
uint32_t le16_at(const uint8_t* p) { return uint32_t{p[0]} | (uint32_t{p[1]} << 8); }
uint32_t le32_at(const uint8_t* p) { return le16_at(p) | (le16_at(p + 2) << 16); }

// stb_image trusts the sizes a file announces: it reserves a PNG's IDAT chunk, and a PNG's whole decoded
// image, before reading them, and reads what a truncated BMP or JPEG lacks as zeros. So a file must hold
// its PNG chunks whole and at least the bytes a w x h image needs in its format's densest encoding, else
// a few bytes could cost a gigabyte: a deflate stream (PNG) expands at most 1032 times (258 bytes per two
// bits); a BMP holds every row; a JPEG spends at least one bit per 8x8 block of its largest component,
// which covers every 8 columns of at least every 32 rows.
void check_announced_sizes(const uint8_t* data, size_t size, const std::string& name, uint64_t w, uint64_t h) {
  uint64_t need = 0, have = size;
  const char* format = nullptr;
  if (size >= 8 && std::string_view(reinterpret_cast<const char*>(data), 8) == "\x89PNG\r\n\x1a\n") {
    format = "PNG";
    uint64_t bits = 1;  // per pixel, from IHDR
    have = 0;           // bytes of IDAT data
    for (size_t pos = 8; pos + 8 <= size;) {
      const uint64_t length = be32_at(data + pos);
      const std::string_view type(reinterpret_cast<const char*>(data + pos + 4), 4);
      MINICNN_CHECK(length + 12 <= size - pos, "image: '", name,
                    "' is corrupt or truncated: a PNG chunk at byte ", pos, " announces ", length,
                    " bytes, but the file has only ", size - pos - 8, " after its header");
      if (type == "IHDR" && length >= 13) {
        static constexpr uint64_t kSamples[] = {1, 0, 3, 1, 2, 0, 4};
        const uint8_t depth = data[pos + 16], colour = data[pos + 17];
        if (colour < 7 && kSamples[colour] != 0) bits = depth * kSamples[colour];
      }
      if (type == "IDAT") have += length;
      if (type == "IEND") break;
      pos += static_cast<size_t>(length) + 12;
    }
    need = (h * ((w * bits + 7) / 8) + 1031) / 1032;
  } else if (size >= 2 && data[0] == 'B' && data[1] == 'M') {
    // Header fields past the end read as zeros, as stb_image reads them; it reads 32 bits per pixel for
    // any depth over 16 but 24, and allocates the image before it refuses depths under 16 but 1, 4, 8.
    uint8_t head[30] = {};
    std::copy(data, data + std::min<size_t>(size, sizeof head), head);
    const uint64_t stored = le32_at(head + 14) == 12 ? le16_at(head + 24) : le16_at(head + 28);
    const uint64_t bpp = stored > 16 && stored != 24 ? 32 : stored;
    MINICNN_CHECK(bpp == 1 || bpp == 4 || bpp == 8 || bpp >= 16, "image: '", name, "' is a BMP of ", stored,
                  " bits per pixel, expected 1, 4, 8, 16, 24 or 32");
    format = "BMP";
    need = le32_at(head + 10) + ((w * bpp + 31) / 32) * 4 * (h - 1) + (w * bpp + 7) / 8;
  } else if (data[0] == 0xff) {  // SOI, after any fill bytes
    format = "JPEG";
    need = ((w + 7) / 8 * ((h + 31) / 32) + 7) / 8;
  }
  MINICNN_CHECK(format == nullptr || have >= need, "image: '", name, "' is corrupt or truncated: a ", w, "x", h,
                " ", format, " needs at least ", need, " bytes of ",
                std::string_view(format) == "PNG" ? "IDAT data" : "data", ", but the file has ", have);
}

// stb_image 2.27 (Debian's) trusts a JPEG's Huffman tables in two ways that a corrupt file breaks:
// - it builds a table without checking that its 16 code counts add up to at most 256 codes, and writes
//   past the table when they do;
// - it decodes a scan with whatever tables the scan names, defined or not: an undefined one is
//   uninitialised memory, whose garbage becomes an array index (out of bounds).
// Every DHT and SOS segment is checked first, found as stb_image finds it: segments skipped by their
// length, scan data up to the next marker.
void check_jpeg_huffman_tables(const uint8_t* data, size_t size, const std::string& name) {
  bool defined[2][4] = {};  // [DC = 0, AC = 1][table id] defined by a DHT so far
  bool progressive = false;
  size_t pos = 0;
  while (pos + 1 < size) {
    if (data[pos] != 0xff || data[pos + 1] == 0xff) {  // scan data, padding, or a fill byte before a marker
      ++pos;
      continue;
    }
    const uint8_t marker = data[pos + 1];
    pos += 2;
    // A stuffed zero, RST0..RST7, SOI and TEM have no length; EOI ends the image.
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue;
    if (marker == 0xd9 || pos + 2 > size) break;
    const size_t length = (size_t{data[pos]} << 8) | data[pos + 1];
    if (marker == 0xc2) progressive = true;  // SOF2; stb_image reads SOF0, SOF1 and SOF2 only
    if (marker == 0xc4) {
      for (size_t table = pos + 2, end = pos + length; table < end && table < size;) {
        size_t codes = 0;
        for (size_t i = table + 1; i <= table + 16 && i < size; ++i) codes += data[i];
        MINICNN_CHECK(codes <= 256, "image: '", name, "' is corrupt: a JPEG Huffman table (DHT) at byte ", table,
                      " declares ", codes, " codes, but a table holds at most 256");
        const int table_class = data[table] >> 4, id = data[table] & 15;
        if (table_class <= 1 && id <= 3) defined[table_class][id] = true;  // stb_image refuses other ids
        table += 17 + codes;
      }
    }
    if (marker == 0xda && pos + 3 <= size) {
      // SOS: Ns, then Ns (component, DC table << 4 | AC table), then Ss, Se, Ah << 4 | Al. A progressive
      // scan decodes with DC tables when it is a first DC scan (Ss = 0, Ah = 0) and with AC tables when
      // Ss > 0; a sequential one with both.
      const size_t ns = data[pos + 2], spectral = pos + 3 + 2 * ns;
      if (spectral + 3 <= size) {
        const bool dc = !progressive || (data[spectral] == 0 && (data[spectral + 2] >> 4) == 0);
        const bool ac = !progressive || data[spectral] > 0;
        for (size_t i = 0; i < ns; ++i) {
          const int selectors = data[pos + 4 + 2 * i], dc_id = selectors >> 4, ac_id = selectors & 15;
          for (const auto& [used, table_class, id] : {std::tuple{dc, 0, dc_id}, std::tuple{ac, 1, ac_id}}) {
            MINICNN_CHECK(!used || id > 3 || defined[table_class][id], "image: '", name,
                          "' is corrupt: the JPEG scan (SOS) at byte ", pos - 2, " decodes with Huffman table ",
                          table_class == 0 ? "DC" : "AC", id, ", which no DHT before it defines");
          }
        }
      }
    }
    pos += std::max<size_t>(length, 2);
  }
}

}  // namespace

DecodedImage decode_image(const uint8_t* data, size_t size, const std::string& name, int channels) {
  MINICNN_CHECK(channels == 0 || channels == 1 || channels == 3, "image: asked for ", channels,
                " channels, expected 0 (as stored), 1 or 3");
  MINICNN_CHECK(size > 0 && size < (size_t{1} << 31), "image: '", name, "' is empty or larger than 2 GiB");
  const int len = static_cast<int>(size);
  if (data[0] == 0xff) check_jpeg_huffman_tables(data, size, name);  // stb_image skips fill bytes before SOI
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &c)) {
    detail::throw_error(detail::concat("image: '", name, "' is not a PNG, JPEG or BMP image stb_image can read (",
                                       stbi_failure_reason(), ")"));
  }
  // stb_image's info gives a top-down BMP's height as negative (its loader takes the absolute value).
  if (h < 0 && h >= -kMaxImageDimension) h = -h;
  MINICNN_CHECK(w > 0 && h > 0 && w <= kMaxImageDimension && h <= kMaxImageDimension, "image: '", name, "' is ", w, "x",
                h, ", expected at most ", kMaxImageDimension, " pixels on each side");
  check_announced_sizes(data, size, name, static_cast<uint64_t>(w), static_cast<uint64_t>(h));
  int got = 0;
  stbi_uc* pixels = stbi_load_from_memory(data, len, &w, &h, &got, channels);
  if (pixels == nullptr) {
    detail::throw_error(detail::concat("image: '", name, "' is corrupt or truncated (", stbi_failure_reason(), ")"));
  }
  DecodedImage img;
  img.width = w;
  img.height = h;
  img.channels = channels == 0 ? got : channels;
  img.pixels.assign(pixels, pixels + static_cast<size_t>(w) * static_cast<size_t>(h) * static_cast<size_t>(img.channels));
  stbi_image_free(pixels);
  return img;
}

DecodedImage load_image(const std::string& path, int channels) {
  const std::vector<uint8_t> bytes = read_file(path, "image", uint64_t{1} << 30);
  return decode_image(bytes.data(), bytes.size(), path, channels);
}

void write_png(const std::string& path, const uint8_t* pixels, int64_t width, int64_t height, int channels) {
  MINICNN_CHECK(width > 0 && height > 0 && width <= kMaxImageDimension && height <= kMaxImageDimension &&
                    channels >= 1 && channels <= 4,
                "image: cannot write a ", width, "x", height, "x", channels, " PNG");
  std::string out;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  const int ok = stbi_write_png_to_func(append, &out, static_cast<int>(width), static_cast<int>(height), channels,
                                        pixels, static_cast<int>(width) * channels);
  MINICNN_CHECK(ok != 0, "image: could not encode '", path, "' as PNG");
  write_file_atomic(path, out, "image");
}

}  // namespace minicnn
