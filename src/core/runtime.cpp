// The warning hook and the CPU thread count.
#include <minicnn/runtime.h>

#include <omp.h>

#include <Eigen/Core>
#include <cstdio>
#include <mutex>
#include <thread>

#include <minicnn/check.h>

namespace minicnn {
namespace {

std::mutex& log_mutex() {
  static std::mutex m;
  return m;
}

LogHandler& log_handler() {
  static LogHandler handler = [](const std::string& message) {
    std::fprintf(stderr, "minicnn: warning: %s\n", message.c_str());
  };
  return handler;
}

}  // namespace

void set_log_handler(LogHandler handler) {
  std::lock_guard<std::mutex> lock(log_mutex());
  log_handler() = std::move(handler);
}

void log_warning(const std::string& message) {
  std::lock_guard<std::mutex> lock(log_mutex());
  if (log_handler()) log_handler()(message);
}

void set_num_threads(int threads) {
  MINICNN_CHECK(threads >= 0, "threads: expected a count >= 0 (0 = all cores), but got ", threads);
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  omp_set_num_threads(threads);
  Eigen::setNbThreads(threads);
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace minicnn
