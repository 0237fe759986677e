// Memory of a training run: the estimate that refuses a batch that cannot fit, and the peak actually used.
#pragma once

#include <string>

#include <minicnn/model.h>
#include <minicnn/recipe.h>

namespace minicnn {

/// Throws Error when a training step of `model` with `batch` images would need more than the available
/// memory, naming the estimate, its parts and the batch size that would fit.
void check_training_memory(const Model& model, const Shape& input_chw, int64_t batch, OptimizerKind optimizer,
                           const std::string& model_name);

}  // namespace minicnn
