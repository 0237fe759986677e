// Optimizer: gradient clearing and state movement shared by every optimizer.
#include <minicnn/optimizer.h>

#include <minicnn/check.h>

namespace minicnn {

Optimizer::Optimizer(std::vector<Parameter*> params, double lr) : params_(std::move(params)), lr_(lr) {
  MINICNN_CHECK(lr >= 0.0, "Optimizer: lr should be >= 0, but got ", lr);
  for (Parameter* p : params_) MINICNN_ASSERT(p != nullptr && p->value.defined() && p->grad.defined());
}

void Optimizer::zero_grad() {
  for (Parameter* p : params_) p->grad.zero_();
}

void Optimizer::to(Device device) {
  for (auto& [name, t] : state()) *t = t->to(device);
}

}  // namespace minicnn
