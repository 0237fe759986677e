// ImageView: how one image is read into a batch (flip, shift, reflect padding), and the scalar rules that
// the CPU loader and the CUDA batch kernels share: where an output pixel comes from, and how a byte becomes
// the float the network sees.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>

#include <minicnn/host_device.h>

namespace minicnn {

/// How an image is read into a batch: output pixel (h, w) comes from column w1 = flip_after ? W-1-w : w,
/// shifted to (h + dy, w1 + dx), where a position outside the image is 0 (padding) or, with `reflect`,
/// mirrored back inside as torch's 'reflect' padding does (-1 reads 1); then, with flip_before, that
/// column is mirrored. The identity view copies the image.
struct ImageView {
  bool flip_after = false;
  int64_t dy = 0, dx = 0;
  bool reflect = false;
  bool flip_before = false;
  bool identity() const { return !flip_after && !flip_before && dy == 0 && dx == 0; }
};

/// The index along an axis of `n` pixels that output index `i` reads under a flip or shift of that axis,
/// or -1 where it reads zero padding (a shift past the edge without `reflect`). Requires view_fits() of the
/// view (the loader, view_images and train check it).
MINICNN_HD int64_t view_source_index(int64_t n, int64_t i, int64_t shift, bool flip_after, bool reflect,
                                     bool flip_before) {
  int64_t j = (flip_after ? n - 1 - i : i) + shift;
  if (j < 0 || j >= n) {
    if (!reflect) return -1;
    j = j < 0 ? -j : 2 * (n - 1) - j;  // torch's 'reflect': the edge is not repeated
  }
  return flip_before ? n - 1 - j : j;
}

/// Whether `v` can read an H x W image: a reflecting shift must be smaller than the image along each axis, as
/// torch's 'reflect' padding must be (view_source_index relies on it; a zero-padded view always can).
inline bool view_fits(const ImageView& v, int64_t H, int64_t W) {
  return !v.reflect || (std::abs(v.dy) < H && std::abs(v.dx) < W);
}

/// A byte as the network sees it: pixel * scale + shift, where scale = 1 / (255 std) and shift = -mean / std
/// of its channel, rounded once (a fused multiply-add), so every device and compiler gives the same bits.
/// (A build for a CPU without FMA instructions calls the C library's fmaf here: slower, the same bits.)
MINICNN_HD float normalize_pixel(uint8_t pixel, float scale, float shift) {
  return fmaf(static_cast<float>(pixel), scale, shift);
}

}  // namespace minicnn
