// The training run: checks first, then the loop of steps and epochs, the run directory's files and the
// checkpoints that make a run resumable; evaluation.
#include <minicnn/trainer.h>

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include <minicnn/check.h>
#include <minicnn/checkpoint.h>
#include <minicnn/file_io.h>
#include <minicnn/loader.h>
#include <minicnn/lookahead.h>
#include <minicnn/loss.h>
#include <minicnn/mix.h>
#include <minicnn/optimizer_factory.h>
#include <minicnn/parameter_rules.h>
#include <minicnn/registry.h>
#include <minicnn/run_dir.h>
#include <minicnn/runtime.h>
#include <minicnn/training_memory.h>
#include <minicnn/whitening.h>
#include "recipe_json.h"

namespace minicnn {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// How many training images the Eval-mode train accuracy reads (as many as a test set of 10,000).
constexpr int64_t kTrainEvalImages = 10000;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// The SplitMix64 stream the per-step Dropout seeds come from: a number above any the loader hashes with the
// same seed (epochs, 0x5b5e7, 0x100000 + epoch), so the two never draw the same value.
constexpr uint64_t kStepSeedStream = uint64_t{1} << 40;

// Step `step`'s Dropout seed, a hash of (seed, step): a resumed run draws the masks of an uninterrupted one.
uint64_t step_seed(uint64_t seed, int64_t step) {
  return splitmix64(splitmix64(seed, kStepSeedStream), static_cast<uint64_t>(step));
}

// The first parameter whose gradient holds a NaN or infinity, as "layer 3 (Conv2d), 3.weight".
std::string first_non_finite_gradient(Model& model) {
  std::vector<const Tensor*> grads;
  std::vector<std::pair<size_t, const Parameter*>> owners;  // (layer, parameter) of each gradient
  for (size_t i = 0; i < model.size(); ++i) {
    for (const Parameter* p : model.layer(i).parameters()) {
      grads.push_back(&p->grad);
      owners.emplace_back(i, p);
    }
  }
  const int64_t bad = first_non_finite(grads);
  if (bad < 0) return "";
  const auto [i, p] = owners[static_cast<size_t>(bad)];
  return fmt::format("layer {} ({}), {}.{}", i, model.layer(i).type_name(), i, p->name);
}

void check_recipe(const TrainConfig& config, const DatasetSplit& data) {
  const Recipe& recipe = config.recipe;
  MINICNN_CHECK(config.conv_impl == ConvImpl::Native || config.device.is_cuda(),
                "train: --conv-impl cudnn runs on CUDA only, but the device is ", config.device.str(),
                "; add --device cuda or use --conv-impl native");
  MINICNN_CHECK(!config.allow_tf32 || config.device.is_cuda(),
                "train: --allow-tf32 applies on CUDA only, but the ", "device is ", config.device.str(),
                "; add --device cuda or leave it out");
  MINICNN_CHECK(recipe.epochs > 0, "train: --epochs should be positive, but got ", recipe.epochs);
  MINICNN_CHECK(recipe.batch_size > 0, "train: --batch-size should be positive, but got ", recipe.batch_size);
  MINICNN_CHECK(recipe.lr > 0, "train: --lr should be positive, but got ", recipe.lr);
  MINICNN_CHECK(!recipe.nesterov || recipe.optimizer == OptimizerKind::SGD,
                "train: --nesterov applies to SGD (torch.optim.SGD's nesterov), but the optimizer is ",
                optimizer_name(recipe.optimizer), "; leave --nesterov out or use --optimizer sgd");
  const int64_t images = config.limit_train > 0 ? config.limit_train : data.train.size();
  MINICNN_CHECK(!recipe.drop_last || recipe.batch_size <= images, "train: --batch-size ", recipe.batch_size,
                " is larger than the ", images, " training images, and the recipe drops the last partial batch, ",
                "so no step would run; use a batch of at most ", images);
  MINICNN_CHECK(config.limit_train >= 0 && config.limit_train <= data.train.size(),
                "train: --limit-train should be ", "a count from 1 to ", data.train.size(),
                " (the training images of ", data.train.name, "), but got ", config.limit_train);
  const Shape data_chw{data.train.channels, data.train.height, data.train.width};
  // Checked now rather than when the final evaluation reaches view_images, after the whole run (only level
  // 2's one-pixel reflecting shifts can fail).
  for (const auto& [view, weight] : tta_views(recipe.tta)) {
    MINICNN_CHECK(
        view_fits(view, data.test.height, data.test.width), "train: --tta ", recipe.tta,
        " also reads each test image shifted by one pixel with reflect padding, which needs images of "
        "at least 2x2, but the data set '",
        data.test.name, "' has ", data.test.height, "x", data.test.width, " images");
  }
  MINICNN_CHECK(data_chw == config.input_chw, "train: the model expects images of shape ", config.input_chw,
                " (C, H, W), but the data set '", data.train.name, "' has ", data_chw);
}

// The checkpoint a Resume continues from, after refusing a command that would not continue the same
// run; nullopt when there is none yet (the run starts from the beginning).
std::optional<Checkpoint> checkpoint_to_resume(const TrainConfig& config, const std::string& path) {
  if (!fs::exists(path)) return std::nullopt;
  Checkpoint ckpt = load_checkpoint(path);
  const TrainConfig run = TrainConfig::from_json(ckpt.meta.config_json, ckpt.meta.settings_json);
  const std::vector<std::string> differences = config_differences(run, config);
  MINICNN_CHECK(differences.empty(), "train: --resume found a run in '", config.out_dir,
                "' trained with another configuration (", fmt::format("{}", fmt::join(differences, "; ")),
                "); leave those flags out to continue it, or choose another --out");
  const int64_t done = ckpt.state.epochs_done;
  const double wanted = config.recipe.epochs;
  const auto epochs = [](double n) { return fmt::format("{:g} epoch{}", n, n == 1 ? "" : "s"); };
  MINICNN_CHECK(wanted >= done, "train: --epochs ", wanted, " is fewer than the ", epochs(done),
                " the run in '", config.out_dir, "' has done; give --epochs ", done, " or more");
  MINICNN_CHECK(wanted <= run.recipe.epochs || schedule_extends(run.recipe, wanted), "train: --epochs ",
                wanted, " would extend the run in '", config.out_dir, "', planned for ",
                epochs(run.recipe.epochs), ", but its ", schedule_name(run.recipe.schedule),
                " schedule set the learning rate of every epoch from that number, so the epochs already done "
                "would not be those of a ",
                wanted, "-epoch run; start a new run with --epochs ", wanted,
                " (a run with --schedule none or step can be extended later)");
  return ckpt;
}

TrainResult finished_result(const Checkpoint& ckpt, const std::string& out_dir) {
  TrainResult result;
  result.out_dir = out_dir;
  result.already_finished = true;
  result.history = history_from_json(ckpt.meta.history_json);
  result.has_checkpoint = true;
  result.checkpoint_epochs = ckpt.state.epochs_done;
  if (!result.history.empty()) {
    result.test_accuracy = result.history.back().test_accuracy;
    result.test_loss = result.history.back().test_loss;
  }
  return result;
}

// Everything a run holds while it trains.
struct Session {
  const TrainConfig& config;
  const DatasetSplit& data;
  const TrainCallbacks& callbacks;
  Clock::time_point wall_start;
  std::string checkpoint_path;
  Normalization normalization;
  Model model;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<LRScheduler> schedule;
  std::unique_ptr<DataLoader> loader;
  int64_t epochs = 0;       // epochs that run, the last one possibly cut short
  int64_t total_steps = 0;  // ceil(batches per epoch * recipe.epochs)
  std::vector<double> base_lr;  // each optimizer group's lr before the schedule
  std::unique_ptr<LookaheadAverage> lookahead;
  std::vector<int64_t> train_eval_subset;  // the images of the Eval-mode train accuracy (when measured)
  CrossEntropyLoss loss;
  TrainState state;
  std::vector<EpochMetrics> history;
  CheckpointMeta meta;
  std::unique_ptr<RunDirectory> dir;
  int64_t saved_step = -1;  // global_step of the last checkpoint this run holds (-1: none)
  TrainResult result;

