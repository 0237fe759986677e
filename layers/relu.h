// ReLU: max(x, 0) element-wise, mirrors torch.nn.ReLU (NaN propagates).
#pragma once

#include <minicnn/host_device.h>
#include <minicnn/layer.h>

namespace minicnn {

/// Example: ReLU relu; Tensor y = relu.forward(x, Mode::Eval);
class ReLU : public Layer, public FusableReLU {
 public:
  explicit ReLU(bool inplace = false) : inplace_(inplace) {}
  std::string type_name() const override { return "ReLU"; }
  std::string repr() const override { return inplace_ ? "ReLU(inplace=True)" : "ReLU()"; }
  Shape output_shape(const Shape& in) const override { return in; }
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  bool supports(Device) const override { return true; }
  void set_fused(bool fused) override { fused_ = fused; }

 private:
  bool inplace_;
  bool fused_ = false;  // the layer before applies this ReLU (Model::fuse_relus, on the CPU only)
  Tensor output_;  // backward passes dy where output > 0
};

namespace cpu {
/// The ReLU rules every backend and every fused ReLU (Conv2d, Linear, BatchNorm2d) share: max(v, 0)
/// with NaN propagating (NaN is not < 0), and the gradient: dy where the output y is > 0, else 0.
MINICNN_HD float relu_of(float v) { return v < 0.0f ? 0.0f : v; }
MINICNN_HD float relu_grad(float y, float dy) { return y > 0.0f ? dy : 0.0f; }

void relu_forward(const float* x, float* y, int64_t n);
void relu_backward(const float* y, const float* dy, float* dx, int64_t n);
}  // namespace cpu

namespace cuda {
// The same on device buffers (layers/relu.cu); in-place forward (x == y) is allowed.
void relu_forward(const float* x, float* y, int64_t n);
void relu_backward(const float* y, const float* dy, float* dx, int64_t n);
}  // namespace cuda

}  // namespace minicnn
