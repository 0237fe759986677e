// Optimizer: the interface SGD, Adam and AdamW share; it sees parameters, never layers.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <minicnn/layer.h>

namespace minicnn {

/// Updates parameters from their gradients. Per-parameter state (momentum, Adam moments) is exposed
/// through state() so checkpoints can save and restore it.
class Optimizer {
 public:
  explicit Optimizer(std::vector<Parameter*> params, double lr);
  virtual ~Optimizer() = default;

  virtual void step() = 0;
  /// Clears every parameter's gradient (backward only adds).
  void zero_grad();
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  /// Steps taken so far (restored with the state).
  int64_t steps() const { return steps_; }
  void set_steps(int64_t steps) { steps_ = steps; }
  /// State tensors named "{param index}.{name}" (e.g. "0.momentum_buffer", "3.exp_avg").
  virtual std::vector<std::pair<std::string, Tensor*>> state() { return {}; }
  /// Moves the state to `device` (after the parameters were moved).
  void to(Device device);

 protected:
  std::vector<Parameter*> params_;
  double lr_;
  int64_t steps_ = 0;
};

}  // namespace minicnn
