// Learning-rate schedules stepped once per epoch: StepLR and CosineAnnealingLR with torch's closed forms.
#pragma once

#include <cstdint>

namespace minicnn {

/// The learning rate of each epoch (numbered from 0 here, as torch's last_epoch + 1).
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  virtual double lr_at(int64_t epoch) const = 0;
};

/// lr = base * gamma^floor(epoch / step_size) (torch.optim.lr_scheduler.StepLR).
class StepLR : public LRScheduler {
 public:
  StepLR(double base_lr, int64_t step_size, double gamma = 0.1);
  double lr_at(int64_t epoch) const override;

 private:
  double base_, gamma_;
  int64_t step_size_;
};

/// lr = eta_min + (base - eta_min) * (1 + cos(pi * epoch / T_max)) / 2 (torch's CosineAnnealingLR).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(double base_lr, int64_t t_max, double eta_min = 0.0);
  double lr_at(int64_t epoch) const override;

 private:
  double base_, eta_min_;
  int64_t t_max_;
};

/// A constant learning rate ("none").
class ConstantLR : public LRScheduler {
 public:
  explicit ConstantLR(double base_lr) : base_(base_lr) {}
  double lr_at(int64_t) const override { return base_; }

 private:
  double base_;
};

}  // namespace minicnn
