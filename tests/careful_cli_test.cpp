// The command line as a careful user meets it: no run lost to a refused --overwrite or an interruption, a
// classifier that fits the data set's classes, `--resume` from the run's own record, checks before the
// banner, and errors in our own words.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "test_util.h"

namespace minicnn {
namespace {

namespace fs = std::filesystem;
using testing::contains;
using testing::run_cli;
using testing::TempDir;

// Every file of `dir` (recursively, hidden ones included) with its bytes.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file())
      files[fs::relative(e.path(), dir).string()] = testing::read_bytes(e.path().string());
  }
  return files;
}

// 256 training images in batches of 32: 8 steps an epoch.
class CarefulCli : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_tiny_mnist(data_.path().string(), 256, 64); }

  std::string train_args(const std::string& out, int epochs, const std::string& extra = "") const {
    return "train --dataset mnist --data " + data_.path().string() +
           " --model 'Conv2d(1, 4, 3, stride=2) ReLU MaxPool2d(2) Flatten LazyLinear(10)' --epochs " +
           std::to_string(epochs) +
           " --batch-size 32 --optimizer sgd --lr 0.05 --schedule none --seed 3 --threads 1 --out " + out +
           (extra.empty() ? "" : " " + extra);
  }
  // A finished run in `out` and the bytes of its files.
  std::map<std::string, std::string> finished_run(const std::string& out) const {
    const auto r = run_cli(train_args(out, 1));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return snapshot(out);
  }

  TempDir data_{"careful_data"};
};

TEST_F(CarefulCli, RefusedOverwriteLeavesTheRunByteForByte) {
  TempDir tmp("careful_refused");
  const std::string out = tmp / "run";
  const auto before = finished_run(out);
  const std::string data =
      " --dataset mnist --data " + data_.path().string() + " --out " + out + " --overwrite";
  for (const std::string& bad : {
           std::string("--model 'Conv2d(1, 8, 3) ReLU Flatten Linear(5, 10)'"),   // wrong in_features
           std::string("--model 'Conv2d(1, 8, 3) Relu Flatten LazyLinear(10)'"),  // a typo
           std::string("--model 'Conv2d(1, 8, 3) ReLU Flatten'"),                 // no classifier
           std::string("--model 'Flatten LazyLinear(5)'"),                        // 5 classes, MNIST has 10
           std::string("--model lenet5 --limit-train 99999"),  // more images than there are
           std::string("--model lenet5 --epochs 0"),           // a flag out of range
       }) {
    const auto r = run_cli("train" + data + " " + bad);
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_FALSE(contains(r.output, " on MNIST (")) << "banner before the checks: " << r.output;
    EXPECT_EQ(snapshot(out), before) << bad << "\n" << r.output;
  }
}

TEST_F(CarefulCli, InterruptedOverwriteLeavesTheRunByteForByte) {
  TempDir tmp("careful_interrupted");
  const std::string out = tmp / "run";
  const auto before = finished_run(out);
  const auto r = run_cli(train_args(out, 2, "--overwrite --lr 0.1"), "MINICNN_FAULT=sigint-at-step-3");
  EXPECT_EQ(r.exit_code, 130) << r.output;
  EXPECT_TRUE(contains(r.output,
                       "minicnn: interrupted before the run wrote its first checkpoint: nothing of it was "
                       "kept, and '" +
                           out + "' holds its previous contents again"))
      << r.output;
  EXPECT_EQ(snapshot(out), before);
}

TEST_F(CarefulCli, OverwriteKilledBeforeItsFirstFileIsPutBackByTheNextRun) {
  TempDir tmp("careful_killed");
  const std::string out = tmp / "run";
  const auto before = finished_run(out);
  // Killed while writing its first file (metrics.csv, not yet renamed): the old files are aside.
  const auto killed = run_cli(train_args(out, 1, "--overwrite --lr 0.1"),
                              "MINICNN_FAULT=after-write MINICNN_FAULT_FILE=metrics.csv");
  EXPECT_EQ(killed.exit_code, 128 + 9) << killed.output;
  EXPECT_TRUE(fs::exists(out + "/.replaced-by-overwrite/model.safetensors"));
  const auto resumed = run_cli("train --out " + out + " --resume");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(contains(resumed.output, "already finished")) << resumed.output;
  EXPECT_EQ(snapshot(out), before);
}

