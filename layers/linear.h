// Linear (and LazyLinear): y = x W^T + b, mirrors torch.nn.Linear.
#pragma once

#include <minicnn/layer.h>

namespace minicnn {

/// Options for Linear; in_features = -1 makes it lazy (torch.nn.LazyLinear).
/// Example: Linear fc(LinearOptions(3136, 128));
struct LinearOptions {
  LinearOptions(int64_t in_features, int64_t out_features) : in_features_(in_features), out_features_(out_features) {}
  LinearOptions& bias(bool b) { bias_ = b; return *this; }
  int64_t in_features_;
  int64_t out_features_;
  bool bias_ = true;
};

/// Fully connected layer on (N, in_features) input (or (in_features) unbatched); weight (out, in), bias (out).
class Linear : public Layer {
 public:
  explicit Linear(LinearOptions options);
  std::string type_name() const override { return options_.in_features_ < 0 ? "LazyLinear" : "Linear"; }
  std::string repr() const override;
  Shape output_shape(const Shape& in) const override;
  void materialize(const Shape& in) override;
  void reset_parameters(Generator& gen) override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  std::vector<Parameter*> parameters() override;
  bool mixes_spatial() const override { return true; }
  bool fuse_relu() override { return relu_ = true; }

  Parameter& weight() { return weight_; }
  Parameter& bias() { return bias_; }
  const LinearOptions& options() const { return options_; }

 private:
  LinearOptions options_;
  Parameter weight_{"weight", {}, {}};
  Parameter bias_{"bias", {}, {}};
  Tensor input_;
  Tensor output_;  // kept only with a fused ReLU (backward masks dy with it)
  bool relu_ = false;
};

namespace cuda {
// Linear on device buffers (layers/linear.cu), x (N, in), weight (out, in), bias (out) or null; backward adds
// into dw and db and writes dx when it is not null. The CPU path is Eigen, inline in linear.cpp.
void linear_forward(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t in, int64_t out);
void linear_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, int64_t N,
                     int64_t in, int64_t out);
}  // namespace cuda

}  // namespace minicnn
