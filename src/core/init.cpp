// Uniform fills and torch.nn's default Conv2d/Linear initialisation.
#include <minicnn/init.h>

#include <cmath>

#include <minicnn/check.h>

namespace minicnn {

void uniform_(Tensor& t, float lo, float hi, Generator& gen) {
  MINICNN_ASSERT(!t.is_cuda(), "initialise on the CPU, then move");
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = gen.uniform(lo, hi);
}

void torch_default_init(Tensor& weight, Tensor* bias, int64_t fan_in, Generator& gen) {
  const float bound = fan_in > 0 ? 1.0f / std::sqrt(static_cast<float>(fan_in)) : 0.0f;
  uniform_(weight, -bound, bound, gen);
  if (bias != nullptr && bias->defined()) uniform_(*bias, -bound, bound, gen);
}

}  // namespace minicnn
