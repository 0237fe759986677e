// EpochMetrics to and from the checkpoint's JSON history and metrics.csv.
#include <minicnn/metrics.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace minicnn {
namespace {

using nlohmann::json;

json metrics_to_json(const EpochMetrics& m) {
  json j = {
      {"epoch", m.epoch},         {"train_loss", m.train_loss},        {"train_accuracy", m.train_accuracy},
      {"test_loss", m.test_loss}, {"test_accuracy", m.test_accuracy},  {"lr", m.lr},
      {"seconds", m.seconds},     {"images_per_sec", m.images_per_sec}};
  if (m.has_train_eval_accuracy()) j["train_eval_accuracy"] = m.train_eval_accuracy;
  if (m.has_test_accuracy_tta()) j["test_accuracy_tta"] = m.test_accuracy_tta;
  return j;
}

EpochMetrics metrics_from_json(const json& j) {
  EpochMetrics m{j.at("epoch").get<int64_t>(),         j.at("train_loss").get<double>(),
                 j.at("train_accuracy").get<double>(), j.at("test_loss").get<double>(),
                 j.at("test_accuracy").get<double>(),  j.at("lr").get<double>(),
                 j.at("seconds").get<double>(),        j.at("images_per_sec").get<double>()};
  if (j.contains("train_eval_accuracy")) m.train_eval_accuracy = j.at("train_eval_accuracy").get<double>();
  if (j.contains("test_accuracy_tta")) m.test_accuracy_tta = j.at("test_accuracy_tta").get<double>();
  return m;
}

}  // namespace

std::vector<EpochMetrics> history_from_json(const std::string& text) {
  std::vector<EpochMetrics> history;
  for (const auto& j : json::parse(text)) history.push_back(metrics_from_json(j));
  return history;
}

std::string history_to_json(const std::vector<EpochMetrics>& history) {
  json h = json::array();
  for (const auto& m : history) h.push_back(metrics_to_json(m));
  return h.dump();
}

std::string metrics_csv(const std::vector<EpochMetrics>& history) {
  std::string out =
      "epoch,train_loss,train_accuracy,test_loss,test_accuracy,lr,seconds,images_per_sec,train_eval_"
      "accuracy\n";
  for (const auto& m : history) {
    out += fmt::format("{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6g},{:.3f},{:.1f},{}\n", m.epoch, m.train_loss,
                       m.train_accuracy, m.test_loss, m.test_accuracy, m.lr, m.seconds, m.images_per_sec,
                       m.has_train_eval_accuracy() ? fmt::format("{:.6f}", m.train_eval_accuracy) : "");
  }
  return out;
}

}  // namespace minicnn
