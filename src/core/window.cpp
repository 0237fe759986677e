// The sliding window's output size and the checks convolution and pooling share.
#include <minicnn/window.h>

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include <minicnn/check.h>

namespace minicnn {

std::string IntPair::str() const { return h == w ? std::to_string(h) : pair_str(); }
std::string IntPair::pair_str() const { return fmt::format("({}, {})", h, w); }

namespace {

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// "kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1)", as torch's messages print them.
std::string options_str(const Window2d& w) {
  return fmt::format("kernel_size={}, stride={}, padding={}, dilation={}", IntPair(w.KH, w.KW).pair_str(),
                     IntPair(w.SH, w.SW).pair_str(), IntPair(w.PH, w.PW).pair_str(),
                     IntPair(w.DH, w.DW).pair_str());
}

}  // namespace

int64_t window_output_size(int64_t in, int64_t K, int64_t S, int64_t P, int64_t D, bool ceil_mode) {
  int64_t out = floor_div(in + 2 * P - D * (K - 1) - 1 + (ceil_mode ? S - 1 : 0), S) + 1;
  // With ceil_mode, the last window must start inside the input or the left padding.
  if (ceil_mode && (out - 1) * S >= in + P) --out;
  return out;
}

void check_window(std::string_view op, const Window2d& w) {
  MINICNN_CHECK(w.KH > 0 && w.KW > 0, op, ": kernel_size should be greater than zero, but got kernel_size=",
                IntPair(w.KH, w.KW).pair_str());
  MINICNN_CHECK(w.SH > 0 && w.SW > 0, op,
                ": stride should be greater than zero, but got stride=", IntPair(w.SH, w.SW).pair_str());
  MINICNN_CHECK(w.DH > 0 && w.DW > 0, op,
                ": dilation should be greater than zero, but got dilation=", IntPair(w.DH, w.DW).pair_str());
  MINICNN_CHECK(w.PH >= 0 && w.PW >= 0, op,
                ": padding should be non-negative, but got padding=", IntPair(w.PH, w.PW).pair_str());
  // Sizes stay far from int64 overflow when every option fits in int32 (the size arithmetic multiplies them).
  MINICNN_CHECK(
      std::max({w.KH, w.KW, w.SH, w.SW, w.PH, w.PW, w.DH, w.DW}) <= std::numeric_limits<int32_t>::max(), op,
      ": kernel_size, stride, padding and dilation should be at most 2147483647, but got ", options_str(w));
}

std::array<int64_t, 4> window_input_nchw(std::string_view op, const Shape& x) {
  MINICNN_CHECK(x.rank() == 3 || x.rank() == 4, op,
                ": expected 3D (C, H, W) or 4D (N, C, H, W) input, but got shape ", x);
  const int64_t off = x.rank() - 3;
  return {off ? x[0] : 1, x[off], x[off + 1], x[off + 2]};
}

IntPair window_output_hw(std::string_view op, const Shape& x, const Window2d& w, bool ceil_mode,
                         std::string_view advice) {
  const int64_t OH = window_output_size(x[-2], w.KH, w.SH, w.PH, w.DH, ceil_mode);
  const int64_t OW = window_output_size(x[-1], w.KW, w.SW, w.PW, w.DW, ceil_mode);
  if (OH < 1 || OW < 1) {
    // One window needs D(K-1) + 1 - 2P input elements along an axis (at least one).
    const int64_t min_h = w.DH * (w.KH - 1) + 1 - 2 * w.PH, min_w = w.DW * (w.KW - 1) + 1 - 2 * w.PW;
    detail::throw_error(
        fmt::format("{}: output size is too small: input {} with {} gives {}x{}; the input must be at "
                    "least {}x{} ({})",
                    op, x.str(), options_str(w), OH, OW, std::max<int64_t>(min_h, 1),
                    std::max<int64_t>(min_w, 1), advice));
  }
  return {OH, OW};
}

}  // namespace minicnn
