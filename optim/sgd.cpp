// SGD on the CPU, one fused element-wise pass per parameter.
#include <minicnn/sgd.h>

#include <fmt/format.h>

#include <minicnn/check.h>
#if MINICNN_CUDA
#include <minicnn/cuda/context.h>
#endif

namespace minicnn {

namespace cpu {

namespace {

// The loop with the per-step choices fixed at compile time, so every iteration is the same vector code.
template <bool kMomentum, bool kNesterov, bool kFirst>
void sgd_loop(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float dampening,
              float weight_decay) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    sgd_update(p[i], g[i], kMomentum ? buf + i : nullptr, lr, momentum, dampening, weight_decay, kNesterov, kFirst);
  }
}

}  // namespace

void sgd_step(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float dampening,
              float weight_decay, bool nesterov, bool first_step) {
  if (!buf) return sgd_loop<false, false, false>(p, g, buf, n, lr, momentum, dampening, weight_decay);
  if (first_step) {
    return nesterov ? sgd_loop<true, true, true>(p, g, buf, n, lr, momentum, dampening, weight_decay)
                    : sgd_loop<true, false, true>(p, g, buf, n, lr, momentum, dampening, weight_decay);
  }
  return nesterov ? sgd_loop<true, true, false>(p, g, buf, n, lr, momentum, dampening, weight_decay)
                  : sgd_loop<true, false, false>(p, g, buf, n, lr, momentum, dampening, weight_decay);
}

}  // namespace cpu

SGD::SGD(std::vector<Parameter*> params, SGDOptions options)
    : SGD(std::vector<ParamGroup>{{std::move(params), options.lr_, options.weight_decay_}}, options) {}

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions options) : Optimizer(std::move(groups)), options_(options) {
  MINICNN_CHECK(options.momentum_ >= 0.0, "SGD: momentum should be >= 0, but got ", options.momentum_);
  MINICNN_CHECK(options.weight_decay_ >= 0.0, "SGD: weight_decay should be >= 0, but got ", options.weight_decay_);
  MINICNN_CHECK(!options.nesterov_ || (options.momentum_ > 0.0 && options.dampening_ == 0.0),
                "SGD: nesterov momentum requires a momentum > 0 and zero dampening, but got momentum=",
                options.momentum_, ", dampening=", options.dampening_);
  if (options.momentum_ > 0.0) {
    for (Parameter* p : params_) momentum_.push_back(Tensor::zeros(p->value.shape(), DType::Float32, p->value.device()));
  }
}

void SGD::step() {
  size_t i = 0;  // the parameter's index across groups: its momentum buffer
  for (const ParamGroup& group : groups_) {
    for (Parameter* param : group.params) {
      const size_t k = i++;
      Parameter& p = *param;
      if (!p.requires_grad) continue;
      MINICNN_CHECK(p.grad.device() == p.value.device() && (momentum_.empty() || momentum_[k].device() == p.value.device()),
                    "SGD: parameter ", k, " is on ", p.value.device().str(),
                    " but its gradient or momentum buffer is not; call the optimizer's to(device) after the model's");
      step_on(p, momentum_.empty() ? nullptr : &momentum_[k], group);
    }
  }
  ++steps_;
}

void SGD::step_on(Parameter& p, Tensor* buf, const ParamGroup& group) {
  const float lr = static_cast<float>(group.lr), momentum = static_cast<float>(options_.momentum_),
              dampening = static_cast<float>(options_.dampening_), wd = static_cast<float>(group.weight_decay);
#if MINICNN_CUDA
  if (p.value.is_cuda()) {  // device dispatch
    cuda::DeviceScope on(p.value.device().index);
    return cuda::sgd_step(p.value.data(), p.grad.data(), buf ? buf->data() : nullptr, p.value.numel(), lr, momentum,
                          dampening, wd, options_.nesterov_, steps_ == 0);
  }
#endif
  cpu::sgd_step(p.value.data(), p.grad.data(), buf ? buf->data() : nullptr, p.value.numel(), lr, momentum, dampening,
                wd, options_.nesterov_, steps_ == 0);
}

std::vector<std::pair<std::string, Tensor*>> SGD::state() {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (size_t i = 0; i < momentum_.size(); ++i) out.emplace_back(fmt::format("{}.momentum_buffer", i), &momentum_[i]);
  return out;
}

}  // namespace minicnn
