// The model spec language (torch.nn's own signatures), the presets and their default recipes.
#pragma once

#include <string>
#include <vector>

#include "model.h"
#include "pool2d.h"
#include "recipe.h"

namespace minicnn {

/// A named model with the input it expects and the recipe `minicnn train` uses by default.
struct Preset {
  std::string name;
  std::string spec;
  Shape input_chw;
  Recipe recipe;
  std::string description;
};

const std::vector<Preset>& presets();
/// The preset called `name`, or nullptr.
const Preset* find_preset(const std::string& name);

/// Parses a spec such as "Conv2d(1, 32, 3, padding=1) ReLU MaxPool2d(2) Flatten LazyLinear(10)" (layers
/// separated by spaces, commas or "->"), or a preset name, into an unbuilt Model whose spec() is the
/// expanded text. Arguments bind as in Python: positionals, then keywords, with torch.nn's names and
/// defaults. Throws Error naming the layer's position for an unknown layer or a bad argument.
Model parse_model(const std::string& spec_or_preset);

/// The layers of `model` as a spec that parse_model() reads back to the same layers (lazy sizes resolved).
std::string model_to_spec(const Model& model);

/// Makes every MaxPool2d and AvgPool2d of `model` run with `impl` (minicnn's kernels or cuDNN's).
void set_pool_impl(Model& model, PoolImpl impl);

/// Names of the layers the spec language knows.
std::vector<std::string> known_layers();

}  // namespace minicnn
