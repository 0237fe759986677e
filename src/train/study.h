// The pooling study: every variant trained with every seed (paired seeds), resumable and shardable, then
// results.csv, report.md and plots computed from the runs.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <minicnn/trainer.h>

namespace minicnn {

/// A study: `base` holds the data set, preset, recipe, device and threads; each run swaps the preset's
/// pooling layers for one variant and uses one seed.
struct StudyConfig {
  TrainConfig base;                   // base.spec is the preset's own spec; base.seed and out_dir are ignored
  std::vector<std::string> variants;  // the first is the reference of the paired comparisons
  int64_t seeds = 3;                  // seeds first_seed .. first_seed + seeds - 1, the same for every variant
  uint64_t first_seed = 1;
  std::string out_dir;
  int64_t shard_index = 0, shard_count = 1;  // this process trains runs with grid index % count == index

  /// The fields that define the study's results, as JSON (study.json in the study directory). A study
  /// with more seeds is the same study grown: run_study() accepts it in the folder of a smaller one.
  std::string to_json() const;
};

/// One cell of the grid: its run directory is <study>/runs/<variant>-seed<seed>.
struct StudyRun {
  std::string variant;
  uint64_t seed;
  std::string dir;
};

std::vector<StudyRun> study_grid(const StudyConfig& config);

struct StudyCallbacks {
  /// Called before each run of this shard: index from 1, the shard's count, and what happens to it
  /// ("training", "resuming", "finished earlier", "damaged: training again").
  std::function<void(const StudyRun&, int64_t index, int64_t count, const std::string& status)> on_run;
  /// Returns the trainer's callbacks for a run (a progress bar labelled with the run).
  std::function<TrainCallbacks(const StudyRun&)> train_callbacks;
};

/// What write_study_results() found: complete runs, and the runs of the grid still missing.
struct StudySummary {
  int64_t complete_runs = 0;
  std::vector<std::string> missing;
  std::string report_path;
  bool interrupted = false;  // a run stopped at should_stop(); nothing was written after it
  std::string interrupted_run;  // "max2 seed 2"
};

/// Trains this shard's runs (finished runs are not trained again; interrupted ones resume; a run whose
/// checkpoint is damaged is trained again), then writes the results of every finished run in the study
/// and returns what write_study_results() found. Each run measures its Eval-mode training accuracy, the
/// report's overfitting figure. A run interrupted through its callbacks' should_stop() ends the study
/// there (summary.interrupted).
StudySummary run_study(const StudyConfig& config, const DatasetSplit& data, const StudyCallbacks& callbacks = {});

/// Writes results.csv, report.md and the plots (gnuplot, when installed) of `dir` from its runs.
StudySummary write_study_results(const std::string& dir);

/// Copies the runs of several study directories (shards of one study) into `out` and writes its results.
StudySummary merge_studies(const std::vector<std::string>& dirs, const std::string& out);

}  // namespace minicnn
