// Signal handlers that turn the first SIGINT/SIGTERM into a stop request, and the test fault that sends one.
#include "interrupt.h"

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

namespace minicnn::cli {
namespace {

volatile sig_atomic_t g_signal = 0;
struct sigaction g_old_int, g_old_term;

extern "C" void on_signal(int sig) {
  if (g_signal != 0) {
    // A second request: the user wants out now.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  g_signal = sig;
}

}  // namespace

InterruptGuard::InterruptGuard() {
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

bool InterruptGuard::requested() {
  return g_signal != 0;
}

int InterruptGuard::exit_code() {
  return 128 + (g_signal != 0 ? static_cast<int>(g_signal) : SIGINT);
}

void InterruptGuard::fault_step(long long steps) {
  static const char* fault = std::getenv("MINICNN_FAULT");
  if (fault == nullptr) return;
  const std::string f(fault);
  for (const auto& [prefix, sig] :
       {std::pair<const char*, int>{"sigint-at-step-", SIGINT}, {"sigterm-at-step-", SIGTERM}}) {
    if (f.rfind(prefix, 0) == 0 && std::atoll(f.c_str() + std::strlen(prefix)) == steps) ::raise(sig);
  }
}

}  // namespace minicnn::cli
