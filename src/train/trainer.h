// The trainer: epochs of shuffled batches, evaluation, metrics, checkpoints and resumption, reported as
// events (the library never prints; the CLI draws them as a progress bar).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <minicnn/conv2d.h>
#include <minicnn/dataset.h>
#include <minicnn/device.h>
#include <minicnn/loader.h>
#include <minicnn/metrics.h>
#include <minicnn/model.h>
#include <minicnn/pool2d.h>
#include <minicnn/recipe.h>

namespace minicnn {

/// Everything that defines a training run. Two runs with the same config, thread count and device give
/// the same metrics on the CPU.
struct TrainConfig {
  std::string dataset;   // "mnist", "fashion-mnist", "cifar10", "folder"
  std::string data_dir;  // where the data set was read (recorded so eval, predict and --resume find it)
  DatasetOptions data_options;  // --resize
  std::string model_name;       // a preset name or "custom"
  std::string spec;             // the model spec (a preset's expanded)
  Shape input_chw;
  Recipe recipe;  // epochs, batch size, optimizer, ... (preset defaults with overrides applied)
  uint64_t seed = 1;
  int64_t limit_train = 0;   // 0: the whole training set; else a seeded random subset of this size
  std::string pool_variant;  // "" or the --pool variant that rewrote the spec (recorded only)
  Device device;
  PoolImpl pool_impl = PoolImpl::Native;
  ConvImpl conv_impl = ConvImpl::Native;  // on CUDA: minicnn's im2col + cuBLAS, or cuDNN's convolutions
  bool allow_tf32 = false;                // on CUDA: TF32 tensor cores in matrix products and convolutions
  int threads = 0;               // 0: all cores
  int64_t checkpoint_every = 0;  // also checkpoint every N steps (0: at epoch ends only)
  /// Also measure the accuracy of up to 10,000 training images in Eval mode at each epoch's end
  /// (EpochMetrics::train_eval_accuracy), the figure comparable with the test accuracy.
  bool measure_train_accuracy = false;
  std::string out_dir;

  /// The fields that define the run's results (not where the data lies, device, threads or
  /// checkpointing), as JSON.
  std::string to_json() const;
  /// The other fields a run records so that `train --out DIR --resume` alone continues it as it was.
  std::string settings_json() const;
  /// The configuration recorded by to_json() and settings_json() (settings may be empty: older runs).
  static TrainConfig from_json(const std::string& config, const std::string& settings);
};

/// The result-defining fields in which `now` differs from `run` (a run's recorded configuration), each as
/// "optimizer: sgd in the run, adam now"; `epochs` is left out (resuming may extend a run).
std::vector<std::string> config_differences(const TrainConfig& run, const TrainConfig& now);

/// What a run is about to do, once every check has passed and before anything on disk changes.
struct TrainStart {
  const TrainConfig* config;
  std::string data_name;  // the data set's own name ("MNIST", a folder's name)
  int64_t train_images, test_images;
  int64_t batches_per_epoch;
  int64_t total_steps;               // of the whole run
  int64_t start_epoch, start_batch;  // numbered from 1; (1, 1) for a fresh run
  bool resumed;
  bool replaces_previous;  // --overwrite of a non-empty run directory
};

/// A training step finished.
struct BatchProgress {
  int64_t epoch, epochs;   // epoch numbered from 1
  int64_t batch, batches;  // batch numbered from 1
  double loss, accuracy;   // running means over this epoch so far
  double images_per_sec;   // this epoch so far
  double eta_seconds;      // for the rest of this epoch
};

struct TrainCallbacks {
  std::function<void(const TrainStart&)> on_start;
  std::function<void(const BatchProgress&)> on_batch;
  std::function<void(const EpochMetrics&, int64_t epochs)> on_epoch;
  std::function<void(const std::string&)> on_note;  // e.g. "no checkpoint in 'runs/a' yet: starting ..."
  /// Asked between steps; true stops the run (Ctrl-C): train() keeps a checkpoint of where it stands and
  /// returns with `interrupted` set.
  std::function<bool()> should_stop;
};

/// What to do with an existing run directory.
enum class RunDirPolicy { Fresh, Resume, Overwrite };

struct TrainResult {
  std::vector<EpochMetrics> history;
  double test_accuracy = 0, test_loss = 0;
  double test_accuracy_tta = -1;  // with the recipe's test-time augmentation; negative when it has none
  double train_images_per_sec = 0;
  double wall_seconds = 0;
  double peak_rss_mib = 0;
  bool already_finished = false;  // --resume found a finished run and did nothing
  bool interrupted = false;       // should_stop() asked the run to stop
  /// Where the kept checkpoint stands: epochs done, and batches done of the batches the next epoch runs
  /// (fewer than an epoch's in a last epoch cut short); all 0 with `has_checkpoint` false when the run
  /// stopped before it wrote one (an --overwrite then put the previous contents back).
  bool has_checkpoint = false;
  int64_t checkpoint_epochs = 0, checkpoint_batches = 0, checkpoint_epoch_batches = 0;
  std::string out_dir;
};

/// Trains `config` on `data`. Every check (configuration, model, classifier size, memory, run directory,
/// the configuration of a run to resume) happens before the run directory changes; an Overwrite moves the
/// previous contents aside and deletes them only once the new run has written its first file.
TrainResult train(const TrainConfig& config, const DatasetSplit& data, RunDirPolicy policy,
                  const TrainCallbacks& callbacks = {});

struct EvalResult {
  double loss = 0, accuracy = 0;
  int64_t correct = 0, count = 0;
  double images_per_sec = 0;
};

/// Mean loss and accuracy of `model` over `data` (or the images `subset` lists), normalised as given, in
/// Eval mode, with denormals flushed. With test-time augmentation (`tta` 1: the logits of each image and
/// its mirror, averaged; 2: also the mirror pairs shifted one pixel up-left and down-right from a
/// reflect-padded copy, weighing half as much together, as airbench94 evaluates) the loss is that of the
/// averaged logits.
EvalResult evaluate(Model& model, const ImageDataset& data, const Normalization& normalization,
                    int64_t batch_size = 128, const std::vector<int64_t>& subset = {}, int64_t tta = 0);

/// The views of test-time augmentation `level` and their weights: 0 the image; 1 the image and its mirror,
/// 1/2 each; 2 (airbench94's) those two at 1/4 each and the mirror pairs shifted one pixel up-left and
/// down-right from a reflect-padded copy at 1/8 each.
std::vector<std::pair<ImageView, float>> tta_views(int64_t level);
/// The logits of `images` (N, C, H, W, normalised, on any device) averaged over the views of TTA `level`,
/// in Eval mode, on the CPU; the views are made on the model's device.
Tensor tta_logits(Model& model, const Tensor& images, int64_t level);

/// Bytes a training step of `model` needs for a batch of `batch` images: parameters, gradients and the
/// optimizer's state, plus per image the layer outputs, what backward keeps and their gradients, plus the
/// convolutions' column buffers. `train` refuses to start when this exceeds the available memory.
double estimate_training_bytes(const Model& model, const Shape& input_chw, int64_t batch,
                               OptimizerKind optimizer);

/// Peak resident memory of this process in MiB.
double peak_rss_mib();

}  // namespace minicnn
