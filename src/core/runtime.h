// Process-wide settings of the library: the warning hook and the number of CPU threads.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace minicnn {

/// Receives the library's warnings (the library itself never prints). The default handler writes
/// "minicnn: warning: ..." to stderr; pass nullptr to drop warnings.
using LogHandler = std::function<void(const std::string& message)>;
void set_log_handler(LogHandler handler);
void log_warning(const std::string& message);

/// Threads used by CPU kernels and Eigen (OpenMP); 0 means all cores.
void set_num_threads(int threads);
int num_threads();

/// While alive, the calling thread and every OpenMP thread of the library flush denormal results to zero
/// and read denormal inputs as zero (the x86 FTZ and DAZ modes), as PyTorch's
/// torch.set_flush_denormal(True) does. Training and evaluation run under it: as weights shrink, products
/// of tiny values turn denormal and each such operation costs ~100 cycles, which made a run's third epoch
/// half as fast as its first. Bit-exact work (`minicnn pool`, the parity tests) runs without it, since
/// DAZ would read a denormal input as zero. The previous modes come back at destruction.
class FlushDenormals {
 public:
  FlushDenormals();
  ~FlushDenormals();
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

  /// Whether the calling thread flushes denormals now (for tests).
  static bool active_on_this_thread();

 private:
  std::vector<unsigned> saved_;  // each thread's previous control word, by OpenMP thread number
};

}  // namespace minicnn
