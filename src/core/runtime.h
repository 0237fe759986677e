// Process-wide settings of the library: the warning hook and the number of CPU threads.
#pragma once

#include <functional>
#include <string>

namespace minicnn {

/// Receives the library's warnings (the library itself never prints). The default handler writes
/// "minicnn: warning: ..." to stderr; pass nullptr to drop warnings.
using LogHandler = std::function<void(const std::string& message)>;
void set_log_handler(LogHandler handler);
void log_warning(const std::string& message);

/// Threads used by CPU kernels and Eigen (OpenMP); 0 means all cores.
void set_num_threads(int threads);
int num_threads();

}  // namespace minicnn
