// `minicnn train` and `minicnn eval`: flags to a TrainConfig (or a recorded run's), the banner once every
// check has passed, the progress display, interruptions, the final figures.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include <minicnn/checkpoint.h>
#include <minicnn/image_io.h>
#include "interrupt.h"
#include <minicnn/optimizer_factory.h>
#include "progress.h"
#include <minicnn/registry.h>
#include <minicnn/run_dir.h>
#include <minicnn/runtime.h>
#include "train_flags.h"

namespace minicnn::cli {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxCount = int64_t{1} << 40;

void add_resize_option(CLI::App* cmd, std::optional<std::string>& resize) {
  cmd->add_option(
      "--resize", resize,
      "H,W: resize every image of --dataset folder to HxW (bilinear, pixel centres aligned as torch's "
      "align_corners=False, antialiased when shrinking); without it all images must have one size");
}

// The class-count adaptation of a preset's classifier, or "" when its size already fits.
std::string adapt_preset_classifier(TrainConfig& c, const Preset& preset, const DatasetSplit& data) {
  const int64_t classes = static_cast<int64_t>(data.train.classes.size());
  const std::string adapted = adapt_classifier(c.spec, classes);
  if (adapted == c.spec) return "";
  c.spec = adapted;
  return fmt::format("{}'s last Linear gives {} here, one per class of '{}' (the preset's has 10)",
                     preset.name, count_of(classes, "output"), data.train.name);
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() &&
      s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:=,") ==
          std::string::npos) {
    return s;
  }
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

}  // namespace

