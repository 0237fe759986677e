// Coverage arithmetic for pooling windows, computed per axis.
#include <minicnn/pool2d_coverage.h>

#include <algorithm>

namespace minicnn {

TapPlace AxisCoverage::place(int64_t i) const {
  if (i >= 0 && i < size) return TapPlace::Input;
  return i < size + padding ? TapPlace::Padding : TapPlace::Overhang;
}

bool AxisCoverage::touches_padding(int64_t o) const {
  const auto& t = taps[static_cast<size_t>(o)];
  return std::any_of(t.begin(), t.end(), [&](int64_t i) { return place(i) == TapPlace::Padding; });
}

bool AxisCoverage::overhangs(int64_t o) const {
  const auto& t = taps[static_cast<size_t>(o)];
  return std::any_of(t.begin(), t.end(), [&](int64_t i) { return place(i) == TapPlace::Overhang; });
}

AxisCoverage axis_coverage(int64_t size, int64_t outputs, int64_t K, int64_t S, int64_t P, int64_t D) {
  AxisCoverage a;
  a.size = size;
  a.padding = P;
  a.outputs = outputs;
  a.count.assign(static_cast<size_t>(size), 0);
  for (int64_t o = 0; o < outputs; ++o) {
    std::vector<int64_t> taps;
    for (int64_t k = 0; k < K; ++k) {
      const int64_t i = o * S - P + k * D;
      taps.push_back(i);
      if (i >= 0 && i < size) ++a.count[static_cast<size_t>(i)];
    }
    a.taps.push_back(std::move(taps));
    a.windows_touching_padding += a.touches_padding(o);
    a.windows_overhanging += a.overhangs(o);
  }
  a.uncovered = std::count(a.count.begin(), a.count.end(), 0);
  a.read_once = std::count(a.count.begin(), a.count.end(), 1);
  return a;
}

PoolCoverage pool2d_coverage(const Pool2dGeometry& g) {
  return {axis_coverage(g.H, g.OH, g.KH, g.SH, g.PH, g.DH), axis_coverage(g.W, g.OW, g.KW, g.SW, g.PW, g.DW)};
}

// A 2-D tap (h, w) is overhang when either coordinate is, and padding when neither is but one lies
// outside the input. Every window starts inside the padded input (ceil_mode drops a last window that
// would start past the input), so its first tap on each axis is never overhang, and a 2-D window touches
// padding exactly when its row or its column window does (likewise for the overhang).
int64_t PoolCoverage::windows_touching_padding() const {
  return windows() - (rows.outputs - rows.windows_touching_padding) * (cols.outputs - cols.windows_touching_padding);
}

int64_t PoolCoverage::windows_overhanging() const {
  return windows() - (rows.outputs - rows.windows_overhanging) * (cols.outputs - cols.windows_overhanging);
}

int64_t PoolCoverage::windows_touching_padding_and_overhanging() const {
  // Per axis, windows by (touches padding, overhangs); a 2-D window counts when either axis brings padding
  // and either axis brings overhang.
  auto classes = [](const AxisCoverage& a) {
    std::vector<int64_t> n(4, 0);
    for (int64_t o = 0; o < a.outputs; ++o) {
      ++n[static_cast<size_t>(a.touches_padding(o) * 2 + a.overhangs(o))];
    }
    return n;
  };
  const std::vector<int64_t> r = classes(rows), c = classes(cols);
  int64_t both = 0;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) {
      if (((i | j) & 2) && ((i | j) & 1)) both += r[static_cast<size_t>(i)] * c[static_cast<size_t>(j)];
    }
  }
  return both;
}

int64_t PoolCoverage::uncovered_pixels() const {
  return pixels() - (rows.size - rows.uncovered) * (cols.size - cols.uncovered);
}

int64_t PoolCoverage::overlapped_pixels() const {
  // Covered pixels less those read exactly once (one row window times one column window).
  return (rows.size - rows.uncovered) * (cols.size - cols.uncovered) - rows.read_once * cols.read_once;
}

int64_t PoolCoverage::min_overlap() const {
  const int32_t r = rows.count.empty() ? 0 : *std::min_element(rows.count.begin(), rows.count.end());
  const int32_t c = cols.count.empty() ? 0 : *std::min_element(cols.count.begin(), cols.count.end());
  return int64_t{r} * c;
}

int64_t PoolCoverage::max_overlap() const {
  const int32_t r = rows.count.empty() ? 0 : *std::max_element(rows.count.begin(), rows.count.end());
  const int32_t c = cols.count.empty() ? 0 : *std::max_element(cols.count.begin(), cols.count.end());
  return int64_t{r} * c;
}

}  // namespace minicnn
