// ProgressDisplay: formats BatchProgress and EpochMetrics events for people.
#include "progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace minicnn::cli {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

ProgressDisplay::ProgressDisplay(std::string label) : label_(std::move(label)), tty_(::isatty(STDERR_FILENO) != 0) {
  if (!label_.empty()) label_ += "  ";
}

TrainCallbacks ProgressDisplay::callbacks() {
  TrainCallbacks cb;
  cb.on_batch = [this](const BatchProgress& p) { on_batch(p); };
  cb.on_epoch = [this](const EpochMetrics& m, int64_t epochs) { on_epoch(m, epochs); };
  cb.on_note = [this](const std::string& t) { on_note(t); };
  return cb;
}

void ProgressDisplay::on_batch(const BatchProgress& p) {
  const std::string stats = fmt::format("{:>5}/{}  loss {:.4f}  acc {:.4f}  {:>6.0f} img/s  ETA {}", p.batch, p.batches,
                                        p.loss, p.accuracy, p.images_per_sec, format_duration(p.eta_seconds));
  if (tty_) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * p.batch / p.batches);
    std::fprintf(stderr, "\r%sepoch %lld/%lld [%s%s] %s\x1b[K", label_.c_str(), static_cast<long long>(p.epoch),
                 static_cast<long long>(p.epochs), std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(kWidth - filled), '.').c_str(), stats.c_str());
    std::fflush(stderr);
    bar_open_ = true;
    return;
  }
  // Not a terminal: a plain line at each tenth of the epoch.
  const int64_t tenth = p.batch * 10 / p.batches;
  if (tenth != last_tenth_ && (p.batch == p.batches || tenth > last_tenth_)) {
    last_tenth_ = tenth;
    std::fprintf(stderr, "%sepoch %lld/%lld %s\n", label_.c_str(), static_cast<long long>(p.epoch),
                 static_cast<long long>(p.epochs), stats.c_str());
  }
}

void ProgressDisplay::on_epoch(const EpochMetrics& m, int64_t epochs) {
  if (bar_open_) {
    std::fprintf(stderr, "\r\x1b[K");
    bar_open_ = false;
  }
  last_tenth_ = -1;
  std::printf("%sepoch %lld/%lld  train loss %.4f acc %.4f  test loss %.4f acc %.4f  lr %.3g  %.1f s  %.0f img/s\n",
              label_.c_str(), static_cast<long long>(m.epoch), static_cast<long long>(epochs), m.train_loss,
              m.train_accuracy, m.test_loss, m.test_accuracy, m.lr, m.seconds, m.images_per_sec);
  std::fflush(stdout);
}

void ProgressDisplay::on_note(const std::string& text) { std::fprintf(stderr, "%s%s\n", label_.c_str(), text.c_str()); }

}  // namespace minicnn::cli
