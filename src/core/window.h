// The sliding window that convolution and pooling share: its options, its output size and their checks.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <minicnn/tensor.h>

namespace minicnn {

/// A (height, width) pair; a single number means both, as in torch.nn.
struct IntPair {
  int64_t h, w;
  IntPair(int64_t both = 0) : h(both), w(both) {}  // NOLINT(google-explicit-constructor): mirrors torch
  IntPair(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  bool operator==(const IntPair&) const = default;
  /// "2" when both are equal, else "(2, 3)", as torch prints a layer's options.
  std::string str() const;
  /// Always "(2, 3)", as torch's error messages print them.
  std::string pair_str() const;
};

/// The sliding window of a spatial layer (convolution, pooling), also used for receptive-field arithmetic.
struct Window2d {
  int64_t KH, KW, SH, SW, PH, PW, DH, DW;
};

/// The output size along one axis: floor((in + 2P - D(K-1) - 1) / S) + 1; with ceil_mode (pooling) rounded
/// up, then a last window that would start in the bottom/right padding dropped. No validation.
int64_t window_output_size(int64_t in, int64_t K, int64_t S, int64_t P, int64_t D, bool ceil_mode = false);

/// Validates a window's options alone: kernel_size, stride and dilation positive, padding non-negative, each
/// at most 2147483647. Throws Error starting with `op`, e.g. "Conv2d: stride should be greater than zero,
/// but got stride=(0, 1)".
void check_window(std::string_view op, const Window2d& w);

/// {N, C, H, W} of the input a window slides over: (C, H, W) (one image) or (N, C, H, W). Throws Error
/// for any other rank: "MaxPool2d: expected 3D (C, H, W) or 4D (N, C, H, W) input, but got shape [7, 7]".
std::array<int64_t, 4> window_input_nchw(std::string_view op, const Shape& x);

/// The output size (OH, OW) of window `w` over the last two dimensions of `x` (window_output_size per
/// axis). Throws Error when either is below 1: "<op>: output size is too small: input [1, 3, 2, 2] with
/// kernel_size=(3, 3), stride=(3, 3), padding=(0, 0), dilation=(1, 1) gives 0x0; the input must be at
/// least 3x3 (<advice>)".
IntPair window_output_hw(std::string_view op, const Shape& x, const Window2d& w, bool ceil_mode,
                         std::string_view advice);

}  // namespace minicnn
