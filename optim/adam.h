// Adam and AdamW with torch.optim's formulas (bias-corrected moments; AdamW decays weights directly).
#pragma once

#include <cmath>

#include <minicnn/host_device.h>
#include <minicnn/optimizer.h>

namespace minicnn {

/// Options for Adam and AdamW; names and defaults follow torch.optim.Adam (AdamW: weight_decay 1e-2).
struct AdamOptions {
  explicit AdamOptions(double lr = 1e-3) : lr_(lr) {}
  AdamOptions& betas(double b1, double b2) { beta1_ = b1; beta2_ = b2; return *this; }
  AdamOptions& eps(double e) { eps_ = e; return *this; }
  AdamOptions& weight_decay(double w) { weight_decay_ = w; return *this; }
  AdamOptions& amsgrad(bool a) { amsgrad_ = a; return *this; }
  double lr_;
  double beta1_ = 0.9, beta2_ = 0.999;
  double eps_ = 1e-8;
  double weight_decay_ = 0.0;
  bool amsgrad_ = false;
};

/// m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
/// Adam adds weight_decay*p to g; AdamW multiplies p by (1 - lr*weight_decay) first.
/// Example: Adam opt(model.parameters(), AdamOptions(1e-3));
class Adam : public Optimizer {
 public:
  Adam(std::vector<Parameter*> params, AdamOptions options, bool decoupled_weight_decay = false);
  /// Groups with their own lr and weight decay; `options` gives betas, eps and amsgrad.
  Adam(std::vector<ParamGroup> groups, AdamOptions options, bool decoupled_weight_decay = false);
  void step() override;
  std::vector<std::pair<std::string, Tensor*>> state() override;

 private:
  void step_on(size_t i, Parameter& p, const ParamGroup& group, double t);

  AdamOptions options_;
  bool decoupled_;
  std::vector<Tensor> exp_avg_, exp_avg_sq_, max_exp_avg_sq_;
};

/// AdamW (torch.optim.AdamW): Adam with decoupled weight decay, default weight_decay 1e-2.
class AdamW : public Adam {
 public:
  AdamW(std::vector<Parameter*> params, AdamOptions options) : Adam(std::move(params), options, true) {}
  AdamW(std::vector<ParamGroup> groups, AdamOptions options) : Adam(std::move(groups), options, true) {}
};

namespace cpu {
struct AdamStep {
  float lr, beta1, beta2, eps, weight_decay;
  float step_size;              // lr / bias_correction1, rounded to float once per step
  float bias_correction2_sqrt;  // sqrt(1 - beta2^t)
  bool decoupled;
};

/// One element of an Adam/AdamW step (the CPU loop and the CUDA kernel both call it); vmax is the
/// element's AMSGrad maximum, or null.
MINICNN_HD void adam_update(float& p, float g, float& m, float& v, float* vmax, const AdamStep& s) {
  if (s.decoupled) {
    p *= 1.0f - s.lr * s.weight_decay;
  } else {
    g += s.weight_decay * p;
  }
  m = s.beta1 * m + (1.0f - s.beta1) * g;
  v = s.beta2 * v + (1.0f - s.beta2) * g * g;
  float second = v;
  if (vmax) {
    *vmax = (v > *vmax || v != v) ? v : *vmax;  // NaN propagates, as torch.maximum
    second = *vmax;
  }
  const float denom = sqrtf(second) / s.bias_correction2_sqrt + s.eps;
  p -= s.step_size * (m / denom);
}
void adam_step(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const AdamStep& s);
}  // namespace cpu

namespace cuda {
// The same step on device buffers (optim/adam.cu).
void adam_step(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const cpu::AdamStep& s);
}  // namespace cuda

}  // namespace minicnn
