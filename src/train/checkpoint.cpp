// Checkpoint metadata encoding (JSON strings inside safetensors metadata) and weight loading with checks.
#include <minicnn/checkpoint.h>

#include <fmt/format.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include <minicnn/check.h>
#include <minicnn/registry.h>

namespace minicnn {
namespace {

using nlohmann::json;

constexpr const char* kFormat = "minicnn.checkpoint.v1";

json state_to_json(const TrainState& s) {
  return {{"epochs_done", s.epochs_done},       {"step_in_epoch", s.step_in_epoch},
          {"global_step", s.global_step},       {"epoch_loss_sum", s.epoch_loss_sum},
          {"epoch_correct", s.epoch_correct},   {"epoch_seen", s.epoch_seen},
          {"epoch_train_seconds", s.epoch_train_seconds}, {"total_train_seconds", s.total_train_seconds},
          {"total_train_images", s.total_train_images},   {"wall_seconds", s.wall_seconds},
          {"finished", s.finished}};
}

TrainState state_from_json(const json& j) {
  TrainState s;
  s.epochs_done = j.at("epochs_done").get<int64_t>();
  s.step_in_epoch = j.at("step_in_epoch").get<int64_t>();
  s.global_step = j.at("global_step").get<int64_t>();
  s.epoch_loss_sum = j.at("epoch_loss_sum").get<double>();
  s.epoch_correct = j.at("epoch_correct").get<int64_t>();
  s.epoch_seen = j.at("epoch_seen").get<int64_t>();
  s.epoch_train_seconds = j.at("epoch_train_seconds").get<double>();
  s.total_train_seconds = j.at("total_train_seconds").get<double>();
  s.total_train_images = j.at("total_train_images").get<int64_t>();
  s.wall_seconds = j.at("wall_seconds").get<double>();
  s.finished = j.at("finished").get<bool>();
  return s;
}

}  // namespace

void save_checkpoint(const std::string& path, Model& model, Optimizer* optimizer, const CheckpointMeta& meta,
                     const TrainState& state, const ExtraState& extra) {
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  for (const NamedTensor& t : model.state_dict()) tensors.emplace_back(t.name, t.tensor);
  std::vector<std::pair<std::string, Tensor*>> opt_state;
  if (optimizer) opt_state = optimizer->state();
  for (auto& [name, t] : opt_state) tensors.emplace_back("optimizer." + name, t);
  for (const auto& [name, t] : extra) tensors.emplace_back(name, t);
  std::map<std::string, std::string> md;
  md["format"] = kFormat;
  md["minicnn.spec"] = meta.spec;
  md["minicnn.model"] = meta.model_name;
  md["minicnn.input_shape"] = json(meta.input_chw.dims()).dump();
  md["minicnn.normalization"] = json{{"mean", meta.normalization.mean}, {"std", meta.normalization.std}}.dump();
  md["minicnn.dataset"] = meta.dataset;
  md["minicnn.classes"] = json(meta.classes).dump();
  md["minicnn.config"] = meta.config_json.empty() ? "{}" : meta.config_json;
  if (!meta.settings_json.empty()) md["minicnn.settings"] = meta.settings_json;
  md["minicnn.history"] = meta.history_json.empty() ? "[]" : meta.history_json;
  md["minicnn.state"] = state_to_json(state).dump();
  md["minicnn.optimizer_steps"] = std::to_string(optimizer ? optimizer->steps() : 0);
  save_safetensors(path, tensors, md);
}

Checkpoint load_checkpoint(const std::string& path_or_run_dir) {
  std::error_code ec;
  const bool is_dir = std::filesystem::is_directory(path_or_run_dir, ec);
  const std::string path =
      is_dir ? (std::filesystem::path(path_or_run_dir) / "model.safetensors").string() : path_or_run_dir;
  MINICNN_CHECK(!is_dir || std::filesystem::exists(path, ec), "checkpoint: the run directory '", path_or_run_dir,
                "' holds no model.safetensors yet; its run has not finished an epoch (or a --checkpoint-every step)");
  Checkpoint c;
  c.file = load_safetensors(path);
  const auto& md = c.file.metadata;
  auto get = [&](const char* key) -> const std::string& {
    auto it = md.find(key);
    MINICNN_CHECK(it != md.end(), "checkpoint: '", path, "' has no '", key,
                  "' metadata; it is not a minicnn checkpoint (a plain safetensors file has no model spec)");
    return it->second;
  };
  MINICNN_CHECK(get("format") == kFormat, "checkpoint: '", path, "' has format '", get("format"), "', expected '",
                kFormat, "'");
  try {
    c.meta.spec = get("minicnn.spec");
    c.meta.model_name = get("minicnn.model");
    c.meta.input_chw = Shape(json::parse(get("minicnn.input_shape")).get<std::vector<int64_t>>());
    const json norm = json::parse(get("minicnn.normalization"));
    c.meta.normalization.mean = norm.at("mean").get<std::vector<float>>();
    c.meta.normalization.std = norm.at("std").get<std::vector<float>>();
    c.meta.dataset = get("minicnn.dataset");
    c.meta.classes = json::parse(get("minicnn.classes")).get<std::vector<std::string>>();
    c.meta.config_json = get("minicnn.config");
    c.meta.history_json = get("minicnn.history");
    if (auto it = md.find("minicnn.settings"); it != md.end()) c.meta.settings_json = it->second;
    c.state = state_from_json(json::parse(get("minicnn.state")));
    c.optimizer_steps = std::stoll(get("minicnn.optimizer_steps"));
  } catch (const json::exception& e) {
    detail::throw_error(fmt::format("checkpoint: '{}' has malformed metadata ({})", path, e.what()));
  } catch (const std::logic_error& e) {
    detail::throw_error(fmt::format("checkpoint: '{}' has malformed metadata ({})", path, e.what()));
  }
  MINICNN_CHECK(c.meta.input_chw.rank() == 3, "checkpoint: '", path, "' has input shape ", c.meta.input_chw,
                ", expected (C, H, W)");
  return c;
}

void load_weights(Model& model, const Checkpoint& ckpt, Optimizer* optimizer, const ExtraState& extra) {
  for (const NamedTensor& t : model.state_dict()) {
    const Tensor* src = ckpt.file.find(t.name);
    MINICNN_CHECK(src != nullptr, "checkpoint: tensor '", t.name, "' of the model is missing from the checkpoint");
    MINICNN_CHECK(src->shape() == t.tensor->shape() && src->dtype() == t.tensor->dtype(), "checkpoint: tensor '",
                  t.name, "' has shape ", src->shape(), " in the checkpoint, but the model expects ", t.tensor->shape());
    t.tensor->copy_from(*src);
  }
  if (optimizer) {
    for (auto& [name, t] : optimizer->state()) {
      const Tensor* src = ckpt.file.find("optimizer." + name);
      MINICNN_CHECK(src != nullptr && src->shape() == t->shape(), "checkpoint: optimizer state '", name,
                    "' is missing or has another shape; was the run trained with another optimizer?");
      t->copy_from(*src);
    }
    optimizer->set_steps(ckpt.optimizer_steps);
  }
  for (const auto& [name, t] : extra) {
    const Tensor* src = ckpt.file.find(name);
    MINICNN_CHECK(src != nullptr && src->shape() == t->shape(), "checkpoint: '", name,
                  "' is missing or has another shape; was the run trained with another recipe?");
    t->copy_from(*src);
  }
}

Model model_from_checkpoint(const Checkpoint& ckpt) {
  Model model = parse_model(ckpt.meta.spec);
  model.build(ckpt.meta.input_chw, 0);
  load_weights(model, ckpt);
  return model;
}

}  // namespace minicnn
