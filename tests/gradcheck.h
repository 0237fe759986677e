// The gradient checker (<minicnn/gradcheck.h>) reporting through GoogleTest, and the inputs tests give it.
#pragma once

#include <functional>
#include <string>

#include <minicnn/gradcheck.h>
#include <minicnn/layer.h>

namespace minicnn::testing {

/// Values spaced at least `gap` apart in a shuffled order (no ties, no argmax flips, no ReLU kinks
/// under a finite-difference step smaller than gap/2), none within gap/2 of zero.
Tensor spaced_values(const Shape& shape, uint64_t seed, float gap = 0.1f);
/// Uniform values in [lo, hi).
Tensor uniform_values(const Shape& shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f);

using minicnn::GradCheckOptions;

/// check_gradients(layer, x, options) with each mismatch reported as a GoogleTest failure.
void check_layer_gradients(Layer& layer, Tensor x, const GradCheckOptions& options = {});

}  // namespace minicnn::testing
