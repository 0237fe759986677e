// The optimizer and schedule of a recipe: which classes, with which of its settings, and how they read.
#include <minicnn/optimizer_factory.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include <minicnn/adam.h>
#include <minicnn/check.h>
#include <minicnn/parameter_rules.h>
#include <minicnn/sgd.h>

namespace minicnn {
namespace {

// Per-epoch schedules count whole epochs: a fractional last epoch is one more.
int64_t whole_epochs(double epochs) { return static_cast<int64_t>(std::ceil(epochs)); }

int64_t step_size(double epochs) { return std::max<int64_t>(1, whole_epochs(epochs) / 3); }

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const Recipe& recipe, Model& model) {
  std::vector<ParamGroup> groups = parameter_groups(model, recipe);
  switch (recipe.optimizer) {
    case OptimizerKind::SGD:
      return std::make_unique<SGD>(std::move(groups), SGDOptions(recipe.lr)
                                                          .momentum(recipe.momentum)
                                                          .nesterov(recipe.nesterov)
                                                          .weight_decay(recipe.weight_decay));
    case OptimizerKind::Adam:
      return std::make_unique<Adam>(std::move(groups), AdamOptions(recipe.lr).weight_decay(recipe.weight_decay));
    case OptimizerKind::AdamW:
      return std::make_unique<AdamW>(std::move(groups), AdamOptions(recipe.lr).weight_decay(recipe.weight_decay));
  }
  detail::throw_internal(__FILE__, __LINE__, "a known optimizer", "");
}

std::string describe_optimizer(const Recipe& recipe) {
  if (recipe.optimizer == OptimizerKind::SGD) {
    std::string groups;
    for (const GroupRule& rule : recipe.groups)
      groups += fmt::format(", {} at {:g}x lr", rule.params, rule.lr_scale);
    return fmt::format("SGD lr {:g}, momentum {:g}{}, weight decay {:g}{}", recipe.lr, recipe.momentum,
                       recipe.nesterov ? " (Nesterov)" : "", recipe.weight_decay, groups);
  }
  return fmt::format("{} lr {:g}, betas (0.9, 0.999), weight decay {:g}",
                     recipe.optimizer == OptimizerKind::AdamW ? "AdamW" : "Adam", recipe.lr,
                     recipe.weight_decay);
}

std::unique_ptr<LRScheduler> make_scheduler(const Recipe& recipe, int64_t total_steps) {
  switch (recipe.schedule) {
    case ScheduleKind::None:
      return std::make_unique<ConstantLR>();
    case ScheduleKind::Step:
      return std::make_unique<StepLR>(step_size(recipe.epochs), 0.1);
    case ScheduleKind::Cosine:
      return std::make_unique<CosineAnnealingLR>(std::max<int64_t>(1, whole_epochs(recipe.epochs)));
    case ScheduleKind::WarmupWarmdown:
      return std::make_unique<WarmupWarmdownLR>(total_steps);
  }
  detail::throw_internal(__FILE__, __LINE__, "a known schedule", "");
}

bool schedule_extends(const Recipe& recipe, double epochs) {
  switch (recipe.schedule) {
    case ScheduleKind::None:
      return true;
    case ScheduleKind::Step:
      return step_size(recipe.epochs) == step_size(epochs);
    case ScheduleKind::Cosine:
    case ScheduleKind::WarmupWarmdown:
      return recipe.epochs == epochs;
  }
  detail::throw_internal(__FILE__, __LINE__, "a known schedule", "");
}

std::string describe_recipe_extras(const Recipe& recipe) {
  std::string out;
  if (recipe.label_smoothing > 0) out += fmt::format(", label smoothing {:g}", recipe.label_smoothing);
  if (recipe.sum_loss) out += ", loss summed over the batch";
  if (recipe.drop_last) out += ", last partial batch dropped";
  for (const FreezeRule& rule : recipe.frozen) {
    out += rule.epochs == 0
               ? fmt::format(", {} frozen", rule.params)
               : fmt::format(", {} frozen after {}", rule.params, count_of(rule.epochs, "epoch"));
  }
  if (recipe.lookahead.every > 0) out += fmt::format(", lookahead every {} steps", recipe.lookahead.every);
  if (recipe.tta > 0) out += fmt::format(", test-time augmentation level {}", recipe.tta);
  return out;
}

std::string describe_schedule(ScheduleKind schedule) {
  return schedule == ScheduleKind::None ? "constant lr" : fmt::format("{} schedule", schedule_name(schedule));
}

}  // namespace minicnn
