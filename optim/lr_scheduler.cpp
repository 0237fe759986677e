// StepLR, CosineAnnealingLR and the warmup-warmdown factor in torch's (and airbench94's) closed forms.
#include <minicnn/lr_scheduler.h>

#include <cmath>

#include <minicnn/check.h>

namespace minicnn {

StepLR::StepLR(int64_t step_size, double gamma) : step_size_(step_size), gamma_(gamma) {
  MINICNN_CHECK(step_size > 0, "StepLR: step_size should be positive, but got ", step_size);
}

double StepLR::lr_at(int64_t epoch, double base_lr) const {
  return base_lr * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

CosineAnnealingLR::CosineAnnealingLR(int64_t t_max, double eta_min) : t_max_(t_max), eta_min_(eta_min) {
  MINICNN_CHECK(t_max > 0, "CosineAnnealingLR: T_max should be positive, but got ", t_max);
}

double CosineAnnealingLR::lr_at(int64_t epoch, double base_lr) const {
  return eta_min_ + (base_lr - eta_min_) *
                        (1.0 + std::cos(M_PI * static_cast<double>(epoch) / static_cast<double>(t_max_))) /
                        2.0;
}

WarmupWarmdownLR::WarmupWarmdownLR(int64_t total_steps, double warmup, double start, double end)
    : total_(total_steps),
      warmup_steps_(static_cast<int64_t>(static_cast<double>(total_steps) * warmup)),
      start_(start),
      end_(end) {
  MINICNN_CHECK(total_steps > 0, "WarmupWarmdownLR: total_steps should be positive, but got ", total_steps);
  MINICNN_CHECK(warmup >= 0 && warmup < 1,
                "WarmupWarmdownLR: warmup should be a fraction in [0, 1), but got ", warmup);
}

double WarmupWarmdownLR::factor(int64_t step) const {
  // Python's floats, in the order airbench94 writes them.
  if (step < warmup_steps_) {
    const double frac = static_cast<double>(step) / static_cast<double>(warmup_steps_);
    return start_ * (1 - frac) + 1.0 * frac;
  }
  const double frac = static_cast<double>(step - warmup_steps_) / static_cast<double>(total_ - warmup_steps_);
  return 1.0 * (1 - frac) + end_ * frac;
}

}  // namespace minicnn
