// The optimizer and the learning-rate schedule a recipe names, as the trainer builds and describes them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <minicnn/layer.h>
#include <minicnn/model.h>
#include <minicnn/lr_scheduler.h>
#include <minicnn/optimizer.h>
#include <minicnn/recipe.h>

namespace minicnn {

/// The optimizer a recipe names over `model`'s parameters, in the recipe's groups (parameter_groups):
/// SGD (lr, momentum, nesterov, weight_decay), Adam or AdamW (lr, weight_decay; betas 0.9, 0.999).
std::unique_ptr<Optimizer> make_optimizer(const Recipe& recipe, Model& model);

/// What the recipe's optimizer uses, for people: "SGD lr 0.01, momentum 0.9, weight decay 0" or "Adam lr
/// 0.001, betas (0.9, 0.999), weight decay 0" (Adam has no momentum to show).
std::string describe_optimizer(const Recipe& recipe);

/// The recipe's schedule over its epochs (rounded up) or its `total_steps`: constant, StepLR (step_size
/// max(1, epochs / 3), gamma 0.1), CosineAnnealingLR (T_max = epochs) or WarmupWarmdownLR.
std::unique_ptr<LRScheduler> make_scheduler(const Recipe& recipe, int64_t total_steps);

/// Whether the schedule `recipe` plans over its epochs gives the epochs done so far the same learning
/// rates when planned for `epochs` instead (then extending a run equals having asked for `epochs` at first).
bool schedule_extends(const Recipe& recipe, double epochs);

/// The schedule for people: "constant lr", "step schedule" or "cosine schedule".
std::string describe_schedule(ScheduleKind schedule);

/// What else the recipe does that changes results, for the banner: ", label smoothing 0.2, loss summed over
/// the batch, last partial batch dropped, 0.weight frozen, 0.bias frozen after 3 epochs, lookahead every 5
/// steps, test-time augmentation level 2"; empty for a plain recipe.
std::string describe_recipe_extras(const Recipe& recipe);

}  // namespace minicnn
