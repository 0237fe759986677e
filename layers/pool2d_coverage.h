// Which input pixels a pooling configuration's windows read: per-axis taps, padding and ceil_mode overhang,
// coverage counts, overlap and uncovered pixels (what `minicnn explain` shows and the pooling study reports).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <minicnn/pool2d_geometry.h>

namespace minicnn {

/// Where a window's tap lands along one axis: inside the input, in the padding (the P positions on each
/// side), or, with ceil_mode, past the padded input. That overhang is not padding: torch clips a window
/// to the padded input, so average pooling's count_include_pad counts padding in the divisor but never
/// the overhang.
enum class TapPlace { Input, Padding, Overhang };

/// One axis of a pooling geometry: the input positions each output window taps (start + k*D, k < K).
struct AxisCoverage {
  int64_t size = 0, padding = 0, outputs = 0;
  std::vector<std::vector<int64_t>> taps;  // per output window
  std::vector<int32_t> count;              // per input position: windows whose taps include it
  int64_t windows_touching_padding = 0;    // windows with a tap in [-P, 0) or [size, size + P)
  int64_t windows_overhanging = 0;         // windows with a tap at size + P or beyond (ceil_mode)
  int64_t uncovered = 0;                   // input positions no window taps
  int64_t read_once = 0;                   // input positions exactly one window taps

  TapPlace place(int64_t i) const;
  bool touches_padding(int64_t o) const;
  bool overhangs(int64_t o) const;
};

/// Both axes of a 2-D pooling geometry. A 2-D window is the product of a row window and a column window,
/// and the windows reading pixel (h, w) are those whose row window reads h and whose column window reads
/// w, so every count follows from the two axes.
struct PoolCoverage {
  AxisCoverage rows, cols;

  int64_t windows() const { return rows.outputs * cols.outputs; }
  /// Windows (per channel) with at least one tap in the padding.
  int64_t windows_touching_padding() const;
  /// Windows (per channel) with at least one tap past the padded input (only with ceil_mode).
  int64_t windows_overhanging() const;
  /// Windows (per channel) that do both.
  int64_t windows_touching_padding_and_overhanging() const;
  /// Input pixels (per channel) that no window reads.
  int64_t uncovered_pixels() const;
  /// Input pixels (per channel) that two or more windows read: where windows overlap.
  int64_t overlapped_pixels() const;
  int64_t pixels() const { return rows.size * cols.size; }
  /// Windows reading input pixel (h, w).
  int64_t count(int64_t h, int64_t w) const { return int64_t{rows.count[static_cast<size_t>(h)]} * cols.count[static_cast<size_t>(w)]; }
  /// The fewest and the most windows reading one input pixel.
  int64_t min_overlap() const;
  int64_t max_overlap() const;
};

AxisCoverage axis_coverage(int64_t size, int64_t outputs, int64_t K, int64_t S, int64_t P, int64_t D);
PoolCoverage pool2d_coverage(const Pool2dGeometry& g);

}  // namespace minicnn
