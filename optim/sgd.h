// SGD with momentum, dampening, Nesterov and weight decay, with torch.optim.SGD's formulas.
#pragma once

#include <minicnn/host_device.h>
#include <minicnn/optimizer.h>

namespace minicnn {

/// Options for SGD; names and defaults follow torch.optim.SGD.
struct SGDOptions {
  explicit SGDOptions(double lr) : lr_(lr) {}
  SGDOptions& momentum(double m) { momentum_ = m; return *this; }
  SGDOptions& dampening(double d) { dampening_ = d; return *this; }
  SGDOptions& weight_decay(double w) { weight_decay_ = w; return *this; }
  SGDOptions& nesterov(bool n) { nesterov_ = n; return *this; }
  double lr_;
  double momentum_ = 0.0;
  double dampening_ = 0.0;
  double weight_decay_ = 0.0;
  bool nesterov_ = false;
};

/// g = grad + wd*p; buf = g on the first step, else momentum*buf + (1-dampening)*g;
/// g = nesterov ? g + momentum*buf : buf; p -= lr*g. Each group has its own lr and wd.
/// Example: SGD opt(model.parameters(), SGDOptions(0.01).momentum(0.9));
///          SGD two(std::vector<ParamGroup>{{biases, 0.64, 1e-5}, {others, 0.01, 1e-3}}, SGDOptions(0.01).momentum(0.9));
class SGD : public Optimizer {
 public:
  SGD(std::vector<Parameter*> params, SGDOptions options);
  /// Groups with their own lr and weight decay; `options` gives the momentum, dampening and nesterov
  /// (its lr and weight_decay are not used).
  SGD(std::vector<ParamGroup> groups, SGDOptions options);
  void step() override;
  std::vector<std::pair<std::string, Tensor*>> state() override;

 private:
  void step_on(Parameter& p, Tensor* momentum_buffer, const ParamGroup& group);

  SGDOptions options_;
  std::vector<Tensor> momentum_;
};

namespace cpu {
/// One element of an SGD step (the CPU loop and the CUDA kernel both call it); buf is the element's
/// momentum buffer, or null without momentum.
MINICNN_HD void sgd_update(float& p, float g, float* buf, float lr, float momentum, float dampening, float weight_decay,
                           bool nesterov, bool first_step) {
  float d = g + weight_decay * p;
  if (buf) {
    *buf = first_step ? d : momentum * *buf + (1.0f - dampening) * d;
    d = nesterov ? d + momentum * *buf : *buf;
  }
  p -= lr * d;
}

void sgd_step(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float dampening,
              float weight_decay, bool nesterov, bool first_step);
}  // namespace cpu

namespace cuda {
// The same step on device buffers (optim/sgd.cu).
void sgd_step(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float dampening,
              float weight_decay, bool nesterov, bool first_step);
}  // namespace cuda

}  // namespace minicnn
