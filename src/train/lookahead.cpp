// The lookahead average: a lerp of each state tensor towards the weights, then the weights set to it.
#include <minicnn/lookahead.h>

#include <cmath>

#include <minicnn/check.h>

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

void LookaheadAverage::blend(Model& model, double decay) {
  size_t k = 0;
  for (const NamedTensor& t : model.state_dict()) {
    if (t.tensor->dtype() != DType::Float32) continue;
    Tensor& avg = average_[k++];
    MINICNN_ASSERT(!avg.is_cuda() && !t.tensor->is_cuda(), "the lookahead average runs on the CPU");
    float* a = avg.data();
    float* w = t.tensor->data();
    const int64_t n = avg.numel();
    // torch's lerp_(w, weight) in float, with its two forms: the one near the end it moves to is exact
    // at weight 1.
    const float weight = static_cast<float>(1.0 - decay);
    const bool small = std::abs(weight) < 0.5f;
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) {
      a[i] = small ? a[i] + weight * (w[i] - a[i]) : w[i] - (w[i] - a[i]) * (1.0f - weight);
      w[i] = a[i];
    }
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
