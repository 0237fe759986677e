// Whole-file reads with clear errors, and atomic writes (temporary file, fsync, rename).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace minicnn {

/// Reads a whole file; throws Error naming `component` and the path when it is missing, a directory,
/// unreadable, or larger than `max_bytes`.
std::vector<uint8_t> read_file(const std::string& path, const char* component, uint64_t max_bytes = uint64_t{1} << 36);

/// Writes `bytes` to `path` atomically: a temporary file in the same directory (its name ends in ".tmp",
/// never in the final extension), fsync, rename over `path`, fsync of the directory. A crash at any
/// point leaves either the old file or the new one. For tests, MINICNN_FAULT=after-write|after-fsync|
/// after-rename (optionally with MINICNN_FAULT_FILE=<substring of the path>) kills the process with
/// SIGKILL at that point.
void write_file_atomic(const std::string& path, std::string_view bytes, const char* component);

}  // namespace minicnn
