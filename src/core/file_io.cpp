// File reading and the atomic write protocol, with its fault-injection points.
#include <minicnn/file_io.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <minicnn/check.h>

namespace minicnn {
namespace {

void maybe_fault(const char* point, const std::string& path) {
  const char* fault = std::getenv("MINICNN_FAULT");
  if (fault == nullptr || std::strcmp(fault, point) != 0) return;
  const char* only = std::getenv("MINICNN_FAULT_FILE");
  if (only != nullptr && path.find(only) == std::string::npos) return;
  std::raise(SIGKILL);
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

std::vector<uint8_t> read_file(const std::string& path, const char* component, uint64_t max_bytes) {
  struct stat st {};
  MINICNN_CHECK(::stat(path.c_str(), &st) == 0, component, ": cannot open '", path, "': ", errno_text());
  MINICNN_CHECK(!S_ISDIR(st.st_mode), component, ": expected a file, but '", path, "' is a directory");
  MINICNN_CHECK(static_cast<uint64_t>(st.st_size) <= max_bytes, component, ": '", path, "' has ", st.st_size,
                " bytes, more than the ", max_bytes, " this reader accepts");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  MINICNN_CHECK(fd >= 0, component, ": cannot open '", path, "': ", errno_text());
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = n < 0 ? errno_text() : "the file shrank while it was read";
      ::close(fd);
      detail::throw_error(detail::concat(component, ": cannot read '", path, "': ", why));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return bytes;
}

void write_file_atomic(const std::string& path, std::string_view bytes, const char* component) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string tmp = (dir / ("." + target.filename().string() + "." + std::to_string(::getpid()) + ".tmp")).string();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  MINICNN_CHECK(fd >= 0, component, ": cannot write '", path, "': ", errno_text());
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string why = errno_text();
      ::close(fd);
      ::unlink(tmp.c_str());
      detail::throw_error(detail::concat(component, ": cannot write '", path, "': ", why, "; the previous file is kept"));
    }
    done += static_cast<size_t>(n);
  }
  maybe_fault("after-write", path);
  if (::fsync(fd) != 0) {
    const std::string why = errno_text();
    ::close(fd);
    ::unlink(tmp.c_str());
    detail::throw_error(detail::concat(component, ": cannot write '", path, "': ", why, "; the previous file is kept"));
  }
  ::close(fd);
  maybe_fault("after-fsync", path);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    detail::throw_error(detail::concat(component, ": cannot replace '", path, "': ", why, "; the previous file is kept"));
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  maybe_fault("after-rename", path);
}

}  // namespace minicnn