void TrainFlags::add_to(CLI::App* cmd, bool with_pool) {
  cmd->add_option("--dataset", dataset, "Data set: " + known_datasets())
      ->check(one_of({"mnist", "fashion-mnist", "cifar10", "folder"}));
  cmd->add_option(
      "--data", data,
      "Folder holding the data set's files (default: data/mnist for mnist, "
      "/usr/share/datasets/fashion-mnist for fashion-mnist; required for cifar10, the official "
      "cifar-10-batches-bin folder, and for folder, the one holding train/<class>/ and test/<class>/)");
  add_resize_option(cmd, resize);
  cmd->add_option("--model", model,
                  fmt::format("A preset ({}) or a spec in torch.nn syntax (default: mnist-cnn; cifar-cnn for "
                              "cifar10 and folder); "
                              "a preset's last Linear is sized to the data set's classes",
                              fmt::join(preset_names(), ", ")));
  if (with_pool) {
    cmd->add_option(
        "--pool", pool,
        "Replace every pooling layer with this variant: max{k}[s{s}][p{p}][d{d}][c] or avg{k}[s{s}][p{p}][c] "
        "(e.g. max2, max3s2p1, max2s1, avg2); the Linear after Flatten adapts to the new size. A layer that "
        "pools to 1x1 is the classifier's head and stays (airbench94: the three pools of its blocks change, "
        "its MaxPool2d(3) head does not)");
  }
  cmd->add_option("--epochs", epochs,
                  "Epochs to train (default: the preset's recipe); a fraction runs that share of the last epoch's "
                  "steps (9.9: ceil(9.9 x steps per epoch) steps)")
      ->check(number_in(0, 1e6, true));
  cmd->add_option("--batch-size", batch_size, "Images per training step (default: the preset's recipe)")
      ->check(integer_in(1, kMaxCount));
  cmd->add_option("--optimizer", optimizer, "sgd, adam or adamw (default: the preset's recipe)")
      ->check(one_of({"sgd", "adam", "adamw"}));
  cmd->add_option("--lr", lr, "Learning rate (default: the preset's recipe)")
      ->check(number_in(0, HUGE_VAL, true));
  cmd->add_option("--momentum", momentum,
                  "SGD momentum, 0 to 1 (default: the preset's recipe; Adam has none)")
      ->check(number_in(0, 1, false, true));
  cmd->add_option("--weight-decay", weight_decay, "Weight decay (default: the preset's recipe)")
      ->check(number_in(0, HUGE_VAL));
  cmd->add_option("--schedule", schedule,
                  "Learning-rate schedule: none, step or cosine (per epoch), or warmup-warmdown (per step: linear "
                  "from 0.2x to 1x over the first 23% of the steps, then down towards 0.07x)")
      ->check(one_of({"none", "step", "cosine", "warmup-warmdown"}));
  cmd->add_option("--augment", augment,
                  "Training augmentation: none, crop-flip (pad 4 zeros, random crop, random flip) or flip-translate "
                  "(each image flipped at random once and all flipped every second epoch; random shifts of up to "
                  "2 pixels from a reflect-padded copy)")
      ->check(one_of({"none", "crop-flip", "flip-translate"}));
  cmd->add_option("--nesterov", nesterov, "SGD with Nesterov momentum: true or false (default: the preset's)")
      ->check(true_or_false());
  cmd->add_option("--label-smoothing", label_smoothing,
                  "CrossEntropyLoss's label_smoothing, 0 to 1 (default: the preset's recipe)")
      ->check(number_in(0, 1));
  cmd->add_option("--drop-last", drop_last,
                  "Drop each epoch's last partial batch: true or false (default: the preset's recipe)")
      ->check(true_or_false());
  cmd->add_option("--tta", tta,
                  "Test-time augmentation of the final evaluation: 0 none, 1 the image and its mirror, 2 also "
                  "one-pixel shifts (summary.json's test_accuracy_tta; default: the preset's)")
      ->check(integer_in(0, 2));
  cmd->add_option("--seed", seed,
                  "Seed for initialisation, shuffling, augmentation and dropout, 0 to 2^64-1 (default: 1)")
      ->check(seed_value());
  cmd->add_option("--device", device, "cpu or cuda (default: cpu)")->check(one_of({"cpu", "cuda", "cuda:0"}));
  cmd->add_option("--pool-impl", pool_impl,
                  "Pooling kernels on CUDA: native (minicnn's, the default) or cudnn")
      ->check(one_of({"native", "cudnn"}));
  cmd->add_option(
         "--conv-impl", conv_impl,
         "Convolution kernels on CUDA: native (im2col and cuBLAS, the default) or cudnn (cuDNN's fastest "
         "deterministic algorithm per layer shape, found once)")
      ->check(one_of({"native", "cudnn"}));
  cmd->add_flag(
      "--allow-tf32", allow_tf32,
      "On CUDA, let matrix products and cuDNN convolutions round to TF32 on tensor cores (faster on "
      "Ampere and later, no longer float32's results; default off)");
  cmd->add_option("--threads", threads, "CPU threads (default 0: all cores)")->check(integer_in(0, 4096));
  cmd->add_option("--limit-train", limit_train, "Train on a seeded random subset of N training images")
      ->check(integer_in(1, kMaxCount));
}

void TrainFlags::fill_from(const TrainConfig& run) {
  if (!dataset) dataset = run.dataset;
  if (!data && !run.data_dir.empty()) data = run.data_dir;
  if (!resize && run.data_options.resize()) {
    resize = fmt::format("{},{}", run.data_options.resize_height, run.data_options.resize_width);
  }
  if (!device) device = run.device.str();
  if (!pool_impl) pool_impl = pool_impl_name(run.pool_impl);
  if (!conv_impl) conv_impl = conv_impl_name(run.conv_impl);
  allow_tf32 = allow_tf32 || run.allow_tf32;
  if (!threads) threads = run.threads;
}

const std::string& TrainFlags::dataset_name(const char* command) const {
  if (!dataset) {
    throw UsageError(
        fmt::format("{}: --dataset is required ({}), unless --resume names a run that records it", command,
                    known_datasets()));
  }
  return *dataset;
}

