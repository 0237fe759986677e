// Parameter initialisation with torch.nn's default formulas.
#pragma once

#include <minicnn/random.h>
#include <minicnn/tensor.h>

namespace minicnn {

/// Fills a CPU tensor with U(lo, hi).
void uniform_(Tensor& t, float lo, float hi, Generator& gen);
/// torch.nn's default for Conv2d and Linear: kaiming_uniform_(a=sqrt(5)) for the weight, which is
/// U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias uses the same bound.
void torch_default_init(Tensor& weight, Tensor* bias, int64_t fan_in, Generator& gen);

}  // namespace minicnn