TEST_F(CarefulCli, OverwriteReplacesTheRunOnceTheNewOneHasWrittenAFile) {
  TempDir tmp("careful_replace");
  const std::string out = tmp / "run";
  finished_run(out);
  testing::write_bytes(out + "/notes.txt", "mine");
  const auto r = run_cli(train_args(out, 1, "--overwrite --lr 0.1"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "note: replacing the contents of '" + out + "'")) << r.output;
  EXPECT_FALSE(fs::exists(out + "/notes.txt"));
  EXPECT_FALSE(fs::exists(out + "/.replaced-by-overwrite"));
  EXPECT_TRUE(fs::exists(out + "/model.safetensors"));
  // --overwrite of a folder that does not exist yet is a fresh run.
  const auto fresh = run_cli(train_args(tmp / "new", 1, "--overwrite"));
  EXPECT_EQ(fresh.exit_code, 0) << fresh.output;
  EXPECT_FALSE(contains(fresh.output, "replacing")) << fresh.output;
}

// 8 batches an epoch, 1.5 epochs: the second epoch runs 4, and the line counts those.
TEST_F(CarefulCli, CtrlCInAnEpochCutShortCountsTheBatchesThatEpochRuns) {
  TempDir tmp("careful_sigint_short");
  const std::string cut = tmp / "cut";
  const auto r = run_cli(train_args(cut, 2, "--epochs 1.5"), "MINICNN_FAULT=sigint-at-step-10");
  EXPECT_EQ(r.exit_code, 130) << r.output;
  EXPECT_TRUE(contains(r.output, "kept a checkpoint at epoch 2, batch 2 of 4 in '")) << r.output;
}

TEST_F(CarefulCli, CtrlCKeepsACheckpointAndResumeWithNoFlagsEndsAsAnUninterruptedRun) {
  TempDir tmp("careful_sigint");
  const std::string whole = tmp / "whole", cut = tmp / "cut";
  ASSERT_EQ(run_cli(train_args(whole, 2)).exit_code, 0);
  // Checkpoints every 3 steps; interrupted after step 13 (epoch 2, batch 5 of 8).
  const auto r = run_cli(train_args(cut, 2, "--checkpoint-every 3"), "MINICNN_FAULT=sigint-at-step-13");
  EXPECT_EQ(r.exit_code, 130) << r.output;
  EXPECT_TRUE(contains(r.output, "minicnn: interrupted; kept a checkpoint at epoch 2, batch 5 of 8 in '" +
                                     cut + "'; continue with: minicnn train --out " + cut + " --resume"))
      << r.output;
  const auto resumed = run_cli("train --out " + cut + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(contains(resumed.output, "resuming '" + cut + "' at epoch 2, batch 6")) << resumed.output;
  auto metrics = [](const std::string& dir) {
    std::string csv = testing::read_bytes(dir + "/metrics.csv"), out;
    std::stringstream lines(csv);
    for (std::string l; std::getline(lines, l);) {
      int comma = 0;
      size_t i = 0;
      for (; i < l.size() && comma < 6; ++i) comma += l[i] == ',';
      out += l.substr(0, i) + "\n";  // epoch .. lr: every column but the timings
    }
    return out;
  };
  EXPECT_EQ(metrics(cut), metrics(whole));
}

TEST_F(CarefulCli, SigtermExitsWith143AndARunThatWroteNothingLeavesNoFolder) {
  TempDir tmp("careful_sigterm");
  const std::string out = tmp / "run";
  const auto r = run_cli(train_args(out, 1), "MINICNN_FAULT=sigterm-at-step-2");
  EXPECT_EQ(r.exit_code, 143) << r.output;
  EXPECT_TRUE(contains(
      r.output, "minicnn: interrupted before the run wrote its first checkpoint: nothing of it was kept"))
      << r.output;
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(CarefulCli, ResumeRefusesAFlagThatChangesResultsNamingTheField) {
  TempDir tmp("careful_refuse");
  const std::string out = tmp / "run";
  const auto before = finished_run(out);
  const auto r = run_cli("train --out " + out + " --resume --optimizer adam --batch-size 16");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output,
                       "trained with another configuration (optimizer: sgd in the run, adam now; batch size: "
                       "32 in the run, 16 now)"))
      << r.output;
  EXPECT_FALSE(contains(r.output, " on MNIST (")) << r.output;
  EXPECT_EQ(snapshot(out), before);
}