std::string TrainFlags::data_dir() const {
  if (data) return *data;
  const std::string& kind = dataset_name("train");
  if (kind == "mnist") return "data/mnist";
  if (kind == "fashion-mnist") return "/usr/share/datasets/fashion-mnist";
  std::string what;
  if (kind == "cifar10")
    what = " (the cifar-10-batches-bin folder holding data_batch_1.bin ... test_batch.bin)";
  if (kind == "folder") what = " (the folder holding train/<class>/ and test/<class>/)";
  throw UsageError("train: --data DIR is needed for --dataset " + kind + what);
}

DatasetOptions TrainFlags::dataset_options() const {
  DatasetOptions options;
  if (!resize || resize->empty()) return options;
  if (dataset_name("train") != "folder") {
    throw UsageError("--resize: applies to --dataset folder only, but got --dataset " + *dataset +
                     ", whose images have a fixed size");
  }
  const Shape hw = parse_shape(*resize, "--resize", {2});
  if (hw[0] < 1 || hw[1] < 1 || hw[0] > kMaxImageDimension || hw[1] > kMaxImageDimension) {
    throw UsageError(
        fmt::format("--resize: expected sizes of 1 to {}, but got '{}'", kMaxImageDimension, *resize));
  }
  options.resize_height = hw[0];
  options.resize_width = hw[1];
  return options;
}

TrainConfig TrainFlags::config(const DatasetSplit& data_split, const TrainConfig* run,
                               std::vector<std::string>* notes) const {
  TrainConfig c;
  c.dataset = dataset_name("train");
  c.data_dir = fs::absolute(data_dir()).lexically_normal().string();
  c.data_options = dataset_options();
  Recipe r;
  if (run && !model) {
    c.model_name = run->model_name;
    c.spec = run->spec;
    c.input_chw = run->input_chw;
    c.pool_variant = run->pool_variant;
    r = run->recipe;
  } else {
    const std::string name =
        model ? *model : (c.dataset == "cifar10" || c.dataset == "folder" ? "cifar-cnn" : "mnist-cnn");
    const Preset* preset = find_preset(name);
    c.model_name = preset ? preset->name : "custom";
    c.spec = preset ? preset->spec : name;
    c.input_chw = preset ? preset->input_chw
                         : Shape{data_split.train.channels, data_split.train.height, data_split.train.width};
    r = preset ? preset->recipe : (run ? run->recipe : Recipe{});
    if (preset) {
      if (const std::string note = adapt_preset_classifier(c, *preset, data_split); !note.empty() && notes) {
        notes->push_back(note);
      }
    }
  }
  if (!pool.empty()) {
    c.spec = apply_pool_variant(c.spec, parse_pool_variant(pool), &c.input_chw);
    c.pool_variant = pool;
  }
  if (epochs) r.epochs = *epochs;
  if (batch_size) r.batch_size = *batch_size;
  if (optimizer) r.optimizer = parse_optimizer(*optimizer);
  if (lr) r.lr = *lr;
  if (momentum) r.momentum = *momentum;
  if (weight_decay) r.weight_decay = *weight_decay;
  if (schedule) r.schedule = parse_schedule(*schedule);
  if (augment) r.augment = parse_augment(*augment);
  if (nesterov) r.nesterov = *nesterov;
  if (label_smoothing) r.label_smoothing = *label_smoothing;
  if (drop_last) r.drop_last = *drop_last;
  if (tta) r.tta = *tta;
  c.recipe = r;
  c.seed = seed.value_or(run ? run->seed : 1);
  c.limit_train = limit_train.value_or(run ? run->limit_train : 0);
  if (c.limit_train > data_split.train.size()) {
    throw UsageError(
        fmt::format("--limit-train: expected a count from 1 to {} (the training images of {}), but got {}",
                    data_split.train.size(), data_split.train.name, c.limit_train));
  }
  c.device = Device::parse(device.value_or("cpu"));
  c.pool_impl = parse_pool_impl(pool_impl.value_or("native"));
  c.conv_impl = parse_conv_impl(conv_impl.value_or("native"));
  c.allow_tf32 = allow_tf32;
  c.threads = threads.value_or(0);
  return c;
}

