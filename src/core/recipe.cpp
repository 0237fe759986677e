// The names of a recipe's choices, each written once in a table that both directions read.
#include <minicnn/recipe.h>

#include <array>
#include <utility>

#include <minicnn/check.h>

namespace minicnn {
namespace {

template <typename Kind, size_t N>
using NameTable = std::array<std::pair<Kind, const char*>, N>;

constexpr NameTable<OptimizerKind, 3> kOptimizers{
    {{OptimizerKind::SGD, "sgd"}, {OptimizerKind::Adam, "adam"}, {OptimizerKind::AdamW, "adamw"}}};
constexpr NameTable<ScheduleKind, 4> kSchedules{{{ScheduleKind::None, "none"},
                                                  {ScheduleKind::Step, "step"},
                                                  {ScheduleKind::Cosine, "cosine"},
                                                  {ScheduleKind::WarmupWarmdown, "warmup-warmdown"}}};
constexpr NameTable<Augment, 3> kAugments{
    {{Augment::None, "none"}, {Augment::CropFlip, "crop-flip"}, {Augment::FlipTranslate, "flip-translate"}}};

template <typename Kind, size_t N>
const char* name_in(const NameTable<Kind, N>& table, Kind kind) {
  for (const auto& [k, name] : table) {
    if (k == kind) return name;
  }
  detail::throw_internal(__FILE__, __LINE__, "every kind is in its name table", "");
}

// `what` names the setting in the error: "optimizer: expected 'sgd', 'adam' or 'adamw', but got 'sgdd'".
template <typename Kind, size_t N>
Kind parse_in(const NameTable<Kind, N>& table, const char* what, const std::string& text) {
  std::string choices;
  for (size_t i = 0; i < N; ++i) {
    if (text == table[i].second) return table[i].first;
    choices += (i == 0 ? "'" : i + 1 == N ? " or '" : ", '") + std::string(table[i].second) + "'";
  }
  detail::throw_error(std::string(what) + ": expected " + choices + ", but got '" + text + "'");
}

}  // namespace

const char* optimizer_name(OptimizerKind kind) {
  return name_in(kOptimizers, kind);
}

OptimizerKind parse_optimizer(const std::string& text) {
  return parse_in(kOptimizers, "optimizer", text);
}

const char* schedule_name(ScheduleKind kind) {
  return name_in(kSchedules, kind);
}

ScheduleKind parse_schedule(const std::string& text) {
  return parse_in(kSchedules, "schedule", text);
}

const char* augment_name(Augment augment) {
  return name_in(kAugments, augment);
}

Augment parse_augment(const std::string& text) {
  return parse_in(kAugments, "augment", text);
}

Recipe plain_recipe(OptimizerKind optimizer, double lr, double momentum, double weight_decay, ScheduleKind schedule,
                    Augment augment, int64_t batch_size, double epochs) {
  Recipe r;
  r.optimizer = optimizer;
  r.lr = lr;
  r.momentum = momentum;
  r.weight_decay = weight_decay;
  r.schedule = schedule;
  r.augment = augment;
  r.batch_size = batch_size;
  r.epochs = epochs;
  return r;
}

bool selects(const ParamSelector& selector, int64_t index, const std::string& type, const std::string& name) {
  const size_t dot = selector.rfind('.');
  if (dot == std::string::npos || selector.substr(dot + 1) != name) return false;
  const std::string layer = selector.substr(0, dot);
  return layer == type || layer == std::to_string(index);
}

}  // namespace minicnn