TEST_F(CarefulCli, LargerEpochsExtendAFinishedRunToTheRunOfThatLength) {
  TempDir tmp("careful_extend");
  const std::string two = tmp / "two", one = tmp / "one";
  ASSERT_EQ(run_cli(train_args(two, 2)).exit_code, 0);
  ASSERT_EQ(run_cli(train_args(one, 1)).exit_code, 0);
  const auto r = run_cli("train --out " + one + " --resume --epochs 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "resuming '" + one + "' at epoch 2, batch 1")) << r.output;
  const std::string a = testing::read_bytes(two + "/metrics.csv"),
                    b = testing::read_bytes(one + "/metrics.csv");
  // Same losses and accuracies in both rows (the timing columns differ).
  auto losses = [](const std::string& csv) {
    std::string out;
    std::stringstream lines(csv);
    for (std::string l; std::getline(lines, l);)
      out += l.substr(0, l.find(',', l.find(',', l.find(',') + 1) + 1)) + "\n";
    return out;
  };
  EXPECT_EQ(losses(a), losses(b));
}

TEST_F(CarefulCli, ACosineScheduleIsNotExtendedAndTheRefusalSaysWhy) {
  TempDir tmp("careful_cosine");
  const std::string out = tmp / "run";
  ASSERT_EQ(run_cli(train_args(out, 1, "--schedule cosine")).exit_code, 0);
  const auto r = run_cli("train --out " + out + " --resume --epochs 3");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(
      contains(r.output, "planned for 1 epoch, but its cosine schedule set the learning rate of every epoch"))
      << r.output;
}

TEST_F(CarefulCli, EvalFindsTheRecordedDataFromAnyFolderAndTakesARunDirectory) {
  TempDir tmp("careful_eval");
  // Trained with a relative --data from one folder, evaluated from another.
  std::filesystem::copy(data_.path(), tmp.path() / "mnist");
  const auto r =
      run_cli("train --dataset mnist --data mnist --model lenet5 --epochs 1 --limit-train 64 --out run",
              "cd " + tmp.path().string() + " &&");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto e = run_cli("eval --checkpoint " + (tmp / "run"), "cd / &&");
  EXPECT_EQ(e.exit_code, 0) << e.output;
  EXPECT_TRUE(contains(e.output, "test accuracy: 0.")) << e.output;
}

TEST_F(CarefulCli, AModelWithoutAClassifierIsRefusedBeforeTrainingWithTheFix) {
  TempDir tmp("careful_noclf");
  auto r = run_cli("train --dataset mnist --data " + data_.path().string() +
                   " --model 'Conv2d(1, 8, 3) ReLU Flatten' --out " + (tmp / "a"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "10 classes")) << r.output;
  EXPECT_TRUE(contains(r.output, "LazyLinear(10)")) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "a"));
  r = run_cli("train --dataset mnist --data " + data_.path().string() +
              " --model 'Flatten LazyLinear(5)' --out " + (tmp / "b"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "but got [1, 5]")) << r.output;
  EXPECT_FALSE(contains(r.output, "out of bounds")) << r.output;
}

