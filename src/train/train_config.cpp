// TrainConfig as recorded in checkpoints (the result-defining fields and the run's settings), and the
// differences between a recorded run and a new command.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <tuple>

#include <minicnn/check.h>
#include <minicnn/trainer.h>
#include "recipe_json.h"

namespace minicnn {
namespace {

using nlohmann::json;

template <typename T>
void read_if(const json& j, const char* key, T& out) {
  if (j.contains(key)) out = j.at(key).get<T>();
}

// Epochs as runs before fractional epochs recorded them (an integer), so their configurations still
// compare equal.
json epochs_json(double epochs) {
  return epochs == std::floor(epochs) ? json(static_cast<int64_t>(epochs)) : json(epochs);
}

// The recipe's settings beyond the plain optimizer and schedule, each recorded only when it is not the
// default: a run recorded before they existed has the same configuration as before.
void add_recipe_extras(json& j, const Recipe& r) {
  const Recipe d;
  if (r.nesterov != d.nesterov) j["nesterov"] = r.nesterov;
  if (r.label_smoothing != d.label_smoothing) j["label_smoothing"] = r.label_smoothing;
  if (r.sum_loss != d.sum_loss) j["loss_reduction"] = "sum";
  if (r.drop_last != d.drop_last) j["drop_last"] = r.drop_last;
  if (r.tta != d.tta) j["tta"] = r.tta;
  if (!r.normalize_mean.empty()) j["normalize"] = {{"mean", r.normalize_mean}, {"std", r.normalize_std}};
  if (r.dirac != d.dirac) j["dirac"] = r.dirac;
  if (r.whiten_images != d.whiten_images) j["whiten"] = {{"images", r.whiten_images}, {"eps", r.whiten_eps}};
  if (!r.frozen.empty()) {
    json rules = json::array();
    for (const FreezeRule& f : r.frozen) rules.push_back({{"params", f.params}, {"epochs", f.epochs}});
    j["frozen"] = rules;
  }
  if (!r.groups.empty()) {
    json rules = json::array();
    for (const GroupRule& g : r.groups) rules.push_back({{"params", g.params}, {"lr_scale", g.lr_scale}});
    j["groups"] = rules;
  }
  if (r.lookahead.every > 0) {
    j["lookahead"] = {{"every", r.lookahead.every}, {"decay", r.lookahead.decay}, {"power", r.lookahead.power}};
  }
}

void read_recipe_extras(const json& j, Recipe& r) {
  read_if(j, "nesterov", r.nesterov);
  read_if(j, "label_smoothing", r.label_smoothing);
  if (j.contains("loss_reduction")) r.sum_loss = j.at("loss_reduction").get<std::string>() == "sum";
  read_if(j, "drop_last", r.drop_last);
  read_if(j, "tta", r.tta);
  if (j.contains("normalize")) {
    r.normalize_mean = j.at("normalize").at("mean").get<std::vector<float>>();
    r.normalize_std = j.at("normalize").at("std").get<std::vector<float>>();
  }
  read_if(j, "dirac", r.dirac);
  if (j.contains("whiten")) {
    r.whiten_images = j.at("whiten").at("images").get<int64_t>();
    r.whiten_eps = j.at("whiten").at("eps").get<double>();
  }
  if (j.contains("frozen")) {
    for (const json& f : j.at("frozen")) r.frozen.push_back({f.at("params").get<std::string>(), f.at("epochs").get<int64_t>()});
  }
  if (j.contains("groups")) {
    for (const json& g : j.at("groups")) r.groups.push_back({g.at("params").get<std::string>(), g.at("lr_scale").get<double>()});
  }
  if (j.contains("lookahead")) {
    const json& l = j.at("lookahead");
    r.lookahead = {l.at("every").get<int64_t>(), l.at("decay").get<double>(), l.at("power").get<double>()};
  }
}

}  // namespace

std::string TrainConfig::to_json() const {
  json j{{"dataset", dataset},
         {"model", model_name},
         {"spec", spec},
         {"input_shape", input_chw.dims()},
         {"epochs", epochs_json(recipe.epochs)},
         {"seed", seed},
         {"limit_train", limit_train},
         {"pool", pool_variant}};
  j.update(plain_recipe_json(recipe));
  add_recipe_extras(j, recipe);
  return j.dump();
}

std::string TrainConfig::settings_json() const {
  return json{{"data_dir", data_dir},
              {"resize", {data_options.resize_height, data_options.resize_width}},
              {"device", device.str()},
              {"pool_impl", pool_impl_name(pool_impl)},
              {"conv_impl", conv_impl_name(conv_impl)},
              {"allow_tf32", allow_tf32},
              {"threads", threads},
              {"checkpoint_every", checkpoint_every},
              {"measure_train_accuracy", measure_train_accuracy}}
      .dump();
}

TrainConfig TrainConfig::from_json(const std::string& config, const std::string& settings) {
  TrainConfig c;
  try {
    const json j = json::parse(config);
    c.dataset = j.at("dataset").get<std::string>();
    c.model_name = j.at("model").get<std::string>();
    c.spec = j.at("spec").get<std::string>();
    c.input_chw = Shape(j.at("input_shape").get<std::vector<int64_t>>());
    c.recipe.optimizer = parse_optimizer(j.at("optimizer").get<std::string>());
    c.recipe.lr = j.at("lr").get<double>();
    c.recipe.momentum = j.at("momentum").get<double>();
    c.recipe.weight_decay = j.at("weight_decay").get<double>();
    c.recipe.schedule = parse_schedule(j.at("schedule").get<std::string>());
    c.recipe.augment = parse_augment(j.at("augment").get<std::string>());
    c.recipe.batch_size = j.at("batch_size").get<int64_t>();
    c.recipe.epochs = j.at("epochs").get<double>();
    read_recipe_extras(j, c.recipe);
    c.seed = j.at("seed").get<uint64_t>();
    c.limit_train = j.at("limit_train").get<int64_t>();
    c.pool_variant = j.at("pool").get<std::string>();
    if (!settings.empty()) {
      const json s = json::parse(settings);
      read_if(s, "data_dir", c.data_dir);
      if (s.contains("resize")) {
        const auto hw = s.at("resize").get<std::vector<int64_t>>();
        MINICNN_CHECK(hw.size() == 2, "run configuration: resize should be [H, W], but got ", hw.size(),
                      " values");
        c.data_options.resize_height = hw[0];
        c.data_options.resize_width = hw[1];
      }
      if (s.contains("device")) c.device = Device::parse(s.at("device").get<std::string>());
      if (s.contains("pool_impl")) c.pool_impl = parse_pool_impl(s.at("pool_impl").get<std::string>());
      if (s.contains("conv_impl")) c.conv_impl = parse_conv_impl(s.at("conv_impl").get<std::string>());
      read_if(s, "allow_tf32", c.allow_tf32);
      read_if(s, "threads", c.threads);
      read_if(s, "checkpoint_every", c.checkpoint_every);
      read_if(s, "measure_train_accuracy", c.measure_train_accuracy);
    }
  } catch (const json::exception& e) {
    detail::throw_error(fmt::format("run configuration: malformed record ({})", e.what()));
  }
  return c;
}

std::vector<std::string> config_differences(const TrainConfig& run, const TrainConfig& now) {
  std::vector<std::string> out;
  auto differ = [&](const char* field, const auto& a, const auto& b) {
    if (a != b) out.push_back(fmt::format("{}: {} in the run, {} now", field, a, b));
  };
  // A recipe's choices compare as kinds and print as their recorded names.
  auto differ_choice = [&](const char* field, auto a, auto b, const auto& name) {
    if (a != b) out.push_back(fmt::format("{}: {} in the run, {} now", field, name(a), name(b)));
  };
  differ("dataset", run.dataset, now.dataset);
  if (run.model_name != now.model_name) {
    differ("model", run.model_name, now.model_name);
  } else if (run.spec != now.spec) {
    out.push_back(fmt::format("model: '{}' in the run, '{}' now", run.spec, now.spec));
  }
  differ("input shape", run.input_chw.str(), now.input_chw.str());
  differ_choice("optimizer", run.recipe.optimizer, now.recipe.optimizer, optimizer_name);
  differ("lr", run.recipe.lr, now.recipe.lr);
  if (run.recipe.optimizer == OptimizerKind::SGD)
    differ("momentum", run.recipe.momentum, now.recipe.momentum);  // Adam has none
  differ("weight decay", run.recipe.weight_decay, now.recipe.weight_decay);
  differ_choice("schedule", run.recipe.schedule, now.recipe.schedule, schedule_name);
  differ_choice("augment", run.recipe.augment, now.recipe.augment, augment_name);
  differ("batch size", run.recipe.batch_size, now.recipe.batch_size);
  differ("nesterov", run.recipe.nesterov, now.recipe.nesterov);
  differ("label smoothing", run.recipe.label_smoothing, now.recipe.label_smoothing);
  differ("summed loss", run.recipe.sum_loss, now.recipe.sum_loss);
  differ("drop last", run.recipe.drop_last, now.recipe.drop_last);
  differ("tta", run.recipe.tta, now.recipe.tta);
  const auto preset_rules = [](const Recipe& r) {
    return std::tie(r.normalize_mean, r.normalize_std, r.dirac, r.whiten_images, r.whiten_eps, r.frozen, r.groups,
                    r.lookahead);
  };
  if (preset_rules(run.recipe) != preset_rules(now.recipe)) {
    out.push_back("the model's initialisation, frozen parameters, optimizer groups or lookahead: the run's "
                  "preset set them otherwise");
  }
  differ("seed", run.seed, now.seed);
  differ("limit-train", run.limit_train, now.limit_train);
  if (run.pool_variant != now.pool_variant) {
    out.push_back(fmt::format("pool: {} in the run, {} now",
                              run.pool_variant.empty() ? "none" : run.pool_variant,
                              now.pool_variant.empty() ? "none" : now.pool_variant));
  }
  return out;
}

}  // namespace minicnn
