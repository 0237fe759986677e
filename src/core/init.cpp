// Uniform fills, torch.nn's default Conv2d/Linear initialisation and dirac_.
#include <minicnn/init.h>

#include <algorithm>
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

void dirac_(Tensor& weight, int64_t filters) {
  MINICNN_ASSERT(!weight.is_cuda(), "initialise on the CPU, then move");
  MINICNN_CHECK(weight.dim() == 4, "dirac_: expected a (O, I, KH, KW) weight, but got shape ", weight.shape());
  const int64_t O = weight.size(0), I = weight.size(1), KH = weight.size(2), KW = weight.size(3);
  MINICNN_CHECK(filters >= 0 && filters <= O, "dirac_: expected at most ", O, " filters, but got ", filters);
  float* w = weight.data();
  std::fill(w, w + filters * I * KH * KW, 0.0f);
  for (int64_t i = 0; i < std::min(filters, I); ++i) w[((i * I + i) * KH + KH / 2) * KW + KW / 2] = 1.0f;
}

}  // namespace minicnn