TEST(CarefulCliFolder, APresetOnAThreeClassFolderGetsAThreeWayHeadAndProbabilitiesThatAddUp) {
  TempDir tmp("careful_folder");
  testing::write_band_folder(tmp / "bands", 32, 6, 2);
  const auto r = run_cli("train --dataset folder --data " + (tmp / "bands") +
                         " --model cifar-cnn --epochs 1 --batch-size 6 --out " + (tmp / "run"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(
      contains(r.output, "note: cifar-cnn's last Linear gives 3 outputs here, one per class of 'bands'"))
      << r.output;
  const auto p = run_cli("predict --checkpoint " + (tmp / "run") + " --logits " + (tmp / "logits.npy") + " " +
                         (tmp / "bands/test/top/0.png"));
  ASSERT_EQ(p.exit_code, 0) << p.output;
  // "....png: top  (top-3: top 0.412, middle 0.301, bottom 0.287)": three classes whose shares add to 1.
  const size_t open = p.output.find("(top-3: ");
  ASSERT_NE(open, std::string::npos) << p.output;
  double sum = 0;
  int shares = 0;
  for (size_t at = open;
       (at = p.output.find(' ', at + 1)) != std::string::npos && at < p.output.find(')', open);) {
    const std::string word = p.output.substr(at + 1, p.output.find_first_of(",)", at + 1) - at - 1);
    if (!word.empty() && std::isdigit(static_cast<unsigned char>(word[0]))) {
      sum += std::stod(word);
      ++shares;
    }
  }
  EXPECT_EQ(shares, 3) << p.output;
  EXPECT_NEAR(sum, 1.0, 0.002) << p.output;
  EXPECT_NE(testing::read_bytes(tmp / "logits.npy").find("'shape': (1, 3)"), std::string::npos);
}

TEST_F(CarefulCli, TheBannerSaysWhatRunsInWordsThatAgree) {
  TempDir tmp("careful_banner");
  // A repeated flag takes its last value, as in argparse.
  const auto r = run_cli(train_args(tmp / "run", 1, "--epochs 5 --epochs 1"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "for 1 epoch: SGD lr 0.05, momentum 0.9, weight decay 0")) << r.output;
  EXPECT_TRUE(contains(r.output, "(256 training images, 64 test)")) << r.output;
  const auto adam = run_cli(train_args(tmp / "adam", 1, "--optimizer adam --lr 0.001"));
  ASSERT_EQ(adam.exit_code, 0) << adam.output;
  EXPECT_TRUE(contains(adam.output, "Adam lr 0.001, betas (0.9, 0.999), weight decay 0")) << adam.output;
  EXPECT_FALSE(contains(adam.output, "momentum")) << adam.output;
}

// Each usage error is one sentence in our words (flag, expected, got) and exits 2.
TEST(CarefulCliWords, UsageErrorsAreOurSentences) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"train --dataset mnist --lr abc", "minicnn: error: --lr: expected a positive number, but got 'abc'"},
      {"train --dataset mnist --epochs 0",
       "minicnn: error: --epochs: expected a positive number up to 1000000, but got '0'"},
      {"train --dataset mnist --seed -1",
       "minicnn: error: --seed: expected an integer from 0 to 18446744073709551615"},
      {"train --dataset mnist --optimizer sgdd",
       "--optimizer: expected sgd, adam or adamw, but got 'sgdd' (did you mean 'sgd'?)"},
      {"train --dataset mnist --epoch 3",
       "minicnn: error: train: unknown flag '--epoch' (did you mean '--epochs'?)"},
      {"train --dataset mnist --lr", "minicnn: error: --lr: expected a value, but got none"},
      {"train --dataset mnist --drop-last maybe",
       "minicnn: error: --drop-last: expected true or false (or 1 or 0), but got 'maybe'"},
      {"train --dataset mnist --nesterov perhaps",
       "minicnn: error: --nesterov: expected true or false (or 1 or 0), but got 'perhaps'"},
      {"train --dataset mnist --nesterov 2",
       "minicnn: error: --nesterov: expected true or false (or 1 or 0), but got '2'"},
      {"train --dataset mnist --drop-last yes",
       "minicnn: error: --drop-last: expected true or false (or 1 or 0), but got 'yes'"},
      {"study --dataset mnist --model lenet5 --pool max3s2p1 --out x",
       "minicnn: error: study: unknown flag '--pool' (a study names the pooling layers it compares with "
       "--variants"},
      {"summary --model mnist-cnn --input-shape 1,-28,28",
       "minicnn: error: --input-shape: expected 3 comma-separated numbers (integers >= 0), but got "
       "'1,-28,28'"},
      {"trian", "minicnn: error: 'trian' is not a minicnn command (did you mean 'train'?)"},
      {"",
       "minicnn: error: expected a command (train, eval, predict, summary, pool, explain, study or export), "
       "but got "
       "none"},
      {"train --epochs 2", "minicnn: error: train: --dataset is required"},
  };
  for (const auto& [args, sentence] : cases) {
    const auto r = run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, sentence)) << args << "\n" << r.output;
    for (const char* leak :
         {"At Most", "Could not convert", "The following argument", "Run 'minicnn --help'"}) {
      EXPECT_FALSE(contains(r.output, leak)) << args << "\n" << r.output;
    }
  }
}

}  // namespace
}  // namespace minicnn
