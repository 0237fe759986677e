// The training loop, evaluation, the run directory (metrics.csv, summary.json, model.safetensors) and resumption.
#include "trainer.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "check.h"
#include "checkpoint.h"
#include "file_io.h"
#include "loader.h"
#include "loss.h"
#include "lr_scheduler.h"
#include "optimizer.h"
#include "registry.h"
#include "runtime.h"

namespace minicnn {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

uint64_t step_seed(uint64_t seed, int64_t step) {
  uint64_t z = seed * 0xD1B54A32D192ED03ull + static_cast<uint64_t>(step) + 1;
  z = (z ^ (z >> 31)) * 0x9E3779B97F4A7C15ull;
  return z ^ (z >> 29);
}

json metrics_to_json(const EpochMetrics& m) {
  return {{"epoch", m.epoch},       {"train_loss", m.train_loss}, {"train_accuracy", m.train_accuracy},
          {"test_loss", m.test_loss}, {"test_accuracy", m.test_accuracy}, {"lr", m.lr},
          {"seconds", m.seconds},   {"images_per_sec", m.images_per_sec}};
}

EpochMetrics metrics_from_json(const json& j) {
  return {j.at("epoch").get<int64_t>(),         j.at("train_loss").get<double>(),
          j.at("train_accuracy").get<double>(), j.at("test_loss").get<double>(),
          j.at("test_accuracy").get<double>(),  j.at("lr").get<double>(),
          j.at("seconds").get<double>(),        j.at("images_per_sec").get<double>()};
}

std::string metrics_csv(const std::vector<EpochMetrics>& history) {
  std::string out = "epoch,train_loss,train_accuracy,test_loss,test_accuracy,lr,seconds,images_per_sec\n";
  for (const auto& m : history) {
    out += fmt::format("{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6g},{:.3f},{:.1f}\n", m.epoch, m.train_loss,
                       m.train_accuracy, m.test_loss, m.test_accuracy, m.lr, m.seconds, m.images_per_sec);
  }
  return out;
}

// The first parameter whose gradient holds a NaN or infinity, as "layer 3 (Conv2d), 3.weight". A sum
// of the values is non-finite exactly when some value is, so the check is one pass without copies.
std::string first_non_finite_gradient(Model& model) {
  for (size_t i = 0; i < model.size(); ++i) {
    for (Parameter* p : model.layer(i).parameters()) {
      const Tensor g = p->grad.to(Device::cpu());
      const float* v = g.data();
      const int64_t n = g.numel();
      // 0*x is NaN exactly for NaN and +-inf, so the sum is finite exactly when every element is, in any
      // order: vector lanes and threads may add in their own (a serial chain cost 3% of a training step).
      float sum = 0.0f;
#pragma omp parallel for simd reduction(+ : sum) schedule(static) if (n > 65536)
      for (int64_t k = 0; k < n; ++k) sum += v[k] * 0.0f;
      if (!std::isfinite(sum)) return fmt::format("layer {} ({}), {}.{}", i, model.layer(i).type_name(), i, p->name);
    }
  }
  return "";
}

void prepare_run_dir(const std::string& dir, RunDirPolicy policy) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    detail::throw_error(fmt::format("train: --out '{}' exists and is not a directory", dir));
  }
  const bool non_empty = fs::exists(dir, ec) && !fs::is_empty(dir, ec);
  if (non_empty && policy == RunDirPolicy::Fresh) {
    detail::throw_error(fmt::format(
        "train: run directory '{}' is not empty; pass --resume to continue that run or --overwrite to replace it", dir));
  }
  if (non_empty && policy == RunDirPolicy::Overwrite) {
    for (const auto& entry : fs::directory_iterator(dir)) fs::remove_all(entry.path());
  }
  fs::create_directories(dir, ec);
  MINICNN_CHECK(!ec && fs::is_directory(dir), "train: cannot create the run directory '", dir, "': ", ec.message());
  // Find an unwritable or full disk now, not after the first epoch.
  const std::string probe = (fs::path(dir) / ".write-probe").string();
  try {
    write_file_atomic(probe, std::string(1 << 20, '\0'), "train");
  } catch (const Error& e) {
    detail::throw_error(fmt::format("train: cannot write to the run directory '{}' ({}); free space or choose another --out",
                                    dir, e.what()));
  }
  fs::remove(probe, ec);
}

// MemAvailable from /proc/meminfo in bytes, or 0 when it cannot be read.
double available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024.0;
  }
  return 0;
}

std::string gib(double bytes) { return fmt::format("{:.1f} GiB", bytes / (1024.0 * 1024.0 * 1024.0)); }

}  // namespace

std::vector<EpochMetrics> history_from_json(const std::string& text) {
  std::vector<EpochMetrics> history;
  for (const auto& j : json::parse(text)) history.push_back(metrics_from_json(j));
  return history;
}

