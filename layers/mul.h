// Mul: multiplies by a constant, as the scaling module of airbench94's classifier head does (torch.nn has
// no module for it; `x * scale` in torch, with the scale rounded to float32).
#pragma once

#include <minicnn/layer.h>

namespace minicnn {

/// Example: Mul scale(1.0f / 9);  // spec: Mul(1/9)
class Mul : public Layer {
 public:
  explicit Mul(float scale) : scale_(scale) {}
  std::string type_name() const override { return "Mul"; }
  std::string repr() const override;
  Shape output_shape(const Shape& in) const override { return in; }
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  bool supports(Device) const override { return true; }
  float scale() const { return scale_; }

 private:
  float scale_;
};

}  // namespace minicnn
