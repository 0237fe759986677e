// `minicnn train` and `minicnn eval`: flags to a TrainConfig, the progress display, the final figures.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "checkpoint.h"
#include "image_io.h"
#include "progress.h"
#include "registry.h"
#include "runtime.h"
#include "train_flags.h"

namespace minicnn::cli {
namespace {

void add_resize_option(CLI::App* cmd, std::string& resize) {
  cmd->add_option("--resize", resize,
                  "H,W: resize every image of --dataset folder to HxW (bilinear, pixel centres aligned as torch's "
                  "align_corners=False, antialiased when shrinking); without it all images must have one size");
}

}  // namespace

void TrainFlags::add_to(CLI::App* cmd, bool with_pool) {
  cmd->add_option("--dataset", dataset, "Data set: " + known_datasets())->required();
  cmd->add_option("--data", data,
                  "Folder holding the data set's files (default: data/mnist for mnist, "
                  "/usr/share/datasets/fashion-mnist for fashion-mnist; required for cifar10, the official "
                  "cifar-10-batches-bin folder, and for folder, the one holding train/<class>/ and test/<class>/)");
  add_resize_option(cmd, resize);
  cmd->add_option("--model", model, "A preset (mnist-cnn, lenet5, cifar-cnn) or a spec in torch.nn syntax (default: mnist-cnn; cifar-cnn "
                  "for cifar10 and folder)");
  if (with_pool) {
    cmd->add_option("--pool", pool,
                    "Replace every pooling layer with this variant: max{k}[s{s}][p{p}][d{d}][c] or avg{k}[s{s}][p{p}][c] "
                    "(e.g. max2, max3s2p1, max2s1, avg2); the Linear after Flatten adapts to the new size");
  }
  cmd->add_option("--epochs", epochs, "Epochs to train (default: the preset's recipe)");
  cmd->add_option("--batch-size", batch_size, "Images per training step (default: the preset's recipe)");
  cmd->add_option("--optimizer", optimizer, "sgd, adam or adamw (default: the preset's recipe)")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  cmd->add_option("--lr", lr, "Learning rate (default: the preset's recipe)");
  cmd->add_option("--momentum", momentum, "SGD momentum (default: the preset's recipe)");
  cmd->add_option("--weight-decay", weight_decay, "Weight decay (default: the preset's recipe)");
  cmd->add_option("--schedule", schedule, "Learning-rate schedule per epoch: none, step or cosine")
      ->check(CLI::IsMember({"none", "step", "cosine"}));
  cmd->add_option("--augment", augment, "Training augmentation: none or crop-flip (pad 4, random crop, flip)")
      ->check(CLI::IsMember({"none", "crop-flip"}));
  cmd->add_option("--seed", seed, "Seed for initialisation, shuffling, augmentation and dropout")->capture_default_str();
  cmd->add_option("--device", device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--pool-impl", pool_impl, "Pooling kernels on CUDA: native (minicnn's) or cudnn")
      ->check(CLI::IsMember({"native", "cudnn"}))
      ->capture_default_str();
  cmd->add_option("--threads", threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->add_option("--limit-train", limit_train, "Train on a seeded random subset of N training images");
}

std::string TrainFlags::data_dir() const {
  if (!data.empty()) return data;
  if (dataset == "mnist") return "data/mnist";
  if (dataset == "fashion-mnist") return "/usr/share/datasets/fashion-mnist";
  std::string what;
  if (dataset == "cifar10") what = " (the cifar-10-batches-bin folder holding data_batch_1.bin ... test_batch.bin)";
  if (dataset == "folder") what = " (the folder holding train/<class>/ and test/<class>/)";
  throw UsageError("train: --data DIR is needed for --dataset " + dataset + what);
}

DatasetOptions TrainFlags::dataset_options() const {
  DatasetOptions options;
  if (resize.empty()) return options;
  if (dataset != "folder") {
    throw UsageError("--resize: applies to --dataset folder only, but got --dataset " + dataset +
                     ", whose images have a fixed size");
  }
  const Shape hw = parse_shape(resize, "--resize", {2});
  if (hw[0] < 1 || hw[1] < 1 || hw[0] > kMaxImageDimension || hw[1] > kMaxImageDimension) {
    throw UsageError(fmt::format("--resize: expected sizes of 1 to {}, but got '{}'", kMaxImageDimension, resize));
  }
  options.resize_height = hw[0];
  options.resize_width = hw[1];
  return options;
}

TrainConfig TrainFlags::config(const DatasetSplit& data_split) const {
  TrainConfig c;
  c.dataset = dataset;
  const std::string name = !model.empty() ? model : (dataset == "cifar10" || dataset == "folder" ? "cifar-cnn" : "mnist-cnn");
  const Preset* preset = find_preset(name);
  c.model_name = preset ? preset->name : "custom";
  c.spec = preset ? preset->spec : name;
  if (!pool.empty()) {
    c.spec = apply_pool_variant(c.spec, parse_pool_variant(pool));
    c.pool_variant = pool;
  }
  c.input_chw = preset ? preset->input_chw
                       : Shape{data_split.train.channels, data_split.train.height, data_split.train.width};
  Recipe r = preset ? preset->recipe : Recipe{};
  if (epochs) r.epochs = *epochs;
  if (batch_size) r.batch_size = *batch_size;
  if (optimizer) r.optimizer = *optimizer;
  if (lr) r.lr = *lr;
  if (momentum) r.momentum = *momentum;
  if (weight_decay) r.weight_decay = *weight_decay;
  if (schedule) r.schedule = *schedule;
  if (augment) r.augment = *augment;
  c.recipe = r;
  c.seed = seed;
  c.limit_train = limit_train.value_or(0);
  if (limit_train && *limit_train <= 0) throw UsageError("--limit-train: expected a positive count");
  c.device = Device::parse(device);
  c.pool_impl = parse_pool_impl(pool_impl);
  c.threads = threads;
  if (threads < 0) throw UsageError("--threads: expected a count >= 0 (0: all cores)");
  return c;
}

namespace {

struct TrainCommand {
  TrainFlags flags;
  std::string out;
  bool resume = false, overwrite = false;
  int64_t checkpoint_every = 0;
};

std::string default_out(const TrainConfig& c) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  return "runs/" + c.dataset + "-" + c.model_name + "-" + stamp;
}

void run_train(const TrainCommand& cmd) {
  if (cmd.resume && cmd.overwrite) throw UsageError("train: --resume and --overwrite exclude each other; pick one");
  if (cmd.resume && cmd.out.empty()) throw UsageError("train: --resume needs --out RUN_DIR (the run to continue)");
  if (cmd.checkpoint_every < 0) throw UsageError("--checkpoint-every: expected a count of steps >= 0");
  require_device(Device::parse(cmd.flags.device), "train");
  set_num_threads(cmd.flags.threads);
  const DatasetOptions data_options = cmd.flags.dataset_options();
  const DatasetSplit data = load_dataset(cmd.flags.dataset, cmd.flags.data_dir(), data_options);
  TrainConfig config = cmd.flags.config(data);
  config.out_dir = cmd.out.empty() ? default_out(config) : cmd.out;
  config.checkpoint_every = cmd.checkpoint_every;
  const RunDirPolicy policy =
      cmd.resume ? RunDirPolicy::Resume : (cmd.overwrite ? RunDirPolicy::Overwrite : RunDirPolicy::Fresh);
  std::printf("training %s on %s (%lld training images, %lld test) for %lld epochs: %s lr %g, batch %lld, %s, "
              "device %s, %d threads\n",
              config.model_name.c_str(), data.train.name.c_str(),
              static_cast<long long>(config.limit_train ? config.limit_train : data.train.size()),
              static_cast<long long>(data.test.size()), static_cast<long long>(config.recipe.epochs),
              config.recipe.optimizer.c_str(), config.recipe.lr, static_cast<long long>(config.recipe.batch_size),
              config.recipe.schedule == "none" ? "constant lr" : (config.recipe.schedule + " schedule").c_str(),
              config.device.str().c_str(), num_threads());
  std::fflush(stdout);
  ProgressDisplay display;
  const TrainResult r = train(config, data, policy, display.callbacks());
  if (r.already_finished) {
    std::printf("the run in '%s' already finished all its epochs; nothing to do\ntest accuracy: %.4f\n",
                config.out_dir.c_str(), r.test_accuracy);
    return;
  }
  std::printf("test accuracy: %.4f\n", r.test_accuracy);
  std::printf("run directory: %s (metrics.csv, summary.json, model.safetensors)\n", config.out_dir.c_str());
  std::printf("training speed: %.0f images/s, wall time %.1f s, peak memory %.0f MiB\n", r.train_images_per_sec,
              r.wall_seconds, r.peak_rss_mib);
}

struct EvalCommand {
  std::string checkpoint, dataset, data, resize, device = "cpu";
  int threads = 0;
};

void run_eval(const EvalCommand& cmd) {
  set_num_threads(cmd.threads);
  const Device device = Device::parse(cmd.device);
  require_device(device, "eval");
  const Checkpoint ckpt = load_checkpoint(cmd.checkpoint);
  const std::string kind = cmd.dataset.empty() ? ckpt.meta.dataset : cmd.dataset;
  TrainFlags flags;
  flags.dataset = kind;
  flags.data = cmd.data;
  flags.resize = cmd.resize;
  const DatasetSplit data = load_dataset(kind, flags.data_dir(), flags.dataset_options());
  Model model = model_from_checkpoint(ckpt);
  model.to(device);
  const Shape data_chw{data.test.channels, data.test.height, data.test.width};
  MINICNN_CHECK(data_chw == ckpt.meta.input_chw, "eval: the checkpoint's model expects images of shape ",
                ckpt.meta.input_chw, ", but the data set has ", data_chw,
                kind == "folder" && cmd.resize.empty() && data_chw[0] == ckpt.meta.input_chw[0]
                    ? fmt::format("; pass --resize {},{} as in training", ckpt.meta.input_chw[1], ckpt.meta.input_chw[2])
                    : std::string());
  const EvalResult r = evaluate(model, data.test, ckpt.meta.normalization);
  std::printf("test accuracy: %.4f\ntest loss: %.4f\nimages: %lld (%lld correct), %.0f images/s\n", r.accuracy, r.loss,
              static_cast<long long>(r.count), static_cast<long long>(r.correct), r.images_per_sec);
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto c = std::make_shared<TrainCommand>();
  auto* cmd = app.add_subcommand("train", "Train a model on a data set, with a progress bar; writes a run directory");
  c->flags.add_to(cmd);
  cmd->add_option("--out", c->out, "Run directory (default: runs/<dataset>-<model>-<date-time>)");
  cmd->add_flag("--resume", c->resume, "Continue the run in --out from its last checkpoint");
  cmd->add_flag("--overwrite", c->overwrite, "Replace the contents of a non-empty --out");
  cmd->add_option("--checkpoint-every", c->checkpoint_every, "Also save a checkpoint every N steps (0: epoch ends only)")
      ->capture_default_str();
  cmd->callback([c] { run_train(*c); });
}

void add_eval_command(CLI::App& app) {
  auto c = std::make_shared<EvalCommand>();
  auto* cmd = app.add_subcommand("eval", "Evaluate a checkpoint on a data set's test split");
  cmd->add_option("--checkpoint", c->checkpoint, "A model.safetensors written by train")->required();
  cmd->add_option("--dataset", c->dataset, "Data set (default: the one the checkpoint was trained on)");
  cmd->add_option("--data", c->data, "Folder holding the data set's files");
  add_resize_option(cmd, c->resize);
  cmd->add_option("--device", c->device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--threads", c->threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->callback([c] { run_eval(*c); });
}

}  // namespace minicnn::cli
