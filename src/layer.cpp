// The default Layer::to: moves every parameter, gradient and buffer.
#include "layer.h"

namespace minicnn {

void Layer::to(Device device) {
  for (Parameter* p : parameters()) {
    p->value = p->value.to(device);
    if (p->grad.defined()) p->grad = p->grad.to(device);
  }
  for (Buffer* b : buffers()) b->value = b->value.to(device);
  device_ = device;
}

}  // namespace minicnn
