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

/// torch.nn.init.dirac_ on the first `filters` output filters of a (O, I, KH, KW) CPU weight: they become
/// zero but for a 1 at the centre (KH/2, KW/2) of filter i's input channel i, for i < min(filters, I), so
/// the convolution starts by passing those channels through. The other filters keep their values.
void dirac_(Tensor& weight, int64_t filters);

}  // namespace minicnn
