// The training flags `train` and `study` share, and how they override a preset's recipe.
#pragma once

#include <optional>
#include <string>

#include "common.h"
#include "recipe.h"
#include "trainer.h"

namespace minicnn::cli {

struct TrainFlags {
  std::string dataset;
  std::string data;
  std::string model;
  std::optional<int64_t> epochs, batch_size, limit_train;
  std::optional<std::string> optimizer, schedule, augment;
  std::optional<double> lr, momentum, weight_decay;
  uint64_t seed = 1;
  std::string device = "cpu";
  std::string pool_impl = "native";
  int threads = 0;
  std::string pool;    // --pool VARIANT (train only)
  std::string resize;  // "H,W" for --dataset folder, or empty

  /// Registers the flags on `cmd`; `with_pool` adds --pool (train; a study has --variants instead).
  void add_to(CLI::App* cmd, bool with_pool = true);
  /// The data directory: --data, or the conventional place of the data set when it was not given.
  std::string data_dir() const;
  /// The loading options (--resize), refused with a UsageError for data sets whose images have a fixed size.
  DatasetOptions dataset_options() const;
  /// The model name (a preset, or "custom"), its spec and input shape, and its recipe with every given
  /// flag applied over the preset's defaults (PyTorch's plain recipe for a custom spec).
  TrainConfig config(const DatasetSplit& data) const;
};

}  // namespace minicnn::cli
