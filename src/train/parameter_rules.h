// A recipe's rules for a model's parameters: dirac initialisation, frozen parameters and optimizer groups.
#pragma once

#include <cstdint>
#include <vector>

#include <minicnn/model.h>
#include <minicnn/optimizer.h>
#include <minicnn/recipe.h>

namespace minicnn {

/// torch.nn.init.dirac_ on the first in_channels filters of every Conv2d of `model` (after its default
/// initialisation), as airbench94's convolutions start.
void apply_dirac(Model& model);

/// Sets requires_grad of every parameter the rules name: false from the start for a rule of 0 epochs, and
/// from epoch `rule.epochs` on (numbered from 0) for the others; true for everything else.
void apply_freeze_rules(Model& model, const std::vector<FreezeRule>& rules, int64_t epoch);

/// The optimizer groups of `recipe`: each GroupRule's parameters with lr * lr_scale and weight_decay /
/// lr_scale, then a group of the rest with the recipe's lr and weight_decay. Parameters frozen from the
/// start go into the groups too (the optimizer skips them while they are frozen); state indices follow
/// the groups' order.
std::vector<ParamGroup> parameter_groups(Model& model, const Recipe& recipe);

}  // namespace minicnn
