// Runs that die mid-way: `minicnn train` killed at each step of the atomic checkpoint write
// (MINICNN_FAULT) and at random moments (SIGKILL), then resumed; the run must always hold a checkpoint
// that loads, never a temporary named *.safetensors, and finish with the metrics of an uninterrupted run.
// A damaged checkpoint is refused by eval and by train --resume.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <minicnn/check.h>
#include <minicnn/checkpoint.h>
#include <minicnn/random.h>
#include "test_util.h"

extern char** environ;

namespace minicnn {
namespace {

namespace fs = std::filesystem;
using testing::contains;
using testing::run_cli;
using testing::TempDir;

constexpr int kKilled = 128 + SIGKILL;

// 256 training images in batches of 32: 8 steps an epoch; checkpoints every 3 steps and at epoch ends.
class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_tiny_mnist(data_.path().string(), 256, 64); }

  std::vector<std::string> train_args(const std::string& out, int epochs, bool resume,
                                      int checkpoint_every = 3) const {
    std::vector<std::string> a = {
        "train",
        "--dataset",
        "mnist",
        "--data",
        data_.path().string(),
        "--model",
        "Conv2d(1, 4, 3, stride=2) ReLU MaxPool2d(2) Flatten Dropout(0.1) LazyLinear(10)",
        "--epochs",
        std::to_string(epochs),
        "--batch-size",
        "32",
        "--optimizer",
        "sgd",
        "--lr",
        "0.05",
        "--momentum",
        "0.9",
        "--weight-decay",
        "0.0001",
        "--schedule",
        "cosine",
        "--seed",
        "3",
        "--threads",
        "1",
        "--checkpoint-every",
        std::to_string(checkpoint_every),
        "--out",
        out};
    if (resume) a.push_back("--resume");
    return a;
  }

  // The same command through the shell (run_cli), with `env` (e.g. "MINICNN_FAULT=after-write") in front.
  testing::CommandResult train(const std::string& out, int epochs, bool resume, const std::string& env = "",
                               int checkpoint_every = 3) const {
    std::string args;
    for (const std::string& a : train_args(out, epochs, resume, checkpoint_every)) args += "'" + a + "' ";
    return run_cli(args, env);
  }

  TempDir data_{"crash_data"};
};

std::string fault_env(const std::string& point) {
  return "MINICNN_FAULT=" + point + " MINICNN_FAULT_FILE=model.safetensors";
}

// Files of `dir` ending in .safetensors other than the checkpoint itself: temporaries must never be named so.
std::vector<std::string> stray_safetensors(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name != "model.safetensors" && e.path().extension() == ".safetensors") out.push_back(name);
  }
  return out;
}

// The loss and accuracy columns of metrics.csv (not seconds or images/s, which are timings).
std::vector<std::string> metric_columns(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> rows;
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string field, kept;
    for (int column = 0; std::getline(fields, field, ','); ++column) {
      if (column <= 4) kept += field + ",";  // epoch, train_loss, train_accuracy, test_loss, test_accuracy
    }
    rows.push_back(kept);
  }
  return rows;
}

// Runs `args` under the CLI as a child process (output to `log`) and SIGKILLs it after `delay`; returns
// its exit code as the shell reports it (128 + 9 when it was killed).
int run_and_kill_after(const std::vector<std::string>& args, std::chrono::milliseconds delay,
                       const std::string& log) {
  std::vector<std::string> argv_text = {MINICNN_CLI_PATH};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  MINICNN_ASSERT(rc == 0, "posix_spawn failed");
  const auto deadline = std::chrono::steady_clock::now() + delay;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_F(CrashTest, KilledAtEachStepOfACheckpointWriteKeepsACheckpointAndResumes) {
  TempDir tmp("crash_fault");
  const std::string whole = tmp / "whole";
  ASSERT_EQ(train(whole, 2, false).exit_code, 0);
  for (const std::string point : {"after-write", "after-fsync", "after-rename"}) {
    SCOPED_TRACE(point);
    const std::string out = tmp / point;
    // The first checkpoint (step 3) is written completely, then the process dies: a previous one exists.
    auto r = train(out, 2, false, fault_env("after-rename"));
    ASSERT_EQ(r.exit_code, kKilled) << r.output;
    ASSERT_EQ(load_checkpoint(out + "/model.safetensors").state.global_step, 3);
    // The second checkpoint (step 6) dies at `point`: the old one or the new one is in place, whole.
    r = train(out, 2, true, fault_env(point));
    ASSERT_EQ(r.exit_code, kKilled) << r.output;
    const Checkpoint c = load_checkpoint(out + "/model.safetensors");
    EXPECT_EQ(c.state.global_step, point == "after-rename" ? 6 : 3);
    EXPECT_EQ(stray_safetensors(out), std::vector<std::string>{});
    r = train(out, 2, true);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "test accuracy: ")) << r.output;
    EXPECT_TRUE(load_checkpoint(out + "/model.safetensors").state.finished);
    EXPECT_EQ(metric_columns(out + "/metrics.csv"), metric_columns(whole + "/metrics.csv"));
  }
}

