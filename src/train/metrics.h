// A run's per-epoch figures: EpochMetrics, their JSON form in checkpoints and their metrics.csv form.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace minicnn {

/// One row of metrics.csv. Accuracies are fractions.
struct EpochMetrics {
  int64_t epoch;  // numbered from 1
  double train_loss, train_accuracy, test_loss, test_accuracy, lr, seconds, images_per_sec;
  /// Accuracy of up to 10,000 training images in Eval mode at the epoch's end, comparable with
  /// test_accuracy (train_accuracy is a running mean in Train mode); negative when not measured.
  double train_eval_accuracy = -1;
  bool has_train_eval_accuracy() const { return train_eval_accuracy >= 0; }
  /// Test accuracy with test-time augmentation, measured after the last epoch when the recipe asks for it;
  /// negative otherwise. (In the checkpoint's history and summary.json, not in metrics.csv.)
  double test_accuracy_tta = -1;
  bool has_test_accuracy_tta() const { return test_accuracy_tta >= 0; }
};

/// The per-epoch metrics a checkpoint keeps in its metadata (Checkpoint::meta.history_json), in epoch order.
/// Example: std::vector<EpochMetrics> h = history_from_json(load_checkpoint(path).meta.history_json);
std::vector<EpochMetrics> history_from_json(const std::string& text);
std::string history_to_json(const std::vector<EpochMetrics>& history);

/// metrics.csv: epoch,train_loss,train_accuracy,test_loss,test_accuracy,lr,seconds,images_per_sec, then
/// train_eval_accuracy (empty where it was not measured).
std::string metrics_csv(const std::vector<EpochMetrics>& history);

}  // namespace minicnn
