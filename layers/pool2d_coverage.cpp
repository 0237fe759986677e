// Coverage arithmetic for pooling windows, computed per axis.
#include "pool2d_coverage.h"

#include <algorithm>

namespace minicnn {

bool AxisCoverage::touches_padding(int64_t o) const {
  for (int64_t t : taps[static_cast<size_t>(o)]) {
    if (t < 0 || t >= size) return true;
  }
  return false;
}

AxisCoverage axis_coverage(int64_t size, int64_t outputs, int64_t K, int64_t S, int64_t P, int64_t D) {
  AxisCoverage a;
  a.size = size;
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
  }
  a.uncovered = std::count(a.count.begin(), a.count.end(), 0);
  return a;
}

PoolCoverage pool2d_coverage(const Pool2dGeometry& g) {
  return {axis_coverage(g.H, g.OH, g.KH, g.SH, g.PH, g.DH), axis_coverage(g.W, g.OW, g.KW, g.SW, g.PW, g.DW)};
}

int64_t PoolCoverage::windows_touching_padding() const {
  // A window stays inside the input only when both its row and its column windows do.
  return windows() - (rows.outputs - rows.windows_touching_padding) * (cols.outputs - cols.windows_touching_padding);
}

int64_t PoolCoverage::uncovered_pixels() const {
  return pixels() - (rows.size - rows.uncovered) * (cols.size - cols.uncovered);
}

int64_t PoolCoverage::max_overlap() const {
  const int32_t r = rows.count.empty() ? 0 : *std::max_element(rows.count.begin(), rows.count.end());
  const int32_t c = cols.count.empty() ? 0 : *std::max_element(cols.count.begin(), cols.count.end());
  return int64_t{r} * c;
}

}  // namespace minicnn
