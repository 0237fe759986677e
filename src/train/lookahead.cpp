// The lookahead average: a lerp of each state tensor towards the weights, then the weights set to it.
#include <minicnn/lookahead.h>

#include <cmath>

#include <minicnn/check.h>
#include <minicnn/lerp.h>
#if MINICNN_CUDA
#include <minicnn/cuda/context.h>
#include <minicnn/cuda/elementwise.h>
#endif

namespace minicnn {

LookaheadAverage::LookaheadAverage(Model& model, const Lookahead& rule, int64_t total_steps)
    : rule_(rule), total_(total_steps) {
  MINICNN_CHECK(rule.every > 0, "lookahead: every should be positive, but got ", rule.every);
  for (const NamedTensor& t : model.state_dict()) {
    if (t.tensor->dtype() != DType::Float32) continue;
    average_.push_back(t.tensor->to(t.tensor->device()).clone());
    names_.push_back("lookahead." + t.name);
  }
}

namespace {

// avg <- lerp(avg, w, weight), then w <- avg, on the tensors' device.
void lerp_and_assign(Tensor& avg, Tensor& w, float weight) {
  float* a = avg.data();
  float* v = w.data();
  const int64_t n = avg.numel();
#if MINICNN_CUDA
  if (avg.is_cuda()) {
    cuda::DeviceScope on(avg.device().index);
    return cuda::lerp_and_assign(a, v, n, weight);
  }
#endif
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    a[i] = lerp_of(a[i], v[i], weight);
    v[i] = a[i];
  }
}

}  // namespace

void LookaheadAverage::blend(Model& model, double decay) {
  size_t k = 0;
  for (const NamedTensor& t : model.state_dict()) {
    if (t.tensor->dtype() != DType::Float32) continue;
    Tensor& avg = average_[k++];
    MINICNN_ASSERT(avg.device() == t.tensor->device(), "the lookahead average lives where the model does");
    lerp_and_assign(avg, *t.tensor, static_cast<float>(1.0 - decay));
  }
}

void LookaheadAverage::after_step(Model& model, int64_t step) {
  if (step % rule_.every == 0) {
    // airbench94 tabulates d as a float32 tensor (decay * (arange(T + 1) / T)^power): the same roundings.
    const float fraction = static_cast<float>(step) / static_cast<float>(total_);
    const float d = static_cast<float>(rule_.decay) * std::pow(fraction, static_cast<float>(rule_.power));
    blend(model, static_cast<double>(d));
  }
  if (step == total_) blend(model, 1.0);
}

std::vector<std::pair<std::string, Tensor*>> LookaheadAverage::state() {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (size_t i = 0; i < average_.size(); ++i) out.emplace_back(names_[i], &average_[i]);
  return out;
}

}  // namespace minicnn
