// SGD on the CPU, one fused element-wise pass per parameter.
#include <minicnn/sgd.h>

#include <fmt/format.h>

#include <minicnn/check.h>

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

SGD::SGD(std::vector<Parameter*> params, SGDOptions options) : Optimizer(std::move(params), options.lr_), options_(options) {
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
  for (size_t i = 0; i < params_.size(); ++i) {
    Parameter& p = *params_[i];
    MINICNN_CHECK(p.grad.device() == p.value.device() && (momentum_.empty() || momentum_[i].device() == p.value.device()),
                  "SGD: parameter ", i, " is on ", p.value.device().str(),
                  " but its gradient or momentum buffer is not; call the optimizer's to(device) after the model's");
#if MINICNN_CUDA
    if (p.value.is_cuda()) {  // device dispatch
      cuda::sgd_step(p.value.data(), p.grad.data(), momentum_.empty() ? nullptr : momentum_[i].data(),
                     p.value.numel(), static_cast<float>(lr_), static_cast<float>(options_.momentum_),
                     static_cast<float>(options_.dampening_), static_cast<float>(options_.weight_decay_),
                     options_.nesterov_, steps_ == 0);
      continue;
    }
#endif
    cpu::sgd_step(p.value.data(), p.grad.data(), momentum_.empty() ? nullptr : momentum_[i].data(), p.value.numel(),
                  static_cast<float>(lr_), static_cast<float>(options_.momentum_),
                  static_cast<float>(options_.dampening_), static_cast<float>(options_.weight_decay_),
                  options_.nesterov_, steps_ == 0);
  }
  ++steps_;
}

std::vector<std::pair<std::string, Tensor*>> SGD::state() {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (size_t i = 0; i < momentum_.size(); ++i) out.emplace_back(fmt::format("{}.momentum_buffer", i), &momentum_[i]);
  return out;
}

}  // namespace minicnn