  Session(const TrainConfig& c, const DatasetSplit& d, const TrainCallbacks& cb)
      : config(c),
        data(d),
        callbacks(cb),
        wall_start(Clock::now()),
        checkpoint_path((fs::path(c.out_dir) / "model.safetensors").string()),
        loss(CrossEntropyLossOptions()
                 .label_smoothing(static_cast<float>(c.recipe.label_smoothing))
                 .reduction(c.recipe.sum_loss ? CrossEntropyLossOptions::Reduction::Sum
                                              : CrossEntropyLossOptions::Reduction::Mean)) {}

  ExtraState extra_state() { return lookahead ? lookahead->state() : ExtraState{}; }

  void note(const std::string& text) const {
    if (callbacks.on_note) callbacks.on_note(text);
  }
  bool stop_requested() const { return callbacks.should_stop && callbacks.should_stop(); }
};

// The training set's normalisation: the recipe's own constants, or the set's per-channel statistics.
Normalization normalization_of(const Recipe& recipe, const ImageDataset& train) {
  if (recipe.normalize_mean.empty()) return compute_normalization(train);
  MINICNN_CHECK(static_cast<int64_t>(recipe.normalize_mean.size()) == train.channels, "train: the recipe normalises ",
                recipe.normalize_mean.size(), " channels, but the images of '", train.name, "' have ", train.channels);
  return {recipe.normalize_mean, recipe.normalize_std};
}

void build_loader(Session& s) {
  const TrainConfig& config = s.config;
  LoaderOptions options;
  options.batch_size = config.recipe.batch_size;
  options.shuffle = true;
  options.seed = config.seed;
  options.augment = config.recipe.augment;
  options.drop_last = config.recipe.drop_last;
  options.normalization = s.normalization;
  options.device = config.device;
  std::vector<int64_t> subset;
  if (config.limit_train > 0) subset = random_subset(s.data.train.size(), config.limit_train, config.seed);
  if (config.measure_train_accuracy) {
    const std::vector<int64_t>& pool = subset;
    const int64_t n = config.limit_train > 0 ? config.limit_train : s.data.train.size();
    const std::vector<int64_t> pick = random_subset(n, std::min(n, kTrainEvalImages), config.seed);
    for (int64_t i : pick) s.train_eval_subset.push_back(pool.empty() ? i : pool[static_cast<size_t>(i)]);
  }
  s.loader = std::make_unique<DataLoader>(s.data.train, options, std::move(subset));
  const int64_t per_epoch = s.loader->num_batches();
  s.total_steps = static_cast<int64_t>(std::ceil(static_cast<double>(per_epoch) * config.recipe.epochs));
  s.epochs = (s.total_steps + per_epoch - 1) / per_epoch;
}

// The model (its classifier checked against the data set's classes, initialised as the recipe says),
// optimizer, schedule and lookahead.
void build_model(Session& s, bool resuming) {
  const TrainConfig& config = s.config;
  const Recipe& recipe = config.recipe;
  s.model = parse_model(config.spec);
  s.model.build(config.input_chw, config.seed);
  const std::string unsupported = s.model.unsupported_layer(config.device);
  MINICNN_CHECK(unsupported.empty(), "train: ", unsupported,
                " has no CUDA implementation yet; run with --device cpu");
  check_classifier(s.model, static_cast<int64_t>(s.data.train.classes.size()), s.data.train.name);
  if (recipe.dirac) apply_dirac(s.model);
  if (recipe.whiten_images > 0 && !resuming) {
    whiten_first_conv(s.model, s.data.train, s.normalization, recipe.whiten_images, recipe.whiten_eps, config.seed);
  }
  apply_freeze_rules(s.model, recipe.frozen, 0);
  set_pool_impl(s.model, config.pool_impl);
  set_conv_impl(s.model, config.conv_impl);
  if (config.device.is_cpu()) {
    const int64_t images = config.limit_train > 0 ? config.limit_train : s.data.train.size();
    check_training_memory(s.model, config.input_chw, std::min(recipe.batch_size, images), recipe.optimizer,
                          config.model_name);
  }
  s.model.to(config.device);
  s.optimizer = make_optimizer(recipe, s.model);
  s.optimizer->to(config.device);
  for (const ParamGroup& g : s.optimizer->groups()) s.base_lr.push_back(g.lr);
  s.schedule = make_scheduler(recipe, s.total_steps);
  if (recipe.lookahead.every > 0) s.lookahead = std::make_unique<LookaheadAverage>(s.model, recipe.lookahead, s.total_steps);
}

void restore_from(Session& s, const Checkpoint& ckpt) {
  load_weights(s.model, ckpt, s.optimizer.get(), s.extra_state());
  s.state = ckpt.state;
  s.state.finished = false;
  s.history = history_from_json(ckpt.meta.history_json);
}

void fill_meta(Session& s) {
  s.meta.spec = model_to_spec(s.model);
  s.meta.model_name = s.config.model_name;
  s.meta.input_chw = s.config.input_chw;
  s.meta.normalization = s.normalization;
  s.meta.dataset = s.config.dataset;
  s.meta.classes = s.data.train.classes;
  s.meta.config_json = s.config.to_json();
  s.meta.settings_json = s.config.settings_json();
}

void announce(const Session& s, bool resumed, bool replaces_previous) {
  if (!s.callbacks.on_start) return;
  TrainStart start;
  start.config = &s.config;
  start.data_name = s.data.train.name;
  start.train_images = s.loader->size();
  start.test_images = s.data.test.size();
  start.total_steps = s.total_steps;
  start.batches_per_epoch = s.loader->num_batches();
  start.start_epoch = s.state.epochs_done + 1;
  start.start_batch = s.state.step_in_epoch + 1;
  start.resumed = resumed;
  start.replaces_previous = replaces_previous;
  s.callbacks.on_start(start);
}

// The steps epoch `epoch` runs: all of an epoch's batches but in a last epoch cut short.
int64_t batches_in(const Session& s, int64_t epoch) {
  const int64_t per_epoch = s.loader->num_batches();
  return std::min(per_epoch, s.total_steps - epoch * per_epoch);
}

void save_checkpoint_now(Session& s) {
  s.meta.history_json = history_to_json(s.history);
  TrainState state = s.state;
  state.wall_seconds += seconds_since(s.wall_start);
  save_checkpoint(s.checkpoint_path, s.model, s.optimizer.get(), s.meta, state, s.extra_state());
  s.dir->commit();
  s.saved_step = s.state.global_step;
  s.result.has_checkpoint = true;
  s.result.checkpoint_epochs = s.state.epochs_done;
  s.result.checkpoint_batches = s.state.step_in_epoch;
  s.result.checkpoint_epoch_batches = batches_in(s, s.state.epochs_done);
}

[[noreturn]] void stop_on_non_finite(const Session& s, const std::string& what, int64_t epoch, int64_t b,
                                     double lr) {
  detail::throw_error(
      fmt::format("train: {} at step {} (epoch {}, batch {}); the last good checkpoint is kept in '{}'; try "
                  "a lower learning "
                  "rate than {}",
                  what, s.state.global_step + 1, epoch + 1, b + 1, s.checkpoint_path, lr));
}

// One optimizer step on batch `b` of the current epoch, with the running sums of the epoch.
void train_step(Session& s, int64_t epoch, int64_t b, double lr) {
  const auto step_start = Clock::now();
  const Batch batch = s.loader->batch(b);  // on the model's device
  s.model.reseed(step_seed(s.config.seed, s.state.global_step));
  const Tensor logits = s.model.forward(batch.images, Mode::Train);
  const LossResult r = s.loss.forward(logits, batch.labels);
  if (!std::isfinite(r.loss)) stop_on_non_finite(s, fmt::format("the loss became {}", r.loss), epoch, b, lr);
  s.optimizer->zero_grad();
  s.model.backward(s.loss.backward());
  if (const std::string bad = first_non_finite_gradient(s.model); !bad.empty()) {
    stop_on_non_finite(s, fmt::format("the gradient of {} became NaN or infinite", bad), epoch, b, lr);
  }
  s.optimizer->step();
  if (s.lookahead) s.lookahead->after_step(s.model, s.state.global_step + 1);
  const double seconds = seconds_since(step_start);
  TrainState& st = s.state;
  st.epoch_train_seconds += seconds;
  st.total_train_seconds += seconds;
  st.total_train_images += batch.size;
  // Metrics count the loss per image whatever the loss's reduction (a summed loss is the batch's total).
  const double per_image = s.config.recipe.sum_loss ? r.loss / static_cast<double>(batch.size) : r.loss;
  st.epoch_loss_sum += per_image * static_cast<double>(batch.size);
  st.epoch_correct += r.correct;
  st.epoch_seen += batch.size;
  st.step_in_epoch = b + 1;
  ++st.global_step;
}

void report_batch(const Session& s, int64_t epoch, int64_t b) {
  if (!s.callbacks.on_batch) return;
  const TrainState& st = s.state;
  const double ips = static_cast<double>(st.epoch_seen) / std::max(st.epoch_train_seconds, 1e-9);
  const int64_t remaining = (batches_in(s, epoch) - b - 1) * s.config.recipe.batch_size;
  s.callbacks.on_batch({epoch + 1, s.epochs, b + 1, batches_in(s, epoch),
                        st.epoch_loss_sum / static_cast<double>(st.epoch_seen),
                        static_cast<double>(st.epoch_correct) / static_cast<double>(st.epoch_seen), ips,
                        static_cast<double>(remaining) / ips});
}

EpochMetrics measure_epoch(Session& s, int64_t epoch, double lr, EvalResult& test) {
  const TrainState& st = s.state;
  test = evaluate(s.model, s.data.test, s.normalization);
  EpochMetrics m{epoch + 1,
                 st.epoch_loss_sum / static_cast<double>(st.epoch_seen),
                 static_cast<double>(st.epoch_correct) / static_cast<double>(st.epoch_seen),
                 test.loss,
                 test.accuracy,
                 lr,
                 st.epoch_train_seconds,
                 static_cast<double>(st.epoch_seen) / std::max(st.epoch_train_seconds, 1e-9)};
  if (s.config.measure_train_accuracy) {
    m.train_eval_accuracy =
        evaluate(s.model, s.data.train, s.normalization, 128, s.train_eval_subset).accuracy;
  }
  return m;
}

void start_next_epoch(TrainState& st, int64_t epochs_done, int64_t epochs) {
  st.epochs_done = epochs_done;
  st.step_in_epoch = 0;
  st.epoch_loss_sum = 0;
  st.epoch_correct = 0;
  st.epoch_seen = 0;
  st.epoch_train_seconds = 0;
  st.finished = epochs_done == epochs;
}

json summary_json(const Session& s, const EpochMetrics& m, const EvalResult& test) {
  const TrainConfig& config = s.config;
  const Recipe& recipe = config.recipe;
  json j = {{"dataset", config.dataset},
            {"model", config.model_name},
            {"spec", s.meta.spec},
            {"parameters", const_cast<Model&>(s.model).num_parameters()},
            {"epochs", s.state.epochs_done},
            {"epochs_planned", recipe.epochs},
            {"finished", s.state.finished},
            {"test_accuracy", m.test_accuracy},
            {"test_loss", m.test_loss},
            {"train_accuracy", m.train_accuracy},
            {"train_loss", m.train_loss},
            {"train_images_per_sec", s.result.train_images_per_sec},
            {"eval_images_per_sec", test.images_per_sec},
            {"wall_seconds", s.result.wall_seconds},
            {"peak_rss_mib", s.result.peak_rss_mib},
            {"seed", config.seed},
            {"device", config.device.str()},
            {"threads", num_threads()},
            {"limit_train", config.limit_train},
            {"pool", config.pool_variant}};
  json& r = j["recipe"] = plain_recipe_json(recipe);
  r["nesterov"] = recipe.nesterov;
  r["label_smoothing"] = recipe.label_smoothing;
  r["loss_reduction"] = recipe.sum_loss ? "sum" : "mean";
  r["drop_last"] = recipe.drop_last;
  r["tta"] = recipe.tta;
  if (m.has_test_accuracy_tta()) j["test_accuracy_tta"] = m.test_accuracy_tta;
  return j;
}

// Evaluates the epoch just trained, then writes metrics.csv, summary.json and the checkpoint.
void finish_epoch(Session& s, int64_t epoch, double lr) {
  EvalResult test;
  EpochMetrics m = measure_epoch(s, epoch, lr, test);
  if (epoch + 1 == s.epochs && s.config.recipe.tta > 0) {
    m.test_accuracy_tta = evaluate(s.model, s.data.test, s.normalization, 500, {}, s.config.recipe.tta).accuracy;
  }
  s.history.push_back(m);
  start_next_epoch(s.state, epoch + 1, s.epochs);
  TrainResult& r = s.result;
  r.history = s.history;
  r.test_accuracy = m.test_accuracy;
  r.test_loss = m.test_loss;
  r.test_accuracy_tta = m.test_accuracy_tta;
  r.train_images_per_sec =
      static_cast<double>(s.state.total_train_images) / std::max(s.state.total_train_seconds, 1e-9);
  r.wall_seconds = s.state.wall_seconds + seconds_since(s.wall_start);
  r.peak_rss_mib = peak_rss_mib();
  // metrics.csv and summary.json first, the checkpoint last: a run killed in between redoes the epoch
  // when resumed (and rewrites them with the same figures); the other order would leave a finished
  // checkpoint beside a metrics.csv without its last epoch, and --resume would find nothing to do.
  const fs::path dir(s.config.out_dir);
  write_file_atomic((dir / "metrics.csv").string(), metrics_csv(s.history), "train");
  write_file_atomic((dir / "summary.json").string(), summary_json(s, m, test).dump(2) + "\n", "train");
  save_checkpoint_now(s);
  if (s.callbacks.on_epoch) s.callbacks.on_epoch(m, s.epochs);
}

// Each optimizer group's learning rate at `t` (the epoch, or the step of a per-step schedule).
void set_learning_rates(Session& s, int64_t t) {
  std::vector<ParamGroup>& groups = s.optimizer->groups();
  for (size_t g = 0; g < groups.size(); ++g) groups[g].lr = s.schedule->lr_at(t, s.base_lr[g]);
}

// The learning rate a person reads (progress, metrics.csv): the recipe's own, which the last optimizer group
// has (the parameters no group rule selects); a rule's group scales its lr from it.
double recipe_lr(const Session& s) {
  return s.optimizer->groups().back().lr;
}

// The epochs and steps left; returns false when should_stop() interrupted the run.
bool run_epochs(Session& s) {
  for (int64_t epoch = s.state.epochs_done; epoch < s.epochs; ++epoch) {
    apply_freeze_rules(s.model, s.config.recipe.frozen, epoch);
    if (!s.schedule->per_step()) set_learning_rates(s, epoch);
    s.loader->set_epoch(epoch);
    const int64_t batches = batches_in(s, epoch);
    for (int64_t b = s.state.step_in_epoch; b < batches; ++b) {
      if (s.stop_requested()) return false;
      if (s.schedule->per_step()) set_learning_rates(s, s.state.global_step);
      train_step(s, epoch, b, recipe_lr(s));
      report_batch(s, epoch, b);
      const bool every =
          s.config.checkpoint_every > 0 && s.state.global_step % s.config.checkpoint_every == 0;
      if (every && b + 1 < batches) save_checkpoint_now(s);
    }
    finish_epoch(s, epoch, recipe_lr(s));
  }
  return true;
}

// Keeps where an interrupted run stands: when the run already holds a checkpoint, a new one of the
// current step. A run that has written nothing yet writes nothing now, so an --overwrite's previous
// contents come back unchanged when the RunDirectory goes.
void keep_interrupted(Session& s) {
  s.result.interrupted = true;
  if (s.saved_step >= 0 && s.saved_step != s.state.global_step) save_checkpoint_now(s);
}

}  // namespace

