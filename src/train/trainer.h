// The trainer: epochs of shuffled batches, evaluation, metrics, checkpoints and resumption, reported as
// events (the library never prints; the CLI draws them as a progress bar).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "dataset.h"
#include "device.h"
#include "model.h"
#include "pool2d.h"
#include "recipe.h"

namespace minicnn {

/// Everything that defines a training run. Two runs with the same config, thread count and device give
/// the same metrics on the CPU.
struct TrainConfig {
  std::string dataset;          // "mnist", "fashion-mnist", "cifar10", "folder"
  std::string model_name;       // a preset name or "custom"
  std::string spec;             // the model spec (a preset's expanded)
  Shape input_chw;
  Recipe recipe;                // epochs, batch size, optimizer, ... (preset defaults with overrides applied)
  uint64_t seed = 1;
  int64_t limit_train = 0;      // 0: the whole training set; else a seeded random subset of this size
  std::string pool_variant;     // "" or the --pool variant that rewrote the spec (recorded only)
  Device device;
  PoolImpl pool_impl = PoolImpl::Native;
  int threads = 0;              // 0: all cores
  int64_t checkpoint_every = 0; // also checkpoint every N steps (0: at epoch ends only)
  std::string out_dir;

  /// The fields that define the run's results (not device, threads or checkpointing), as JSON.
  std::string to_json() const;
};

/// One row of metrics.csv.
struct EpochMetrics {
  int64_t epoch;  // numbered from 1
  double train_loss, train_accuracy, test_loss, test_accuracy, lr, seconds, images_per_sec;
};

/// The per-epoch metrics a checkpoint keeps in its metadata (Checkpoint::meta.history_json), in epoch order.
/// Example: std::vector<EpochMetrics> h = history_from_json(load_checkpoint(path).meta.history_json);
std::vector<EpochMetrics> history_from_json(const std::string& text);

/// A training step finished.
struct BatchProgress {
  int64_t epoch, epochs;      // epoch numbered from 1
  int64_t batch, batches;     // batch numbered from 1
  double loss, accuracy;      // running means over this epoch so far
  double images_per_sec;      // this epoch so far
  double eta_seconds;         // for the rest of this epoch
};

struct TrainCallbacks {
  std::function<void(const BatchProgress&)> on_batch;
  std::function<void(const EpochMetrics&, int64_t epochs)> on_epoch;
  std::function<void(const std::string&)> on_note;  // e.g. "resuming at epoch 2, batch 101"
};

/// What to do with an existing run directory.
enum class RunDirPolicy { Fresh, Resume, Overwrite };

struct TrainResult {
  std::vector<EpochMetrics> history;
  double test_accuracy = 0, test_loss = 0;
  double train_images_per_sec = 0;
  double wall_seconds = 0;
  double peak_rss_mib = 0;
  bool already_finished = false;  // --resume found a finished run and did nothing
  std::string out_dir;
};

TrainResult train(const TrainConfig& config, const DatasetSplit& data, RunDirPolicy policy,
                  const TrainCallbacks& callbacks = {});

struct EvalResult {
  double loss = 0, accuracy = 0;
  int64_t correct = 0, count = 0;
  double images_per_sec = 0;
};

/// Mean loss and accuracy of `model` over `data`, normalised as given, in Eval mode.
EvalResult evaluate(Model& model, const ImageDataset& data, const Normalization& normalization,
                    int64_t batch_size = 128);

/// Bytes a training step of `model` needs for a batch of `batch` images: parameters, gradients and the
/// optimizer's state, plus per image the layer outputs, what backward keeps and their gradients, plus the
/// convolutions' column buffers. `train` refuses to start when this exceeds the available memory.
double estimate_training_bytes(const Model& model, const Shape& input_chw, int64_t batch, const std::string& optimizer);

/// Peak resident memory of this process in MiB.
double peak_rss_mib();

}  // namespace minicnn
