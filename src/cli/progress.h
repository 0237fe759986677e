// The progress display of `train`: a bar redrawn in place on a terminal, plain lines otherwise.
#pragma once

#include <string>

#include <minicnn/trainer.h>

namespace minicnn::cli {

/// Draws trainer events on stderr (bar) and stdout (one line per epoch). `label` prefixes every line
/// (e.g. "max2 seed 1" in a study).
class ProgressDisplay {
 public:
  explicit ProgressDisplay(std::string label = "");
  TrainCallbacks callbacks();

 private:
  void on_batch(const BatchProgress& p);
  void on_epoch(const EpochMetrics& m, int64_t epochs);
  void on_note(const std::string& text);

  std::string label_;
  bool tty_;
  int64_t last_tenth_ = -1;
  bool bar_open_ = false;
};

/// "1:05" or "1:02:03".
std::string format_duration(double seconds);

}  // namespace minicnn::cli