DatasetSplit load_flagged_dataset(const TrainFlags& flags, const char* command) {
  const std::string& kind = flags.dataset_name(command);
  return load_dataset(kind, flags.data_dir(), flags.dataset_options());
}

std::string describe_run(const TrainStart& s) {
  const TrainConfig& c = *s.config;
  const Recipe& r = c.recipe;
  std::string where = s.resumed ? fmt::format("resuming '{}' at epoch {}, batch {}: ", c.out_dir,
                                              s.start_epoch, s.start_batch)
                                : std::string();
  const std::string model =
      c.pool_variant.empty() ? c.model_name : fmt::format("{} with {} pooling", c.model_name, c.pool_variant);
  return fmt::format(
      "{}training {} on {} ({}, {} test) for {}: {}, batch {}, {}, {} augmentation{}; device {}, {}", where,
      model, s.data_name, count_of(s.train_images, "training image"), fmt::group_digits(s.test_images),
      count_of(r.epochs, "epoch"), describe_optimizer(r), r.batch_size, describe_schedule(r.schedule),
      r.augment == Augment::None ? "no" : augment_name(r.augment), describe_recipe_extras(r), c.device.str(),
      count_of(num_threads(), "thread"));
}

namespace {

struct TrainCommand {
  TrainFlags flags;
  std::optional<std::string> out;
  bool resume = false, overwrite = false;
  std::optional<int64_t> checkpoint_every;
};

std::string default_out(const TrainConfig& c) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  return "runs/" + c.dataset + "-" + c.model_name + "-" + stamp;
}

// The run an --out --resume continues, as recorded in its checkpoint; nullopt when there is none yet.
std::optional<TrainConfig> recorded_run(const std::string& out) {
  RunDirectory::recover(out);  // a killed --overwrite may have left the run aside
  const std::string path = (fs::path(out) / "model.safetensors").string();
  if (!fs::exists(path)) return std::nullopt;
  const Checkpoint ckpt = load_checkpoint(path);
  return TrainConfig::from_json(ckpt.meta.config_json, ckpt.meta.settings_json);
}

// The line an interrupted run ends with: what was kept and how to continue.
std::string interrupted_line(const TrainResult& r, const TrainConfig& config, bool replaced_previous) {
  const std::string resume = "minicnn train --out " + shell_quote(config.out_dir) + " --resume";
  if (r.has_checkpoint) {
    const std::string where = r.checkpoint_batches > 0
                                  ? fmt::format("epoch {}, batch {} of {}", r.checkpoint_epochs + 1,
                                                r.checkpoint_batches, r.checkpoint_epoch_batches)
                                  : fmt::format("the end of epoch {}", r.checkpoint_epochs);
    return fmt::format("interrupted; kept a checkpoint at {} in '{}'; continue with: {}", where,
                       config.out_dir, resume);
  }
  return fmt::format("interrupted before the run wrote its first checkpoint: nothing of it was kept{}",
                     replaced_previous
                         ? fmt::format(", and '{}' holds its previous contents again", config.out_dir)
                         : std::string());
}

