// The warning hook, the CPU thread count and the denormal-flushing mode of the CPU threads.
#include <minicnn/runtime.h>

#include <omp.h>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define MINICNN_HAS_MXCSR 1
#endif

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

#ifdef MINICNN_HAS_MXCSR
namespace {
constexpr unsigned kFtzDaz = 0x8040;  // MXCSR bits 15 (flush to zero) and 6 (denormals are zero)
}  // namespace

FlushDenormals::FlushDenormals() : saved_(static_cast<size_t>(num_threads())) {
  // Every thread of the pool sets its own control register; OpenMP reuses these threads for the
  // parallel regions that follow, up to the same count.
#pragma omp parallel num_threads(static_cast<int>(saved_.size()))
  {
    const unsigned mode = _mm_getcsr();
    saved_[static_cast<size_t>(omp_get_thread_num())] = mode;
    _mm_setcsr(mode | kFtzDaz);
  }
}

FlushDenormals::~FlushDenormals() {
#pragma omp parallel num_threads(static_cast<int>(saved_.size()))
  _mm_setcsr(saved_[static_cast<size_t>(omp_get_thread_num())]);
}

bool FlushDenormals::active_on_this_thread() { return (_mm_getcsr() & kFtzDaz) == kFtzDaz; }
#else
FlushDenormals::FlushDenormals() = default;
FlushDenormals::~FlushDenormals() = default;
bool FlushDenormals::active_on_this_thread() { return false; }
#endif

}  // namespace minicnn
