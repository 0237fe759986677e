// Checkpoints: a model's tensors, the optimizer state and everything `eval`/`predict`/`--resume` need,
// in one .safetensors file written atomically.
#pragma once

#include <string>
#include <vector>

#include <minicnn/dataset.h>
#include <minicnn/model.h>
#include <minicnn/optimizer.h>
#include <minicnn/safetensors.h>

namespace minicnn {

/// Where a run stands, saved with every checkpoint so `--resume` continues exactly.
struct TrainState {
  int64_t epochs_done = 0;    // completed epochs
  int64_t step_in_epoch = 0;  // batches done in epoch `epochs_done` (a mid-epoch checkpoint)
  int64_t global_step = 0;
  double epoch_loss_sum = 0;  // sums over the batches done in the current epoch
  int64_t epoch_correct = 0;
  int64_t epoch_seen = 0;
  double epoch_train_seconds = 0;
  double total_train_seconds = 0;
  int64_t total_train_images = 0;
  double wall_seconds = 0;    // of earlier processes of this run
  bool finished = false;
};

/// What a checkpoint describes besides tensors: enough to rebuild the model and its preprocessing.
struct CheckpointMeta {
  std::string spec;           // model_to_spec() of the trained model
  std::string model_name;     // preset name or "custom"
  Shape input_chw;
  Normalization normalization;
  std::string dataset;
  std::vector<std::string> classes;
  std::string config_json;    // the result-defining training configuration (TrainConfig::to_json)
  std::string settings_json;  // where the data was and how the run ran (TrainConfig::settings_json); "" in older files
  std::string history_json;   // per-epoch metrics so far
};

/// Named tensors a run keeps beside the model and optimizer (the lookahead average, "lookahead.<name>").
using ExtraState = std::vector<std::pair<std::string, Tensor*>>;

/// Writes model tensors (nn.Sequential names), optimizer state ("optimizer.<i>.<name>"), `extra`, meta and
/// state.
void save_checkpoint(const std::string& path, Model& model, Optimizer* optimizer, const CheckpointMeta& meta,
                     const TrainState& state, const ExtraState& extra = {});

struct Checkpoint {
  SafetensorsFile file;
  CheckpointMeta meta;
  TrainState state;
  int64_t optimizer_steps = 0;
};

/// Reads and validates a checkpoint written by save_checkpoint (throws Error naming the file). `path` may
/// also name a run directory: its model.safetensors is read.
Checkpoint load_checkpoint(const std::string& path);
/// Rebuilds the model a checkpoint describes and loads its weights.
Model model_from_checkpoint(const Checkpoint& ckpt);
/// Copies the checkpoint's tensors into `model` (names and shapes must match) and, when given, `optimizer`
/// and the `extra` tensors.
void load_weights(Model& model, const Checkpoint& ckpt, Optimizer* optimizer = nullptr, const ExtraState& extra = {});

}  // namespace minicnn
