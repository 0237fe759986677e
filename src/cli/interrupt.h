// Ctrl-C (SIGINT) and SIGTERM during training: a request to stop between steps, and the exit it ends in.
#pragma once

#include <stdexcept>
#include <string>

namespace minicnn::cli {

/// While alive, SIGINT and SIGTERM only set a flag that requested() reads (a second signal ends the
/// process at once). For tests, MINICNN_FAULT=sigint-at-step-N or sigterm-at-step-N makes the process
/// send itself that signal after its N-th training step (see fault_step()).
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  static bool requested();
  /// 130 after SIGINT, 143 after SIGTERM (128 + the signal), as shells report them.
  static int exit_code();
  /// Called after each training step with the steps this process has taken; raises the fault's signal.
  static void fault_step(long long steps);
};

/// Ends the command with `code` after printing `what()` as one line (not an error: the user asked).
class Interrupted : public std::runtime_error {
 public:
  Interrupted(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

}  // namespace minicnn::cli
