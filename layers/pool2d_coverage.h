// Which input pixels a pooling configuration's windows read: per-axis tap lists, padding, coverage
// counts and uncovered pixels (what `minicnn explain` shows and the pooling study reports).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "pool2d_window.h"

namespace minicnn {

/// One axis of a pooling geometry: the input positions each output window taps (start + k*D, k < K);
/// positions outside [0, size) are padding (or, with ceil_mode, beyond it).
struct AxisCoverage {
  int64_t size = 0, outputs = 0;
  std::vector<std::vector<int64_t>> taps;  // per output window
  std::vector<int32_t> count;              // per input position: windows whose taps include it
  int64_t windows_touching_padding = 0;    // windows with a tap outside [0, size)
  int64_t uncovered = 0;                   // input positions no window taps

  bool touches_padding(int64_t o) const;
};

/// Both axes of a 2-D pooling geometry. A 2-D window is the product of a row window and a column window,
/// so every count follows from the two axes.
struct PoolCoverage {
  AxisCoverage rows, cols;

  int64_t windows() const { return rows.outputs * cols.outputs; }
  /// Windows (per channel) with at least one tap in the padding.
  int64_t windows_touching_padding() const;
  /// Input pixels (per channel) that no window reads.
  int64_t uncovered_pixels() const;
  int64_t pixels() const { return rows.size * cols.size; }
  /// Windows reading input pixel (h, w).
  int64_t count(int64_t h, int64_t w) const { return int64_t{rows.count[static_cast<size_t>(h)]} * cols.count[static_cast<size_t>(w)]; }
  int64_t max_overlap() const;
};

AxisCoverage axis_coverage(int64_t size, int64_t outputs, int64_t K, int64_t S, int64_t P, int64_t D);
PoolCoverage pool2d_coverage(const Pool2dGeometry& g);

}  // namespace minicnn
