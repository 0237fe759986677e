// Optimizer: gradient clearing and state movement shared by every optimizer.
#include <minicnn/optimizer.h>

#include <minicnn/check.h>

namespace minicnn {

Optimizer::Optimizer(std::vector<Parameter*> params, double lr, double weight_decay)
    : Optimizer(std::vector<ParamGroup>{{std::move(params), lr, weight_decay}}) {}

Optimizer::Optimizer(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {
  MINICNN_CHECK(!groups_.empty(), "Optimizer: expected at least one parameter group, but got none");
  for (const ParamGroup& g : groups_) {
    MINICNN_CHECK(g.lr >= 0.0, "Optimizer: lr should be >= 0, but got ", g.lr);
    MINICNN_CHECK(g.weight_decay >= 0.0, "Optimizer: weight_decay should be >= 0, but got ", g.weight_decay);
    for (Parameter* p : g.params) {
      MINICNN_ASSERT(p != nullptr && p->value.defined() && p->grad.defined());
      params_.push_back(p);
    }
  }
}

void Optimizer::set_lr(double lr) {
  for (ParamGroup& g : groups_) g.lr = lr;
}

void Optimizer::zero_grad() {
  for (Parameter* p : params_) p->grad.zero_();
}

void Optimizer::to(Device device) {
  for (auto& [name, t] : state()) *t = t->to(device);
}

}  // namespace minicnn