void run_train(const TrainCommand& cmd) {
  if (cmd.resume && cmd.overwrite)
    throw UsageError("train: --resume and --overwrite exclude each other; pick one");
  if (cmd.resume && !cmd.out) throw UsageError("train: --resume needs --out RUN_DIR (the run to continue)");
  InterruptGuard interrupt;
  TrainFlags flags = cmd.flags;
  const std::optional<TrainConfig> run = cmd.resume ? recorded_run(*cmd.out) : std::nullopt;
  if (run) flags.fill_from(*run);
  require_device(Device::parse(flags.device.value_or("cpu")), "train");
  set_num_threads(flags.threads.value_or(0));
  const DatasetSplit data = load_flagged_dataset(flags, "train");
  std::vector<std::string> notes;
  TrainConfig config = flags.config(data, run ? &*run : nullptr, &notes);
  config.out_dir = cmd.out ? *cmd.out : default_out(config);
  config.checkpoint_every = cmd.checkpoint_every.value_or(run ? run->checkpoint_every : 0);
  if (InterruptGuard::requested()) {
    throw Interrupted(InterruptGuard::exit_code(),
                      "interrupted before training started; nothing was changed");
  }
  const RunDirPolicy policy =
      cmd.resume ? RunDirPolicy::Resume : (cmd.overwrite ? RunDirPolicy::Overwrite : RunDirPolicy::Fresh);
  ProgressDisplay display;
  TrainCallbacks callbacks = display.callbacks();
  bool replaced_previous = false;
  callbacks.on_start = [&](const TrainStart& s) {
    std::printf("%s\n", describe_run(s).c_str());
    for (const std::string& n : notes) std::printf("note: %s\n", n.c_str());
    const Lookahead& lookahead = s.config->recipe.lookahead;
    if (lookahead.every > s.total_steps) {
      // As in airbench94's own code: the model ends as the average, first taken after step `every`.
      std::printf(
          "note: the lookahead average is first taken after step %lld and the run ends with it, so this "
          "run of %s ends with its initial weights\n",
          static_cast<long long>(lookahead.every), count_of(s.total_steps, "step").c_str());
    }
    if (s.replaces_previous) {
      replaced_previous = true;
      std::printf(
          "note: replacing the contents of '%s' (kept until the new run has written its first file)\n",
          s.config->out_dir.c_str());
    }
    std::fflush(stdout);
  };
  long long steps = 0;
  const auto on_batch = callbacks.on_batch;
  callbacks.on_batch = [&](const BatchProgress& p) {
    on_batch(p);
    InterruptGuard::fault_step(++steps);
  };
  callbacks.should_stop = [] { return InterruptGuard::requested(); };
  const TrainResult r = train(config, data, policy, callbacks);
  if (r.interrupted)
    throw Interrupted(InterruptGuard::exit_code(), interrupted_line(r, config, replaced_previous));
  if (r.already_finished) {
    std::printf(
        "the run in '%s' has already finished (%s); nothing to do (a larger --epochs extends it)\n"
        "test accuracy: %.4f\n",
        config.out_dir.c_str(), count_of(config.recipe.epochs, "epoch").c_str(), r.test_accuracy);
    return;
  }
  std::printf("test accuracy: %.4f\n", r.test_accuracy);
  if (r.test_accuracy_tta >= 0) {
    std::printf("test accuracy with test-time augmentation level %lld: %.4f\n",
                static_cast<long long>(config.recipe.tta), r.test_accuracy_tta);
  }
  std::printf("run directory: %s (metrics.csv, summary.json, model.safetensors)\n", config.out_dir.c_str());
  std::printf("training speed: %.0f images/s, wall time %.1f s, peak memory %.0f MiB\n",
              r.train_images_per_sec, r.wall_seconds, r.peak_rss_mib);
}

struct EvalCommand {
  TrainFlags flags;  // --dataset, --data, --resize, --device, --threads
  std::string checkpoint;
  int64_t tta = 0;
};