double estimate_training_bytes(const Model& model, const Shape& input_chw, int64_t batch, const std::string& optimizer) {
  // Parameters with their gradients and optimizer state.
  int64_t params = 0;
  for (size_t i = 0; i < model.size(); ++i) {
    for (Parameter* p : const_cast<Layer&>(model.layer(i)).parameters()) params += p->value.numel();
  }
  const double state = optimizer == "sgd" ? 1 : 2;
  double bytes = static_cast<double>(params) * 4.0 * (2.0 + state);
  // Activations: each layer's output, what backward keeps of it and a gradient of the same size, per image;
  // plus the convolutions' column buffers (per thread, 2 per backward).
  double per_image = static_cast<double>(input_chw.numel()) * 4.0;
  double columns = 0;
  Shape in({1, input_chw[0], input_chw[1], input_chw[2]});
  for (const LayerSummary& row : model.summary_rows(input_chw)) {
    per_image += 3.0 * static_cast<double>(row.activation_bytes);
    if (auto w = model.layer(static_cast<size_t>(row.index)).window(); w && row.output_shape.rank() == 4 && in.rank() == 4) {
      columns = std::max(columns, 2.0 * static_cast<double>(in[1] * w->KH * w->KW * row.output_shape[2] * row.output_shape[3]) * 4.0);
    }
    in = row.output_shape;
  }
  return bytes + per_image * static_cast<double>(batch) + columns * num_threads();
}

std::string TrainConfig::to_json() const {
  return json{{"dataset", dataset},
              {"model", model_name},
              {"spec", spec},
              {"input_shape", input_chw.dims()},
              {"optimizer", recipe.optimizer},
              {"lr", recipe.lr},
              {"momentum", recipe.momentum},
              {"weight_decay", recipe.weight_decay},
              {"schedule", recipe.schedule},
              {"augment", recipe.augment},
              {"batch_size", recipe.batch_size},
              {"epochs", recipe.epochs},
              {"seed", seed},
              {"limit_train", limit_train},
              {"pool", pool_variant}}
      .dump();
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

EvalResult evaluate(Model& model, const ImageDataset& data, const Normalization& normalization, int64_t batch_size) {
  LoaderOptions options;
  options.batch_size = batch_size;
  options.normalization = normalization;
  DataLoader loader(data, options);
  CrossEntropyLoss loss;
  EvalResult r;
  double loss_sum = 0;
  const auto start = Clock::now();
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    const Batch batch = loader.batch(b);
    const Tensor logits = model.forward(batch.images.to(model.device()), Mode::Eval);
    const LossResult lr = loss.forward(logits, batch.labels.to(model.device()));
    loss_sum += lr.loss * static_cast<double>(batch.size);
    r.correct += lr.correct;
    r.count += batch.size;
  }
  const double seconds = seconds_since(start);
  r.loss = loss_sum / static_cast<double>(r.count);
  r.accuracy = static_cast<double>(r.correct) / static_cast<double>(r.count);
  r.images_per_sec = seconds > 0 ? static_cast<double>(r.count) / seconds : 0;
  return r;
}

