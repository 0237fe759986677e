// TrainConfig as recorded in checkpoints (the result-defining fields and the run's settings), and the
// differences between a recorded run and a new command.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <minicnn/check.h>
#include <minicnn/trainer.h>

namespace minicnn {
namespace {

using nlohmann::json;

template <typename T>
void read_if(const json& j, const char* key, T& out) {
  if (j.contains(key)) out = j.at(key).get<T>();
}

}  // namespace

std::string TrainConfig::to_json() const {
  return json{{"dataset", dataset},
              {"model", model_name},
              {"spec", spec},
              {"input_shape", input_chw.dims()},
              {"optimizer", optimizer_name(recipe.optimizer)},
              {"lr", recipe.lr},
              {"momentum", recipe.momentum},
              {"weight_decay", recipe.weight_decay},
              {"schedule", schedule_name(recipe.schedule)},
              {"augment", augment_name(recipe.augment)},
              {"batch_size", recipe.batch_size},
              {"epochs", recipe.epochs},
              {"seed", seed},
              {"limit_train", limit_train},
              {"pool", pool_variant}}
      .dump();
}

std::string TrainConfig::settings_json() const {
  return json{{"data_dir", data_dir},
              {"resize", {data_options.resize_height, data_options.resize_width}},
              {"device", device.str()},
              {"pool_impl", pool_impl_name(pool_impl)},
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
    c.recipe.epochs = j.at("epochs").get<int64_t>();
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