TrainResult train(const TrainConfig& config, const DatasetSplit& data, RunDirPolicy policy,
                  const TrainCallbacks& callbacks) {
  RunDirectory::recover(config.out_dir);
  check_recipe(config, data);
  Session s(config, data, callbacks);
  s.result.out_dir = config.out_dir;
  std::optional<Checkpoint> resume_from;
  if (policy == RunDirPolicy::Resume) {
    resume_from = checkpoint_to_resume(config, s.checkpoint_path);
    if (resume_from && resume_from->state.finished &&
        resume_from->state.epochs_done == static_cast<int64_t>(std::ceil(config.recipe.epochs))) {
      return finished_result(*resume_from, config.out_dir);
    }
    if (!resume_from)
      s.note(fmt::format("no checkpoint in '{}' yet: starting the run from the beginning", config.out_dir));
  }
  set_num_threads(config.threads);
  set_allow_tf32(config.allow_tf32);
  const FlushDenormals flush_denormals;
  s.normalization = normalization_of(config.recipe, data.train);
  build_loader(s);
  build_model(s, resume_from.has_value());
  if (resume_from) restore_from(s, *resume_from);
  fill_meta(s);
  const RunDirPolicy dir_policy = resume_from ? RunDirPolicy::Resume : policy;
  check_run_dir(config.out_dir, dir_policy);
  std::error_code ec;
  const bool replaces = dir_policy == RunDirPolicy::Overwrite && fs::exists(config.out_dir, ec) &&
                        !fs::is_empty(config.out_dir, ec);
  announce(s, resume_from.has_value(), replaces);
  if (resume_from) {
    s.saved_step = s.state.global_step;
    s.result.has_checkpoint = true;
    s.result.checkpoint_epochs = s.state.epochs_done;
    s.result.checkpoint_batches = s.state.step_in_epoch;
  }
  s.dir = std::make_unique<RunDirectory>(config.out_dir, dir_policy);
  if (!run_epochs(s)) keep_interrupted(s);
  return s.result;
}