TEST_F(CrashTest, KilledRightAfterTheLastCheckpointStillLeavesCompleteMetrics) {
  // One epoch and no mid-epoch checkpoints: the first checkpoint written is the last, marked finished.
  TempDir tmp("crash_last");
  const std::string whole = tmp / "whole", out = tmp / "cut";
  ASSERT_EQ(train(whole, 1, false, "", 0).exit_code, 0);
  auto r = train(out, 1, false, fault_env("after-rename"), 0);
  ASSERT_EQ(r.exit_code, kKilled) << r.output;
  ASSERT_TRUE(load_checkpoint(out + "/model.safetensors").state.finished);
  r = train(out, 1, true, "", 0);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(metric_columns(out + "/metrics.csv"), metric_columns(whole + "/metrics.csv"));
  EXPECT_TRUE(fs::exists(out + "/summary.json"));
}

TEST_F(CrashTest, KilledAtRandomMomentsResumesToTheSameMetrics) {
  TempDir tmp("crash_random");
  const std::string whole = tmp / "whole", out = tmp / "cut";
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(train(whole, 3, false).exit_code, 0);
  const auto full =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  // Five tries killed after seeded delays of 5% to 35% of a whole run (the first after at most 10%, so
  // that one kill happens even if the machine has become much faster), each resuming the last; the sixth
  // runs to the end. A try that finishes before its delay ends the loop early.
  Generator gen(20240611);
  const std::string log = tmp / "runs.log";
  int kills = 0, runs = 0;
  for (; runs < 6; ++runs) {
    const int64_t spread = runs == 0 ? full.count() / 20 : full.count() * 3 / 10;
    const int64_t ms = runs == 5 ? 600000 : full.count() / 20 + static_cast<int64_t>(gen.below(spread + 1));
    const int code = run_and_kill_after(train_args(out, 3, runs > 0), std::chrono::milliseconds(ms), log);
    if (fs::exists(out + "/model.safetensors")) {
      EXPECT_NO_THROW(load_checkpoint(out + "/model.safetensors")) << "after run " << runs;
    }
    if (fs::exists(out)) {
      EXPECT_EQ(stray_safetensors(out), std::vector<std::string>{}) << "after run " << runs;
    }
    if (code == 0) break;
    ASSERT_EQ(code, kKilled) << testing::read_bytes(log);
    ++kills;
  }
  ASSERT_LT(runs, 6) << testing::read_bytes(log);
  EXPECT_GE(kills, 1) << testing::read_bytes(log);
  EXPECT_TRUE(load_checkpoint(out + "/model.safetensors").state.finished);
  EXPECT_EQ(metric_columns(out + "/metrics.csv"), metric_columns(whole + "/metrics.csv"));
}

TEST_F(CrashTest, InterruptedAndResumedRunHasTheMetricsOfAnUninterruptedOne) {
  TempDir tmp("crash_same");
  const std::string whole = tmp / "whole", out = tmp / "cut";
  ASSERT_EQ(train(whole, 2, false).exit_code, 0);
  // Killed after the first checkpoint (step 3, mid-epoch 1), resumed to the end.
  ASSERT_EQ(train(out, 2, false, fault_env("after-rename")).exit_code, kKilled);
  const auto r = train(out, 2, true);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::vector<std::string> a = metric_columns(whole + "/metrics.csv"),
                                 b = metric_columns(out + "/metrics.csv");
  ASSERT_EQ(a.size(), 3u);  // the header and two epochs
  EXPECT_EQ(a, b);
}

TEST_F(CrashTest, DamagedCheckpointIsRefusedByEvalAndResume) {
  TempDir tmp("crash_damaged");
  const std::string out = tmp / "run";
  ASSERT_EQ(train(out, 1, false).exit_code, 0);
  // Flip bytes near the end of the file: tensor data (the header comes first).
  const std::string path = out + "/model.safetensors";
  std::string bytes = testing::read_bytes(path);
  ASSERT_GT(bytes.size(), 100u);
  for (size_t i = bytes.size() - 40; i < bytes.size() - 36; ++i)
    bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
  testing::write_bytes(path, bytes);

  auto r = run_cli("eval --checkpoint '" + path + "' --data '" + data_.path().string() + "'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "minicnn: error: safetensors: '" + path + "' is damaged")) << r.output;
  r = train(out, 1, true);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "' is damaged: the checksum of its tensor data does not match")) << r.output;
}

}  // namespace
}  // namespace minicnn