TrainResult train(const TrainConfig& config, const DatasetSplit& data, RunDirPolicy policy,
                  const TrainCallbacks& callbacks) {
  const auto wall_start = Clock::now();
  const Recipe& recipe = config.recipe;
  MINICNN_CHECK(recipe.epochs > 0, "train: --epochs should be positive, but got ", recipe.epochs);
  MINICNN_CHECK(recipe.batch_size > 0, "train: --batch-size should be positive, but got ", recipe.batch_size);
  MINICNN_CHECK(recipe.lr > 0, "train: --lr should be positive, but got ", recipe.lr);
  const Shape data_chw{data.train.channels, data.train.height, data.train.width};
  MINICNN_CHECK(data_chw == config.input_chw, "train: the model expects images of shape ", config.input_chw,
                " (C, H, W), but the data set '", data.train.name, "' has ", data_chw);
  auto note = [&](const std::string& text) {
    if (callbacks.on_note) callbacks.on_note(text);
  };

  TrainResult result;
  result.out_dir = config.out_dir;
  const fs::path dir(config.out_dir);
  const std::string ckpt_path = (dir / "model.safetensors").string();

  std::optional<Checkpoint> resume_from;
  if (policy == RunDirPolicy::Resume && fs::exists(ckpt_path)) {
    resume_from = load_checkpoint(ckpt_path);
    MINICNN_CHECK(resume_from->meta.config_json == config.to_json(), "train: --resume found a run in '", config.out_dir,
                  "' trained with another configuration (", resume_from->meta.config_json,
                  "); give the same flags or choose another --out");
    if (resume_from->state.finished) {
      result.already_finished = true;
      result.history = history_from_json(resume_from->meta.history_json);
      if (!result.history.empty()) {
        result.test_accuracy = result.history.back().test_accuracy;
        result.test_loss = result.history.back().test_loss;
      }
      return result;
    }
  } else if (policy == RunDirPolicy::Resume) {
    note(fmt::format("no checkpoint in '{}' yet: starting the run from the beginning", config.out_dir));
  }
  prepare_run_dir(config.out_dir, resume_from ? RunDirPolicy::Resume : policy);
  set_num_threads(config.threads);

  // Model, optimizer, schedule.
  const Normalization normalization = compute_normalization(data.train);
  Model model = parse_model(config.spec);
  model.build(config.input_chw, config.seed);
  set_pool_impl(model, config.pool_impl);
  model.to(config.device);
  if (config.device.is_cpu()) {
    const int64_t batch = std::min<int64_t>(recipe.batch_size, config.limit_train > 0 ? config.limit_train : data.train.size());
    const double need = estimate_training_bytes(model, config.input_chw, batch, recipe.optimizer);
    const double have = available_memory_bytes();
    if (have > 0 && need > have) {
      const double per_image = (estimate_training_bytes(model, config.input_chw, 2, recipe.optimizer) -
                                estimate_training_bytes(model, config.input_chw, 1, recipe.optimizer));
      const double fixed = need - per_image * static_cast<double>(batch);
      const int64_t fits = per_image > 0 && have > fixed ? static_cast<int64_t>((have - fixed) / per_image) : 0;
      detail::throw_error(fmt::format(
          "train: training {} with batch size {} needs about {} of memory ({} for parameters, gradients and optimizer "
          "state, {} per image of the batch), but only {} is available; {}",
          config.model_name, batch, gib(need), gib(fixed), fmt::format("{:.1f} MiB", per_image / (1024.0 * 1024.0)), gib(have),
          fits > 0 ? fmt::format("use --batch-size {} or less", fits) : std::string("choose a smaller model")));
    }
  }
  std::unique_ptr<Optimizer> optimizer = make_optimizer(recipe, model.parameters());
  optimizer->to(config.device);
  const std::unique_ptr<LRScheduler> schedule = make_scheduler(recipe.schedule, recipe.lr, recipe.epochs);

  TrainState state;
  std::vector<EpochMetrics> history;
  if (resume_from) {
    load_weights(model, *resume_from, optimizer.get());
    state = resume_from->state;
    history = history_from_json(resume_from->meta.history_json);
    note(fmt::format("resuming '{}' at epoch {}, batch {}", config.out_dir, state.epochs_done + 1, state.step_in_epoch + 1));
  }

  CheckpointMeta meta;
  meta.spec = model_to_spec(model);
  meta.model_name = config.model_name;
  meta.input_chw = config.input_chw;
  meta.normalization = normalization;
  meta.dataset = config.dataset;
  meta.classes = data.train.classes;
  meta.config_json = config.to_json();

  auto history_json = [&] {
    json h = json::array();
    for (const auto& m : history) h.push_back(metrics_to_json(m));
    return h.dump();
  };
  auto save = [&] {
    meta.history_json = history_json();
    TrainState s = state;
    s.wall_seconds += seconds_since(wall_start);
    save_checkpoint(ckpt_path, model, optimizer.get(), meta, s);
  };

  LoaderOptions options;
  options.batch_size = recipe.batch_size;
  options.shuffle = true;
  options.seed = config.seed;
  options.augment = parse_augment(recipe.augment);
  options.normalization = normalization;
  std::vector<int64_t> subset;
  if (config.limit_train > 0) subset = random_subset(data.train.size(), config.limit_train, config.seed);
  DataLoader loader(data.train, options, subset);
  const int64_t batches = loader.num_batches();
  CrossEntropyLoss loss;

  for (int64_t epoch = state.epochs_done; epoch < recipe.epochs; ++epoch) {
    const double lr = schedule->lr_at(epoch);
    optimizer->set_lr(lr);
    loader.set_epoch(epoch);
    for (int64_t b = state.step_in_epoch; b < batches; ++b) {
      const auto step_start = Clock::now();
      const Batch batch = loader.batch(b);
      const Tensor x = batch.images.to(config.device), y = batch.labels.to(config.device);
      model.reseed(step_seed(config.seed, state.global_step));
      const Tensor logits = model.forward(x, Mode::Train);
      const LossResult r = loss.forward(logits, y);
      if (!std::isfinite(r.loss)) {
        detail::throw_error(fmt::format(
            "train: the loss became {} at step {} (epoch {}, batch {}); the last good checkpoint is kept in '{}'; "
            "try a lower learning rate than {}",
            r.loss, state.global_step + 1, epoch + 1, b + 1, ckpt_path, lr));
      }
      optimizer->zero_grad();
      model.backward(loss.backward());
      if (const std::string bad = first_non_finite_gradient(model); !bad.empty()) {
        detail::throw_error(fmt::format(
            "train: the gradient of {} became NaN or infinite at step {} (epoch {}, batch {}); the last good "
            "checkpoint is kept in '{}'; try a lower learning rate than {}",
            bad, state.global_step + 1, epoch + 1, b + 1, ckpt_path, lr));
      }
      optimizer->step();
      const double step_seconds = seconds_since(step_start);
      state.epoch_train_seconds += step_seconds;
      state.total_train_seconds += step_seconds;
      state.total_train_images += batch.size;
      state.epoch_loss_sum += r.loss * static_cast<double>(batch.size);
      state.epoch_correct += r.correct;
      state.epoch_seen += batch.size;
      state.step_in_epoch = b + 1;
      ++state.global_step;
      if (callbacks.on_batch) {
        const double ips = static_cast<double>(state.epoch_seen) / std::max(state.epoch_train_seconds, 1e-9);
        const int64_t remaining = loader.size() - std::min(loader.size(), (b + 1) * recipe.batch_size);
        callbacks.on_batch({epoch + 1, recipe.epochs, b + 1, batches,
                            state.epoch_loss_sum / static_cast<double>(state.epoch_seen),
                            static_cast<double>(state.epoch_correct) / static_cast<double>(state.epoch_seen), ips,
                            static_cast<double>(remaining) / ips});
      }
      if (config.checkpoint_every > 0 && state.global_step % config.checkpoint_every == 0 && b + 1 < batches) save();
    }
    const EvalResult test = evaluate(model, data.test, normalization);
    const EpochMetrics m{epoch + 1,
                         state.epoch_loss_sum / static_cast<double>(state.epoch_seen),
                         static_cast<double>(state.epoch_correct) / static_cast<double>(state.epoch_seen),
                         test.loss,
                         test.accuracy,
                         lr,
                         state.epoch_train_seconds,
                         static_cast<double>(state.epoch_seen) / std::max(state.epoch_train_seconds, 1e-9)};
    history.push_back(m);
    state.epochs_done = epoch + 1;
    state.step_in_epoch = 0;
    state.epoch_loss_sum = 0;
    state.epoch_correct = 0;
    state.epoch_seen = 0;
    state.epoch_train_seconds = 0;
    state.finished = state.epochs_done == recipe.epochs;
    // metrics.csv and summary.json first, the checkpoint last: a run killed in between redoes the epoch
    // when resumed (and rewrites them with the same figures); the other order would leave a finished
    // checkpoint beside a metrics.csv without its last epoch, and --resume would find nothing to do.
    write_file_atomic((dir / "metrics.csv").string(), metrics_csv(history), "train");

    result.history = history;
    result.test_accuracy = m.test_accuracy;
    result.test_loss = m.test_loss;
    result.train_images_per_sec =
        static_cast<double>(state.total_train_images) / std::max(state.total_train_seconds, 1e-9);
    result.wall_seconds = state.wall_seconds + seconds_since(wall_start);
    result.peak_rss_mib = peak_rss_mib();
    const json summary = {{"dataset", config.dataset},
                          {"model", config.model_name},
                          {"spec", meta.spec},
                          {"parameters", model.num_parameters()},
                          {"epochs", state.epochs_done},
                          {"epochs_planned", recipe.epochs},
                          {"finished", state.finished},
                          {"test_accuracy", m.test_accuracy},
                          {"test_loss", m.test_loss},
                          {"train_accuracy", m.train_accuracy},
                          {"train_loss", m.train_loss},
                          {"train_images_per_sec", result.train_images_per_sec},
                          {"eval_images_per_sec", test.images_per_sec},
                          {"wall_seconds", result.wall_seconds},
                          {"peak_rss_mib", result.peak_rss_mib},
                          {"seed", config.seed},
                          {"device", config.device.str()},
                          {"threads", num_threads()},
                          {"limit_train", config.limit_train},
                          {"pool", config.pool_variant},
                          {"recipe",
                           {{"optimizer", recipe.optimizer},
                            {"lr", recipe.lr},
                            {"momentum", recipe.momentum},
                            {"weight_decay", recipe.weight_decay},
                            {"schedule", recipe.schedule},
                            {"augment", recipe.augment},
                            {"batch_size", recipe.batch_size}}}};
    write_file_atomic((dir / "summary.json").string(), summary.dump(2) + "\n", "train");
    save();
    if (callbacks.on_epoch) callbacks.on_epoch(m, recipe.epochs);
  }
  return result;
}

}  // namespace minicnn
