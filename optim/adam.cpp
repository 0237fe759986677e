// Adam/AdamW on the CPU, one fused element-wise pass per parameter (mirrors torch's single-tensor path).
#include <minicnn/adam.h>

#include <fmt/format.h>

#include <cmath>

#include <minicnn/check.h>
#if MINICNN_CUDA
#include <minicnn/cuda/context.h>
#endif

namespace minicnn {

namespace cpu {

void adam_step(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const AdamStep& s) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) adam_update(p[i], g[i], m[i], v[i], vmax ? vmax + i : nullptr, s);
}

}  // namespace cpu

Adam::Adam(std::vector<Parameter*> params, AdamOptions options, bool decoupled_weight_decay)
    : Adam(std::vector<ParamGroup>{{std::move(params), options.lr_, options.weight_decay_}}, options,
           decoupled_weight_decay) {}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions options, bool decoupled_weight_decay)
    : Optimizer(std::move(groups)), options_(options), decoupled_(decoupled_weight_decay) {
  const char* name = decoupled_ ? "AdamW" : "Adam";
  MINICNN_CHECK(options.beta1_ >= 0.0 && options.beta1_ < 1.0 && options.beta2_ >= 0.0 && options.beta2_ < 1.0, name,
                ": betas should be in [0, 1), but got (", options.beta1_, ", ", options.beta2_, ")");
  MINICNN_CHECK(options.eps_ >= 0.0, name, ": eps should be >= 0, but got ", options.eps_);
  MINICNN_CHECK(options.weight_decay_ >= 0.0, name, ": weight_decay should be >= 0, but got ", options.weight_decay_);
  for (Parameter* p : params_) {
    exp_avg_.push_back(Tensor::zeros(p->value.shape(), DType::Float32, p->value.device()));
    exp_avg_sq_.push_back(Tensor::zeros(p->value.shape(), DType::Float32, p->value.device()));
    if (options.amsgrad_) max_exp_avg_sq_.push_back(Tensor::zeros(p->value.shape(), DType::Float32, p->value.device()));
  }
}

void Adam::step() {
  ++steps_;
  const double t = static_cast<double>(steps_);
  size_t i = 0;  // the parameter's index across groups: its moments
  for (const ParamGroup& group : groups_) {
    for (Parameter* param : group.params) {
      const size_t k = i++;
      if (param->requires_grad) step_on(k, *param, group, t);
    }
  }
}

void Adam::step_on(size_t i, Parameter& p, const ParamGroup& group, double t) {
  const float lr = static_cast<float>(group.lr);
  const cpu::AdamStep s{lr,
                        static_cast<float>(options_.beta1_),
                        static_cast<float>(options_.beta2_),
                        static_cast<float>(options_.eps_),
                        static_cast<float>(group.weight_decay),
                        lr / static_cast<float>(1.0 - std::pow(options_.beta1_, t)),
                        static_cast<float>(std::sqrt(1.0 - std::pow(options_.beta2_, t))),
                        decoupled_};
  MINICNN_CHECK(p.grad.device() == p.value.device() && exp_avg_[i].device() == p.value.device(),
                decoupled_ ? "AdamW" : "Adam", ": parameter ", i, " is on ", p.value.device().str(),
                " but its gradient or moments are not; call the optimizer's to(device) after the model's");
  float* vmax = max_exp_avg_sq_.empty() ? nullptr : max_exp_avg_sq_[i].data();
#if MINICNN_CUDA
  if (p.value.is_cuda()) {  // device dispatch
    cuda::DeviceScope on(p.value.device().index);
    return cuda::adam_step(p.value.data(), p.grad.data(), exp_avg_[i].data(), exp_avg_sq_[i].data(), vmax,
                           p.value.numel(), s);
  }
#endif
  cpu::adam_step(p.value.data(), p.grad.data(), exp_avg_[i].data(), exp_avg_sq_[i].data(), vmax, p.value.numel(), s);
}

std::vector<std::pair<std::string, Tensor*>> Adam::state() {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (size_t i = 0; i < exp_avg_.size(); ++i) {
    out.emplace_back(fmt::format("{}.exp_avg", i), &exp_avg_[i]);
    out.emplace_back(fmt::format("{}.exp_avg_sq", i), &exp_avg_sq_[i]);
    if (!max_exp_avg_sq_.empty()) out.emplace_back(fmt::format("{}.max_exp_avg_sq", i), &max_exp_avg_sq_[i]);
  }
  return out;
}

}  // namespace minicnn
