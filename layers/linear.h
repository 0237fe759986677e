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
class Linear : public Layer, public ReLUFuser {
 public:
  explicit Linear(LinearOptions options);
  std::string type_name() const override { return options_.in_features_ < 0 ? "LazyLinear" : "Linear"; }
  std::string repr() const override;
  Shape output_shape(const Shape& in) const override;
  void materialize(const Shape& in) override;
  void reset_parameters(Generator& gen) override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  bool supports(Device) const override { return true; }
  std::vector<Parameter*> parameters() override;
  bool mixes_spatial() const override { return true; }
  void set_fused_relu(bool fused) override { relu_ = fused; }

  Parameter& weight() { return weight_; }
  Parameter& bias() { return bias_; }
  const LinearOptions& options() const { return options_; }

 private:
  LinearOptions options_;
  Parameter weight_{"weight", {}, {}};
  Parameter bias_{"bias", {}, {}};
  Tensor input_;
  Tensor output_;  // kept only with a fused ReLU (backward masks dy with it)
  bool relu_ = false;  // a fused ReLU (Model::fuse_relus, on the CPU only)
};

namespace cpu {
/// y (N, out) = x (N, in) w^T + b, with weight w (out, in) and bias b (out) or null; then max(y, 0) when
/// `relu` (a fused ReLU).
void linear_forward(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t in,
                    int64_t out, bool relu = false);
/// Adds dy^T x into dw and dy's column sums into db (db may be null); writes dx = dy w when dx is not null.
/// With `relu_out` (a fused ReLU's output) dy counts only where relu_out > 0.
void linear_backward(const float* x, const float* w, const float* dy, const float* relu_out, float* dx,
                     float* dw, float* db, int64_t N, int64_t in, int64_t out);
}  // namespace cpu

namespace cuda {
// The same on device buffers (layers/linear.cu); no fused ReLU (fusion is CPU-only).
void linear_forward(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t in, int64_t out);
void linear_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, int64_t N,
                     int64_t in, int64_t out);
}  // namespace cuda

}  // namespace minicnn
