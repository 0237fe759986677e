// The gradient checker reporting through GoogleTest, and the spaced and uniform inputs tests give it.
#include "gradcheck.h"

#include <gtest/gtest.h>

#include <minicnn/init.h>
#include <minicnn/random.h>

namespace minicnn::testing {

Tensor spaced_values(const Shape& shape, uint64_t seed, float gap) {
  Generator gen(seed);
  const int64_t n = shape.numel();
  const std::vector<int64_t> perm = random_permutation(n, gen);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < n; ++i) {
    t.data()[i] =
        (static_cast<float>(perm[static_cast<size_t>(i)]) - static_cast<float>(n / 2)) * gap + gap / 2;
  }
  return t;
}

Tensor uniform_values(const Shape& shape, uint64_t seed, float lo, float hi) {
  Generator gen(seed);
  Tensor t = Tensor::empty(shape);
  uniform_(t, lo, hi, gen);
  return t;
}

void check_layer_gradients(Layer& layer, Tensor x, const GradCheckOptions& options) {
  const GradCheckResult result = check_gradients(layer, std::move(x), options);
  for (const GradientMismatch& m : result.mismatches) {
    ADD_FAILURE() << m.what << "[" << m.index << "]: backward gives " << m.analytic
                  << ", finite differences give " << m.numeric;
  }
}

}  // namespace minicnn::testing
