// The training flags `train` and `study` share, and how they override a preset's recipe or a recorded run.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common.h"
#include <minicnn/recipe.h>
#include <minicnn/trainer.h>

namespace minicnn::cli {

/// Every flag is optional: what is not given comes from the preset (or PyTorch's plain recipe for a
/// custom spec), or, when resuming, from the run's own record.
struct TrainFlags {
  std::optional<std::string> dataset, data, model, resize;
  std::optional<double> epochs, label_smoothing;
  std::optional<int64_t> batch_size, limit_train, tta;
  std::optional<bool> nesterov, drop_last;
  std::optional<std::string> optimizer, schedule, augment;
  std::optional<double> lr, momentum, weight_decay;
  std::optional<uint64_t> seed;
  std::optional<std::string> device, pool_impl, conv_impl;
  bool allow_tf32 = false;
  std::optional<int> threads;
  std::string pool;  // --pool VARIANT (train only)

  /// Registers the flags on `cmd`; `with_pool` adds --pool (train; a study has --variants instead).
  void add_to(CLI::App* cmd, bool with_pool = true);
  /// Takes every flag that was not given from a recorded run (train --resume, eval).
  void fill_from(const TrainConfig& run);
  /// The data set's name; a UsageError naming --dataset when it is missing.
  const std::string& dataset_name(const char* command) const;
  /// The data directory: --data, or the conventional place of the data set when it was not given.
  std::string data_dir() const;
  /// The loading options (--resize), refused with a UsageError for data sets whose images have a fixed size.
  DatasetOptions dataset_options() const;
  /// The model name (a preset, or "custom"), its spec and input shape, and its recipe with every given
  /// flag applied over the defaults (those of `run` when given: its model and recipe). A preset's last
  /// Linear is sized to the data set's classes; `notes` receives a sentence for each such adaptation.
  TrainConfig config(const DatasetSplit& data, const TrainConfig* run, std::vector<std::string>* notes) const;
};

/// Loads the data set the flags name, with a UsageError for missing flags.
DatasetSplit load_flagged_dataset(const TrainFlags& flags, const char* command);

/// "training mnist-cnn on MNIST (60,000 training images, 10,000 test) for 3 epochs: ..." with the
/// optimizer's own settings only.
std::string describe_run(const TrainStart& start);

}  // namespace minicnn::cli
