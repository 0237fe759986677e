// The run directory's life: checked before anything changes; an --overwrite keeps the previous contents
// until the new run has written its first file.
#pragma once

#include <string>

namespace minicnn {

enum class RunDirPolicy;

/// Refuses a run directory that cannot hold this run, changing nothing: a path that is not a directory, a
/// non-empty directory under RunDirPolicy::Fresh, a directory that cannot be created or written (a 1 MiB
/// probe file, removed again, as is a directory created for it).
void check_run_dir(const std::string& dir, RunDirPolicy policy);

/// Owns the replacement of a run directory's contents. Under Overwrite the previous contents move into
/// the hidden folder `kReplacedFolder` inside it (a rename: nothing is copied or lost), and go only when
/// commit() says the new run has written its first file; if the RunDirectory is destroyed before that
/// (an error, an interruption) they move back and the new run's files go. A process killed in between
/// leaves them in the hidden folder, and the next RunDirectory on that path puts them back first. A
/// directory the RunDirectory created is removed again when the run writes nothing.
class RunDirectory {
 public:
  static constexpr const char* kReplacedFolder = ".replaced-by-overwrite";

  RunDirectory(std::string dir, RunDirPolicy policy);
  ~RunDirectory();
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;

  /// The new run has written a file of its own: the previous contents are no longer needed.
  void commit();
  const std::string& path() const { return dir_; }

  /// Puts back contents a killed --overwrite left in the hidden folder, unless the new run had written
  /// its first file (then they are removed). Called by the constructor; harmless when there is nothing.
  static void recover(const std::string& dir);

 private:
  std::string dir_;
  bool created_ = false;    // the directory did not exist: a run that writes nothing removes it again
  bool committed_ = false;  // the new run has written a file of its own
  bool pending_ = false;    // previous contents are aside, waiting for commit()
};

}  // namespace minicnn
