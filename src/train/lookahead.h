// Lookahead (airbench94's, from hlb-CIFAR10): an average of the model's weights and running statistics
// that the weights are pulled back to every few steps.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <minicnn/model.h>
#include <minicnn/recipe.h>

namespace minicnn {

/// The average of every parameter and buffer of a model (the float tensors of its state_dict), starting at
/// the model's weights when constructed.
/// Example: LookaheadAverage avg(model, recipe.lookahead, total_steps); ... after step s:
/// avg.after_step(model, s);
class LookaheadAverage {
 public:
  LookaheadAverage(Model& model, const Lookahead& rule, int64_t total_steps);

  /// After step `step` (counted from 1): every rule.every steps, avg <- d avg + (1 - d) w and w <- avg with
  /// d = rule.decay * (step / total)^rule.power; after the last step, w <- avg (that step's own change is
  /// dropped unless it was also an averaging step).
  void after_step(Model& model, int64_t step);
  /// The averages, named "lookahead.<state_dict name>", for checkpoints.
  std::vector<std::pair<std::string, Tensor*>> state();

 private:
  void blend(Model& model, double decay);

  Lookahead rule_;
  int64_t total_;
  std::vector<Tensor> average_;  // in state_dict order
  std::vector<std::string> names_;
};

}  // namespace minicnn