std::vector<std::pair<ImageView, float>> tta_views(int64_t level) {
  MINICNN_CHECK(level >= 0 && level <= 2, "tta: the test-time augmentation level should be 0, 1 or 2, but got ", level);
  if (level == 0) return {{ImageView{}, 1.0f}};
  std::vector<std::pair<ImageView, float>> views{{ImageView{}, 0.5f}, {ImageView{true}, 0.5f}};
  if (level == 1) return views;
  for (auto& v : views) v.second = 0.25f;
  for (const int64_t shift : {-1, 1}) {
    for (const bool mirror : {false, true}) views.push_back({ImageView{mirror, shift, shift, true}, 0.125f});
  }
  return views;
}

Tensor tta_logits(Model& model, const Tensor& images, int64_t level) {
  const std::vector<std::pair<ImageView, float>> views = tta_views(level);
  const Tensor on_device = images.to(model.device());
  if (views.size() == 1) return model.forward(on_device, Mode::Eval).to(Device::cpu());
  Tensor logits;
  for (const auto& [view, weight] : views) {
    const Tensor x = view.identity() ? on_device : view_images(on_device, view);
    const Tensor out = model.forward(x, Mode::Eval).to(Device::cpu());
    if (!logits.defined()) logits = Tensor::zeros(out.shape());
    float* acc = logits.data();
    const float* o = out.data();
    for (int64_t i = 0; i < out.numel(); ++i) acc[i] += weight * o[i];
  }
  return logits;
}