void run_eval(const EvalCommand& cmd) {
  if (cmd.checkpoint.empty()) {
    throw UsageError(
        "eval: --checkpoint is required (a model.safetensors written by train, or its run directory)");
  }
  const Checkpoint ckpt = load_checkpoint(cmd.checkpoint);
  TrainFlags flags = cmd.flags;
  if (!flags.dataset) flags.dataset = ckpt.meta.dataset;
  if (*flags.dataset == ckpt.meta.dataset && !ckpt.meta.settings_json.empty()) {
    flags.fill_from(TrainConfig::from_json(ckpt.meta.config_json, ckpt.meta.settings_json));
  }
  flags.device = cmd.flags.device;  // eval runs where it is asked to, not where the run trained
  flags.threads = cmd.flags.threads;
  set_num_threads(flags.threads.value_or(0));
  const Device device = Device::parse(flags.device.value_or("cpu"));
  require_device(device, "eval");
  const DatasetSplit data = load_flagged_dataset(flags, "eval");
  Model model = model_from_checkpoint(ckpt);
  model.to(device);
  const Shape data_chw{data.test.channels, data.test.height, data.test.width};
  MINICNN_CHECK(data_chw == ckpt.meta.input_chw, "eval: the checkpoint's model expects images of shape ",
                ckpt.meta.input_chw, ", but the data set has ", data_chw,
                *flags.dataset == "folder" && !flags.resize && data_chw[0] == ckpt.meta.input_chw[0]
                    ? fmt::format("; pass --resize {},{} as in training", ckpt.meta.input_chw[1],
                                  ckpt.meta.input_chw[2])
                    : std::string());
  MINICNN_CHECK(data.test.classes.size() == ckpt.meta.classes.size(), "eval: the checkpoint's model tells ",
                ckpt.meta.classes.size(), " classes apart, but the data set '", data.test.name, "' has ",
                data.test.classes.size());
  const EvalResult r = evaluate(model, data.test, ckpt.meta.normalization, 128, {}, cmd.tta);
  std::printf("test accuracy: %.4f%s\ntest loss: %.4f\nimages: %lld (%lld correct), %.0f images/s\n",
              r.accuracy,
              cmd.tta > 0 ? fmt::format(" (test-time augmentation level {})", cmd.tta).c_str() : "", r.loss,
              static_cast<long long>(r.count), static_cast<long long>(r.correct), r.images_per_sec);
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto c = std::make_shared<TrainCommand>();
  auto* cmd =
      app.add_subcommand("train", "Train a model on a data set, with a progress bar; writes a run directory");
  c->flags.add_to(cmd);
  cmd->add_option("--out", c->out, "Run directory (default: runs/<dataset>-<model>-<date-time>)");
  cmd->add_flag(
      "--resume", c->resume,
      "Continue the run in --out from its last checkpoint with its recorded flags (a flag that would "
      "change its results is refused; a larger --epochs extends a finished run)");
  cmd->add_flag(
      "--overwrite", c->overwrite,
      "Replace the contents of a non-empty --out (they are kept until the new run writes its first file)");
  cmd->add_option("--checkpoint-every", c->checkpoint_every,
                  "Also save a checkpoint every N steps (default 0: epoch ends only)")
      ->check(integer_in(0, kMaxCount));
  cmd->callback([c] { run_train(*c); });
}

void add_eval_command(CLI::App& app) {
  auto c = std::make_shared<EvalCommand>();
  auto* cmd = app.add_subcommand("eval", "Evaluate a checkpoint on a data set's test split");
  cmd->add_option("--checkpoint", c->checkpoint,
                  "A model.safetensors written by train, or its run directory");
  cmd->add_option("--dataset", c->flags.dataset, "Data set (default: the one the checkpoint was trained on)")
      ->check(one_of({"mnist", "fashion-mnist", "cifar10", "folder"}));
  cmd->add_option("--data", c->flags.data,
                  "Folder holding the data set's files (default: the one the run read)");
  add_resize_option(cmd, c->flags.resize);
  cmd->add_option("--device", c->flags.device, "cpu or cuda (default: cpu)")
      ->check(one_of({"cpu", "cuda", "cuda:0"}));
  cmd->add_option("--threads", c->flags.threads, "CPU threads (default 0: all cores)")
      ->check(integer_in(0, 4096));
  add_tta_option(cmd, c->tta);
  cmd->callback([c] { run_eval(*c); });
}

}  // namespace minicnn::cli
