// StepLR and CosineAnnealingLR in torch's closed forms.
#include <minicnn/lr_scheduler.h>

#include <cmath>

#include <minicnn/check.h>

namespace minicnn {

StepLR::StepLR(double base_lr, int64_t step_size, double gamma) : base_(base_lr), gamma_(gamma), step_size_(step_size) {
  MINICNN_CHECK(step_size > 0, "StepLR: step_size should be positive, but got ", step_size);
}

double StepLR::lr_at(int64_t epoch) const {
  return base_ * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

CosineAnnealingLR::CosineAnnealingLR(double base_lr, int64_t t_max, double eta_min)
    : base_(base_lr), eta_min_(eta_min), t_max_(t_max) {
  MINICNN_CHECK(t_max > 0, "CosineAnnealingLR: T_max should be positive, but got ", t_max);
}

double CosineAnnealingLR::lr_at(int64_t epoch) const {
  return eta_min_ + (base_ - eta_min_) * (1.0 + std::cos(M_PI * static_cast<double>(epoch) / static_cast<double>(t_max_))) / 2.0;
}

}  // namespace minicnn