EvalResult evaluate(Model& model, const ImageDataset& data, const Normalization& normalization,
                    int64_t batch_size, const std::vector<int64_t>& subset, int64_t tta) {
  const FlushDenormals flush_denormals;
  // Training and evaluation allocate tensors of other shapes, so neither reuses the blocks the other left
  // in the allocators' caches: they are released before evaluating and after, and the process never holds
  // both phases' memory at once.
  release_cached_memory();
  LoaderOptions options;
  options.batch_size = batch_size;
  options.normalization = normalization;
  options.device = model.device();
  EvalResult r;
  double loss_sum = 0;
  const auto start = Clock::now();
  {  // the loader (and its copy of the images on a device) is gone before the caches are released
    DataLoader loader(data, options, subset);
    CrossEntropyLoss loss;
    for (int64_t b = 0; b < loader.num_batches(); ++b) {
      const Batch batch = loader.batch(b);
      const LossResult lr =
          loss.forward(tta_logits(model, batch.images, tta), batch.labels.to(Device::cpu()));
      loss_sum += lr.loss * static_cast<double>(batch.size);
      r.correct += lr.correct;
      r.count += batch.size;
    }
  }
  const double seconds = seconds_since(start);
  release_cached_memory();
  r.loss = loss_sum / static_cast<double>(r.count);
  r.accuracy = static_cast<double>(r.correct) / static_cast<double>(r.count);
  r.images_per_sec = seconds > 0 ? static_cast<double>(r.count) / seconds : 0;
  return r;
}

}  // namespace minicnn
