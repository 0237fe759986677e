// The gradient checker: a layer's backward() against central differences, for built-in and user layers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <minicnn/layer.h>

namespace minicnn {

struct GradCheckOptions {
  double step = 1e-2;
  double rel_tol = 1e-2;
  double abs_tol = 1e-3;
};

/// One gradient element where backward() and the finite differences disagree beyond the tolerance.
struct GradientMismatch {
  std::string what;  // "dL/dx", "dL/dweight"
  int64_t index;
  double analytic, numeric;
};

struct GradCheckResult {
  int64_t checked = 0;                       // gradient elements compared
  std::vector<GradientMismatch> mismatches;  // the first 10
  bool ok() const { return mismatches.empty(); }
  /// "dL/dx[3]: backward gives 0.5, finite differences give -0.5", one line per mismatch.
  std::string describe() const;
};

/// Checks dL/dx and every dL/dparam of `layer` (materialised, on the CPU) at input `x` for
/// L = sum(forward(x) * r), r fixed and uniform in [-1, 1), in Train mode and in double. Parameter gradients
/// start at a non-zero value, so the check also proves backward() adds rather than overwrites. Inputs at a
/// kink (ReLU at 0, a max with ties) closer than `step` give false mismatches: space the values apart.
/// Example: LeakyReLU act; GradCheckResult r = check_gradients(act, x); if (!r.ok())
/// puts(r.describe().c_str());
GradCheckResult check_gradients(Layer& layer, Tensor x, const GradCheckOptions& options = {});

}  // namespace minicnn
