// The recipe's plain settings as JSON, the keys a run's recorded configuration and its summary.json share.
#pragma once

#include <nlohmann/json.hpp>

#include <minicnn/recipe.h>

namespace minicnn {

/// {"optimizer", "lr", "momentum", "weight_decay", "schedule", "augment", "batch_size"}, as torch names them.
inline nlohmann::json plain_recipe_json(const Recipe& r) {
  return {{"optimizer", optimizer_name(r.optimizer)},
          {"lr", r.lr},
          {"momentum", r.momentum},
          {"weight_decay", r.weight_decay},
          {"schedule", schedule_name(r.schedule)},
          {"augment", augment_name(r.augment)},
          {"batch_size", r.batch_size}};
}

}  // namespace minicnn
