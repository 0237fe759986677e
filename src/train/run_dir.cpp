// Run directory checks, and the move-aside of an --overwrite that is undone unless the new run writes a file.
#include <minicnn/run_dir.h>

#include <fmt/format.h>

#include <filesystem>

#include <minicnn/check.h>
#include <minicnn/file_io.h>
#include <minicnn/trainer.h>

namespace minicnn {
namespace {

namespace fs = std::filesystem;

// A file of a run (not the hidden folder, not a temporary of an atomic write).
bool is_run_file(const fs::path& p) {
  const std::string name = p.filename().string();
  return name == "model.safetensors" || name == "metrics.csv" || name == "summary.json";
}

bool holds_run_files(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (is_run_file(entry.path())) return true;
  }
  return false;
}

// Moves every entry of `from` except `skip` into `to` (same file system: renames).
void move_entries(const fs::path& from, const fs::path& to, const std::string& skip) {
  for (const auto& entry : fs::directory_iterator(from)) {
    if (entry.path().filename() == skip) continue;
    fs::rename(entry.path(), to / entry.path().filename());
  }
}

}  // namespace

void check_run_dir(const std::string& dir, RunDirPolicy policy) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    detail::throw_error(fmt::format("train: --out '{}' exists and is not a directory", dir));
  }
  const bool existed = fs::exists(dir, ec);
  const bool non_empty = existed && !fs::is_empty(dir, ec);
  if (non_empty && policy == RunDirPolicy::Fresh) {
    detail::throw_error(
        fmt::format("train: run directory '{}' is not empty; pass --resume to continue that run or "
                    "--overwrite to replace it",
                    dir));
  }
  fs::create_directories(dir, ec);
  MINICNN_CHECK(!ec && fs::is_directory(dir), "train: cannot create the run directory '", dir,
                "': ", ec.message());
  // Find an unwritable or full disk now, not after the first epoch.
  const std::string probe = (fs::path(dir) / ".write-probe").string();
  std::string failure;
  try {
    write_file_atomic(probe, std::string(1 << 20, '\0'), "train");
  } catch (const Error& e) {
    failure = e.what();
  }
  fs::remove(probe, ec);
  if (!existed) fs::remove_all(dir, ec);  // a check leaves no trace; RunDirectory creates it for the run
  if (!failure.empty()) {
    detail::throw_error(
        fmt::format("train: cannot write to the run directory '{}' ({}); free space or choose another --out",
                    dir, failure));
  }
}

RunDirectory::RunDirectory(std::string dir, RunDirPolicy policy) : dir_(std::move(dir)) {
  recover(dir_);
  std::error_code ec;
  created_ = !fs::exists(dir_, ec);
  fs::create_directories(dir_, ec);
  MINICNN_CHECK(!ec, "train: cannot create the run directory '", dir_, "': ", ec.message());
  if (policy != RunDirPolicy::Overwrite || fs::is_empty(dir_)) return;
  const fs::path aside = fs::path(dir_) / kReplacedFolder;
  fs::create_directory(aside, ec);
  MINICNN_CHECK(!ec, "train: cannot set the previous contents of '", dir_, "' aside: ", ec.message());
  pending_ = true;
  move_entries(dir_, aside, kReplacedFolder);
}

RunDirectory::~RunDirectory() {
  std::error_code ec;
  if (created_ && !committed_) {
    fs::remove_all(dir_, ec);  // the run wrote nothing: no empty folder is left behind
    return;
  }
  if (!pending_) return;
  // The new run wrote nothing of its own: its leftovers go and the previous contents come back.
  const fs::path aside = fs::path(dir_) / kReplacedFolder;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.path().filename() != kReplacedFolder) fs::remove_all(entry.path(), ec);
  }
  try {
    move_entries(aside, dir_, "");
    fs::remove(aside, ec);
  } catch (const fs::filesystem_error&) {
    // Left in the hidden folder; the next RunDirectory on this path puts them back.
  }
}

void RunDirectory::commit() {
  committed_ = true;
  if (!pending_) return;
  pending_ = false;
  std::error_code ec;
  fs::remove_all(fs::path(dir_) / kReplacedFolder, ec);
}

void RunDirectory::recover(const std::string& dir) {
  std::error_code ec;
  const fs::path aside = fs::path(dir) / kReplacedFolder;
  if (!fs::is_directory(aside, ec)) return;
  if (holds_run_files(dir)) {
    fs::remove_all(aside, ec);
    return;
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename() != kReplacedFolder) fs::remove_all(entry.path(), ec);
  }
  move_entries(aside, dir, "");
  fs::remove(aside, ec);
}

}  // namespace minicnn
