// A reusable gradient checker: central differences on float32 tensors against a layer's backward().
#pragma once

#include <functional>
#include <string>

#include <minicnn/layer.h>

namespace minicnn::testing {

/// Values spaced at least `gap` apart in a shuffled order (no ties, no argmax flips, no ReLU kinks
/// under a finite-difference step smaller than gap/2), none within gap/2 of zero.
Tensor spaced_values(const Shape& shape, uint64_t seed, float gap = 0.1f);
/// Uniform values in [lo, hi).
Tensor uniform_values(const Shape& shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f);

struct GradCheckOptions {
  double step = 1e-2;
  double rel_tol = 1e-2;
  double abs_tol = 1e-3;
};

/// Checks dL/dx and every dL/dparam of `layer` for L = sum(forward(x) * r), r fixed and random. Parameter
/// gradients start at a non-zero value, so the check also proves backward() adds rather than overwrites.
/// Reports failures through GoogleTest.
void check_layer_gradients(Layer& layer, Tensor x, const GradCheckOptions& options = {});

}  // namespace minicnn::testing
