// Optimizer: the interface SGD, Adam and AdamW share; it sees parameters, never layers.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <minicnn/layer.h>

namespace minicnn {

/// Parameters with their own learning rate and weight decay (an entry of torch.optim's param_groups).
struct ParamGroup {
  std::vector<Parameter*> params;
  double lr;
  double weight_decay;
};

/// Updates parameters from their gradients, group by group, skipping frozen parameters
/// (requires_grad false). Per-parameter state (momentum, Adam moments) is exposed through state() so
/// checkpoints can save and restore it.
class Optimizer {
 public:
  /// One group of `params` with `lr` and `weight_decay`.
  Optimizer(std::vector<Parameter*> params, double lr, double weight_decay);
  explicit Optimizer(std::vector<ParamGroup> groups);
  virtual ~Optimizer() = default;

  virtual void step() = 0;
  /// Clears every parameter's gradient (backward only adds).
  void zero_grad();
  /// The first group's learning rate; set_lr sets every group's (the one-group case).
  double lr() const { return groups_.front().lr; }
  void set_lr(double lr);
  std::vector<ParamGroup>& groups() { return groups_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  /// Steps taken so far (restored with the state).
  int64_t steps() const { return steps_; }
  void set_steps(int64_t steps) { steps_ = steps; }
  /// State tensors named "{param index}.{name}" (e.g. "0.momentum_buffer", "3.exp_avg").
  virtual std::vector<std::pair<std::string, Tensor*>> state() { return {}; }
  /// Moves the state to `device` (after the parameters were moved).
  void to(Device device);

 protected:
  std::vector<ParamGroup> groups_;
  std::vector<Parameter*> params_;  // every group's parameters in order: state index i is params_[i]
  int64_t steps_ = 0;
};

}  // namespace minicnn
