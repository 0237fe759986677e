// Image files: PNG, JPEG and BMP decoding (stb_image, compiled from Debian's header in image_io.cpp)
// and PNG writing (stb_image_write), with sizes checked and errors naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace minicnn {

/// Pixels in row-major, channel-interleaved order (H, W, C), 8 bits each.
struct DecodedImage {
  int64_t width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
};

/// Largest width or height accepted (larger images are refused before decoding).
constexpr int kMaxImageDimension = 16384;

/// Decodes PNG, JPEG or BMP bytes. `channels` 0 keeps the file's channels (grey 1, grey+alpha 2, RGB 3,
/// RGBA 4); 1 or 3 converts. Throws Error naming `name` for a corrupt, truncated or unsupported file.
DecodedImage decode_image(const uint8_t* data, size_t size, const std::string& name, int channels = 0);
DecodedImage load_image(const std::string& path, int channels = 0);
/// Writes 8-bit pixels (H, W, C) with C in 1..4 as a PNG file, atomically.
void write_png(const std::string& path, const uint8_t* pixels, int64_t width, int64_t height, int channels);

}  // namespace minicnn
