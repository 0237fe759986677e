// The pooling study on a tiny data set: the grid, results.csv and report.md, resumption after an
// interruption, damaged runs trained again, and shards merged into the same results.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <minicnn/check.h>
#include <minicnn/checkpoint.h>
#include <minicnn/mnist.h>
#include <minicnn/study.h>
#include "test_util.h"

namespace minicnn {
namespace {

using testing::TempDir;

StudyConfig tiny_study(const std::string& out) {
  StudyConfig s;
  s.base.dataset = "mnist";
  s.base.model_name = "tiny";
  s.base.spec = "Conv2d(1, 4, 3, stride=2) ReLU MaxPool2d(2) Flatten Linear(144, 10)";
  s.base.input_chw = {1, 28, 28};
  s.base.recipe =
      plain_recipe(OptimizerKind::SGD, 0.05, 0.9, 0.0, ScheduleKind::None, Augment::None, 32, 2);
  s.base.threads = 2;
  s.variants = {"max2", "avg2", "max3s2p1"};
  s.seeds = 2;
  s.out_dir = out;
  return s;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

class Study : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_tiny_mnist(data_dir_.path().string(), 128, 32); }
  DatasetSplit data() const { return load_mnist(data_dir_.path().string()); }
  TempDir data_dir_{"study_data"};
};

TEST_F(Study, WritesResultsAndAReportFromTheNumbers) {
  TempDir out("study_run");
  run_study(tiny_study(out.path().string()), data());
  const auto csv = lines_of(out / "results.csv");
  ASSERT_EQ(csv.size(), 1u + 3 * 2 * 2);  // header + variants x seeds x epochs
  EXPECT_EQ(csv[0],
            "variant,seed,epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_sec,"
            "train_eval_accuracy");
  EXPECT_EQ(csv[1].substr(0, 9), "max2,1,1,");
  const std::string report = testing::read_bytes(out / "report.md");
  EXPECT_NE(report.find("| max2 |"), std::string::npos) << report;
  EXPECT_NE(report.find("difference to max2 (paired, points, 95% interval)"), std::string::npos);
  EXPECT_NE(report.find("## What the study found"), std::string::npos);
  EXPECT_NE(report.find("Highest mean final test accuracy"), std::string::npos);
  EXPECT_NE(report.find("4x6x6"), std::string::npos) << report;  // max3s2p1 keeps max2's output size
  // The time plot chooses its own ticks: one per unit, as on the epoch axis, is one per second.
  const std::string script = testing::read_bytes(out / "plots.gp");
  const size_t time_plot = script.find("accuracy_vs_time.png");
  ASSERT_NE(time_plot, std::string::npos) << script;
  EXPECT_NE(script.find("set xtics autofreq", time_plot), std::string::npos) << script;
}

TEST_F(Study, ReportsASingleVariantWithoutRankingItAgainstItself) {
  TempDir out("study_single");
  StudyConfig config = tiny_study(out.path().string());
  config.variants = {"avg2"};
  config.seeds = 1;
  run_study(config, data());
  const std::string report = testing::read_bytes(out / "report.md");
  EXPECT_NE(report.find("One variant has finished runs: **avg2**"), std::string::npos) << report;
  EXPECT_EQ(report.find("lowest:"), std::string::npos) << report;
  EXPECT_EQ(report.find("smallest"), std::string::npos) << report;
  // One seed has no spread and no interval: said in words, never as nan or a zero deviation.
  EXPECT_NE(report.find("(sd n/a: one seed)"), std::string::npos) << report;
  for (const char* wrong : {"nan", "inf", "± 0.00%", "1 epochs", "seed(s)"}) {
    EXPECT_EQ(report.find(wrong), std::string::npos) << wrong << "\n" << report;
  }
}

TEST_F(Study, OneSeedGivesNoIntervalAndNoNaNInTheFindings) {
  TempDir out("study_one_seed");
  StudyConfig config = tiny_study(out.path().string());
  config.variants = {"max2", "avg2"};
  config.seeds = 1;
  run_study(config, data());
  const std::string report = testing::read_bytes(out / "report.md");
  EXPECT_NE(report.find("(n/a: one seed)"), std::string::npos) << report;
  for (const char* wrong : {"nan", "inf", "± 0.00%"}) {
    EXPECT_EQ(report.find(wrong), std::string::npos) << wrong << "\n" << report;
  }
}

// Rewrites the final epoch of every run of a study so that its Eval-mode training accuracy is `gap` away
// from its test accuracy.
void set_final_gap(const std::string& dir, double gap) {
  for (const auto& run : std::filesystem::directory_iterator(std::filesystem::path(dir) / "runs")) {
    const std::string path = (run.path() / "model.safetensors").string();
    const Checkpoint ckpt = load_checkpoint(path);
    std::vector<EpochMetrics> history = history_from_json(ckpt.meta.history_json);
    history.back().train_eval_accuracy = history.back().test_accuracy + gap;
    CheckpointMeta meta = ckpt.meta;
    meta.history_json = history_to_json(history);
    Model model = model_from_checkpoint(ckpt);
    save_checkpoint(path, model, nullptr, meta, ckpt.state);
  }
}

TEST_F(Study, CallsOnlyAPositiveEvalModeGapOverfitting) {
  TempDir out("study_gap");
  StudyConfig config = tiny_study(out.path().string());
  config.variants = {"max2", "avg2"};
  config.seeds = 1;
  run_study(config, data());
  set_final_gap(out.path().string(), -0.05);
  std::string report = testing::read_bytes(write_study_results(out.path().string()).report_path);
  EXPECT_NE(report.find("-5.00 points"), std::string::npos) << report;
  EXPECT_NE(report.find("so none overfits yet"), std::string::npos) << report;
  EXPECT_EQ(report.find("(overfitting)"), std::string::npos) << report;
  set_final_gap(out.path().string(), 0.03);
  report = testing::read_bytes(write_study_results(out.path().string()).report_path);
  EXPECT_NE(report.find("+3.00 points"), std::string::npos) << report;
  EXPECT_EQ(report.find("none overfits"), std::string::npos) << report;
}

TEST_F(Study, RecipeLineShowsOnlyWhatTheOptimizerUses) {
  TempDir out("study_adam");
  StudyConfig config = tiny_study(out.path().string());
  config.variants = {"max2"};
  config.seeds = 1;
  config.base.recipe =
      plain_recipe(OptimizerKind::Adam, 0.001, 0.9, 0.0, ScheduleKind::None, Augment::None, 32, 1);
  run_study(config, data());
  const std::string report = testing::read_bytes(out / "report.md");
  EXPECT_NE(report.find("recipe: Adam lr 0.001, betas (0.9, 0.999), weight decay 0, constant lr"),
            std::string::npos)
      << report;
  EXPECT_EQ(report.find("momentum"), std::string::npos) << report;
}

TEST_F(Study, ResumesWithoutRetrainingAndRedoesDamagedRuns) {
  TempDir out("study_resume");
  StudyConfig config = tiny_study(out.path().string());
  // Interrupt the study inside its third run.
  StudyCallbacks stop;
  int runs_started = 0;
  stop.on_run = [&](const StudyRun&, int64_t, int64_t, const std::string&) { ++runs_started; };
  stop.train_callbacks = [&](const StudyRun&) {
    TrainCallbacks cb;
    cb.on_batch = [&](const BatchProgress& p) {
      if (runs_started == 3 && p.batch == 2) throw Error("interrupted");
    };
    return cb;
  };
  EXPECT_EQ(testing::error_of([&] { run_study(config, data(), stop); }), "interrupted");

  std::map<std::string, std::string> status;
  StudyCallbacks record;
  record.on_run = [&](const StudyRun& r, int64_t, int64_t, const std::string& s) {
    status[r.variant + "-" + std::to_string(r.seed)] = s;
  };
  run_study(config, data(), record);
  EXPECT_EQ(status["max2-1"], "finished earlier");
  EXPECT_EQ(status["avg2-1"], "finished earlier");
  EXPECT_EQ(status["max3s2p1-1"], "training");  // interrupted before its first checkpoint
  EXPECT_EQ(status["max2-2"], "training");
  const std::string complete = testing::read_bytes(out / "results.csv");

  // Damage one run's checkpoint and truncate results.csv: the run is trained again, the file rebuilt.
  const std::string ckpt = out / "runs/avg2-seed2/model.safetensors";
  std::string bytes = testing::read_bytes(ckpt);
  bytes[bytes.size() - 5] ^= 0x55;
  testing::write_bytes(ckpt, bytes);
  testing::write_bytes(out / "results.csv", complete.substr(0, complete.size() / 2));
  status.clear();
  run_study(config, data(), record);
  EXPECT_EQ(status["avg2-2"].rfind("damaged (safetensors: ", 0), 0u) << status["avg2-2"];
  EXPECT_EQ(status["max2-2"], "finished earlier");
  const auto csv = lines_of(out / "results.csv");
  EXPECT_EQ(csv.size(), 13u);
}

TEST_F(Study, ShardsMergeIntoTheSameResultsAsOneRun) {
  TempDir whole("study_whole"), a("study_a"), b("study_b"), merged("study_merged");
  StudyConfig config = tiny_study(whole.path().string());
  config.variants = {"max2", "avg2"};
  run_study(config, data());
  config.out_dir = a.path().string();
  config.shard_index = 0;
  config.shard_count = 2;
  run_study(config, data());
  config.out_dir = b.path().string();
  config.shard_index = 1;
  run_study(config, data());
  EXPECT_EQ(write_study_results(a.path().string()).missing.size(), 2u);
  const StudySummary s = merge_studies({a.path().string(), b.path().string()}, merged.path().string());
  EXPECT_EQ(s.complete_runs, 4);
  EXPECT_TRUE(s.missing.empty());
  // Same metrics (seconds and images/s aside: columns 8 and 9 of 10).
  auto without_timing = [](const std::vector<std::string>& lines) {
    std::vector<std::string> out;
    for (const auto& l : lines) {
      std::vector<std::string> cells;
      std::stringstream ss(l);
      for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
      cells.erase(cells.begin() + 7, cells.begin() + 9);
      std::string joined;
      for (const auto& c : cells) joined += c + ",";
      out.push_back(joined);
    }
    return out;
  };
  EXPECT_EQ(without_timing(lines_of(merged / "results.csv")),
            without_timing(lines_of(whole / "results.csv")));
}

TEST_F(Study, RefusesAnotherConfigurationInTheSameFolder) {
  TempDir out("study_conf");
  StudyConfig config = tiny_study(out.path().string());
  config.variants = {"max2"};
  config.seeds = 1;
  run_study(config, data());
  config.base.recipe.lr = 0.1;
  EXPECT_NE(
      testing::error_of([&] { run_study(config, data()); }).find("holds a study with another configuration"),
      std::string::npos);
}

TEST_F(Study, GrowsWithMoreSeedsAndRefusesFewer) {
  TempDir out("study_grow");
  StudyConfig config = tiny_study(out.path().string());
  config.variants = {"max2"};
  config.seeds = 1;
  run_study(config, data());
  config.seeds = 2;
  std::map<std::string, std::string> status;
  StudyCallbacks record;
  record.on_run = [&](const StudyRun& r, int64_t, int64_t, const std::string& s) {
    status[std::to_string(r.seed)] = s;
  };
  const StudySummary grown = run_study(config, data(), record);
  EXPECT_EQ(status["1"], "finished earlier");
  EXPECT_EQ(status["2"], "training");
  EXPECT_EQ(grown.complete_runs, 2);
  config.seeds = 1;
  EXPECT_NE(testing::error_of([&] {
              run_study(config, data());
            }).find("holds a study of 2 seeds; --seeds 1 would leave"),
            std::string::npos);
}

TEST_F(Study, FirstSeedShiftsEveryRunsSeed) {
  TempDir out("study_first_seed");
  StudyConfig config = tiny_study(out.path().string());
  config.variants = {"max2"};
  config.seeds = 2;
  config.first_seed = 7;
  run_study(config, data());
  EXPECT_TRUE(std::filesystem::exists(out / "runs/max2-seed7/model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(out / "runs/max2-seed8/model.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(out / "runs/max2-seed1"));
  const std::string report = testing::read_bytes(out / "report.md");
  EXPECT_NE(report.find("seeds 7..8"), std::string::npos) << report;
}

TEST(Cli, StudyNeedsAPresetAndAnOutFolder) {
  const auto r = testing::run_cli("study --dataset mnist --model 'Conv2d(1, 2, 3)' --out /tmp/x");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--model should name a preset"), std::string::npos) << r.output;
  const auto v = testing::run_cli(
      "study --dataset mnist --model lenet5 --variants max2,min3 --out /tmp/minicnn_study_bad");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.output.find("pool variant: expected"), std::string::npos) << v.output;
}

}  // namespace
}  // namespace minicnn
