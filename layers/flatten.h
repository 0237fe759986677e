// Flatten: merges dimensions start_dim..end_dim into one, mirrors torch.nn.Flatten (a view, no copy).
#pragma once

#include <minicnn/layer.h>

namespace minicnn {

/// Example: Flatten flat;  // (N, C, H, W) -> (N, C*H*W)
class Flatten : public Layer {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim_(start_dim), end_dim_(end_dim) {}
  std::string type_name() const override { return "Flatten"; }
  std::string repr() const override;
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  bool supports(Device) const override { return true; }
  bool mixes_spatial() const override { return true; }

 private:
  int64_t start_dim_, end_dim_;
  // Of the last Train forward: the shape backward restores, and the output (a view of the input, so
  // keeping it costs no memory) whose shape dy must have.
  Shape input_shape_;
  Tensor output_;
};

}  // namespace minicnn
