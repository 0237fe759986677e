// The one file that compiles stb_image and stb_image_write (from Debian's libstb-dev headers), so
// sanitizers and fuzzers see inside them.
#include "image_io.h"

#include <string_view>

#include "check.h"
#include "file_io.h"

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

DecodedImage decode_image(const uint8_t* data, size_t size, const std::string& name, int channels) {
  MINICNN_CHECK(channels == 0 || channels == 1 || channels == 3, "image: asked for ", channels,
                " channels, expected 0 (as stored), 1 or 3");
  MINICNN_CHECK(size > 0 && size < (size_t{1} << 31), "image: '", name, "' is empty or larger than 2 GiB");
  const int len = static_cast<int>(size);
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &c)) {
    detail::throw_error(detail::concat("image: '", name, "' is not a PNG, JPEG or BMP image stb_image can read (",
                                       stbi_failure_reason(), ")"));
  }
  MINICNN_CHECK(w > 0 && h > 0 && w <= kMaxImageDimension && h <= kMaxImageDimension, "image: '", name, "' is ", w, "x",
                h, ", expected at most ", kMaxImageDimension, " pixels on each side");
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
