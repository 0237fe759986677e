// The default Layer::to (moves every parameter, gradient and buffer) and the backward check.
#include <minicnn/layer.h>

#include <minicnn/check.h>

namespace minicnn {

void Layer::to(Device device) {
  for (Parameter* p : parameters()) {
    p->value = p->value.to(device);
    if (p->grad.defined()) p->grad = p->grad.to(device);
  }
  for (Buffer* b : buffers()) b->value = b->value.to(device);
  device_ = device;
}

void check_backward(const std::string& op, const Tensor& saved, const Tensor& dy, const Shape& expected) {
  MINICNN_CHECK(saved.defined(), op, ": backward() called without a Train-mode forward() before it");
  MINICNN_CHECK(dy.shape() == expected, op, ": expected a gradient of shape ", expected, ", but got ", dy.shape());
  MINICNN_CHECK(dy.device() == saved.device(), op, ": expected the gradient on ", saved.device().str(),
                ", but got it on ", dy.device().str());
}

}  // namespace minicnn
