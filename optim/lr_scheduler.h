// Learning-rate schedules in torch's closed forms: StepLR and CosineAnnealingLR per epoch, and the
// warmup-warmdown of airbench94 per step (torch's LambdaLR with that factor).
#pragma once

#include <cstdint>

namespace minicnn {

/// The learning rate of a parameter group whose base rate is `base_lr`, at `t`: the epoch for a per-epoch
/// schedule, the optimizer step for a per-step one (both numbered from 0, as torch's last_epoch + 1).
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  virtual double lr_at(int64_t t, double base_lr) const = 0;
  /// True when t counts optimizer steps (the trainer then sets the rate before every step).
  virtual bool per_step() const { return false; }
};

/// lr = base * gamma^floor(epoch / step_size) (torch.optim.lr_scheduler.StepLR).
class StepLR : public LRScheduler {
 public:
  explicit StepLR(int64_t step_size, double gamma = 0.1);
  double lr_at(int64_t epoch, double base_lr) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

/// lr = eta_min + (base - eta_min) * (1 + cos(pi * epoch / T_max)) / 2 (torch's CosineAnnealingLR).
class CosineAnnealingLR : public LRScheduler {
 public:
  explicit CosineAnnealingLR(int64_t t_max, double eta_min = 0.0);
  double lr_at(int64_t epoch, double base_lr) const override;

 private:
  int64_t t_max_;
  double eta_min_;
};

/// A constant learning rate ("none").
class ConstantLR : public LRScheduler {
 public:
  double lr_at(int64_t, double base_lr) const override { return base_lr; }
};

/// airbench94's per-step schedule, torch's LambdaLR(factor): with W = int(total_steps * warmup), the factor
/// goes linearly from `start` at step 0 to 1 at step W, then linearly from 1 at step W towards `end` at
/// step total_steps; lr = base * factor.
class WarmupWarmdownLR : public LRScheduler {
 public:
  WarmupWarmdownLR(int64_t total_steps, double warmup = 0.23, double start = 0.2, double end = 0.07);
  double lr_at(int64_t step, double base_lr) const override { return base_lr * factor(step); }
  bool per_step() const override { return true; }
  double factor(int64_t step) const;

 private:
  int64_t total_, warmup_steps_;
  double start_, end_;
};

}  // namespace minicnn
