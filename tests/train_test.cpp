// The trainer end to end on a tiny synthetic MNIST: the run directory, reproducibility, checkpoints that
// eval reloads to the same figure, the refusal to overwrite runs, and exact resumption.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include <minicnn/check.h>
#include <minicnn/checkpoint.h>
#include <minicnn/mnist.h>
#include <minicnn/optimizer_factory.h>
#include <minicnn/registry.h>
#include <minicnn/trainer.h>
#include "test_util.h"

namespace minicnn {
namespace {

using testing::error_of;
using testing::TempDir;

TrainConfig tiny_config(const std::string& out, int64_t epochs = 2) {
  TrainConfig c;
  c.dataset = "mnist";
  c.model_name = "custom";
  c.spec = "Conv2d(1, 4, 3, stride=2) ReLU MaxPool2d(2) Flatten Dropout(0.1) LazyLinear(10)";
  c.input_chw = {1, 28, 28};
  c.recipe = plain_recipe(OptimizerKind::SGD, 0.05, 0.9, 1e-4, ScheduleKind::Cosine, Augment::None, 32,
                                static_cast<double>(epochs));
  c.seed = 3;
  c.threads = 2;
  c.out_dir = out;
  return c;
}

class Trainer : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_tiny_mnist(data_dir_.path().string(), 256, 64); }
  DatasetSplit data() const { return load_mnist(data_dir_.path().string()); }
  TempDir data_dir_{"train_data"};
};

TEST_F(Trainer, WritesMetricsSummaryAndACheckpointThatEvalReloads) {
  TempDir out("train_run");
  const DatasetSplit d = data();
  const TrainResult r = train(tiny_config(out.path().string()), d, RunDirPolicy::Fresh);
  ASSERT_EQ(r.history.size(), 2u);
  EXPECT_EQ(r.history[0].epoch, 1);
  EXPECT_GT(r.test_accuracy, 0.5);  // the synthetic digits are learnable
  std::ifstream csv(out / "metrics.csv");
  std::string line;
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, 3);
  const nlohmann::json s = nlohmann::json::parse(std::ifstream(out / "summary.json"));
  for (const char* key : {"dataset", "model", "epochs", "test_accuracy", "test_loss", "train_images_per_sec",
                          "wall_seconds", "peak_rss_mib", "seed"}) {
    EXPECT_TRUE(s.contains(key)) << key;
  }
  EXPECT_DOUBLE_EQ(s["test_accuracy"].get<double>(), r.test_accuracy);
  EXPECT_GT(s["train_images_per_sec"].get<double>(), 0);
  const Checkpoint ckpt = load_checkpoint(out / "model.safetensors");
  Model model = model_from_checkpoint(ckpt);
  EXPECT_DOUBLE_EQ(evaluate(model, d.test, ckpt.meta.normalization).accuracy, r.test_accuracy);
  EXPECT_TRUE(ckpt.state.finished);
}

TEST_F(Trainer, SameSeedGivesTheSameMetrics) {
  TempDir a("train_a"), b("train_b");
  const DatasetSplit d = data();
  const TrainResult ra = train(tiny_config(a.path().string()), d, RunDirPolicy::Fresh);
  const TrainResult rb = train(tiny_config(b.path().string()), d, RunDirPolicy::Fresh);
  for (size_t e = 0; e < ra.history.size(); ++e) {
    EXPECT_EQ(ra.history[e].train_loss, rb.history[e].train_loss);
    EXPECT_EQ(ra.history[e].test_loss, rb.history[e].test_loss);
  }
}

TEST_F(Trainer, RefusesANonEmptyRunDirectoryUnlessAskedTo) {
  TempDir out("train_refuse");
  testing::write_bytes(out / "notes.txt", "mine");
  const DatasetSplit d = data();
  EXPECT_EQ(error_of([&] { train(tiny_config(out.path().string(), 1), d, RunDirPolicy::Fresh); }),
            "train: run directory '" + out.path().string() +
                "' is not empty; pass --resume to continue that run or --overwrite to replace it");
  EXPECT_EQ(testing::read_bytes(out / "notes.txt"), "mine");
  train(tiny_config(out.path().string(), 1), d, RunDirPolicy::Overwrite);
  EXPECT_FALSE(std::filesystem::exists(out / "notes.txt"));
  const TrainResult again = train(tiny_config(out.path().string(), 1), d, RunDirPolicy::Resume);
  EXPECT_TRUE(again.already_finished);
}

TEST_F(Trainer, ResumingAfterAnInterruptionGivesTheSameMetrics) {
  TempDir whole("train_whole"), cut("train_cut");
  const DatasetSplit d = data();
  const TrainResult uninterrupted = train(tiny_config(whole.path().string(), 3), d, RunDirPolicy::Fresh);

  TrainConfig c = tiny_config(cut.path().string(), 3);
  c.checkpoint_every = 5;
  TrainCallbacks stop_at_step_13;
  int steps = 0;
  stop_at_step_13.on_batch = [&](const BatchProgress&) {
    if (++steps == 13) throw Error("interrupted");  // after the checkpoint at step 10, mid-epoch 2
  };
  EXPECT_EQ(error_of([&] { train(c, d, RunDirPolicy::Fresh, stop_at_step_13); }), "interrupted");
  EXPECT_EQ(load_checkpoint(cut / "model.safetensors").state.global_step, 10);
  const TrainResult resumed = train(c, d, RunDirPolicy::Resume);
  ASSERT_EQ(resumed.history.size(), 3u);
  for (size_t e = 0; e < 3; ++e) {
    EXPECT_EQ(resumed.history[e].train_loss, uninterrupted.history[e].train_loss) << "epoch " << e + 1;
    EXPECT_EQ(resumed.history[e].train_accuracy, uninterrupted.history[e].train_accuracy);
    EXPECT_EQ(resumed.history[e].test_loss, uninterrupted.history[e].test_loss);
    EXPECT_EQ(resumed.history[e].test_accuracy, uninterrupted.history[e].test_accuracy);
  }
}

TEST_F(Trainer, ResumeRefusesAnotherConfiguration) {
  TempDir out("train_conf");
  const DatasetSplit d = data();
  train(tiny_config(out.path().string(), 1), d, RunDirPolicy::Fresh);
  TrainConfig other = tiny_config(out.path().string(), 1);
  other.recipe.lr = 0.1;
  EXPECT_NE(
      error_of([&] { train(other, d, RunDirPolicy::Resume); }).find("trained with another configuration"),
      std::string::npos);
}

TEST(TrainerChecks, TestTimeShiftsOfImagesTooSmallForThemAreRefusedBeforeTraining) {
  TempDir out("train_tta_1x1");
  ImageDataset one_pixel = testing::image_set("dots", 1, 1, 1);
  one_pixel.classes = {"a", "b"};
  one_pixel.images = {0, 255};
  one_pixel.labels = {0, 1};
  TrainConfig c = tiny_config((out.path() / "run").string(), 1);
  c.spec = "Flatten LazyLinear(2)";
  c.input_chw = {1, 1, 1};
  c.recipe.batch_size = 2;
  c.recipe.tta = 2;
  EXPECT_EQ(
      error_of([&] {
        train(c, {one_pixel, one_pixel}, RunDirPolicy::Fresh);
      }),
      "train: --tta 2 also reads each test image shifted by one pixel with reflect padding, which needs "
      "images of at least 2x2, but the data set 'dots' has 1x1 images");
  EXPECT_FALSE(std::filesystem::exists(out.path() / "run"));
  c.recipe.tta = 1;  // mirrors only
  EXPECT_NO_THROW(train(c, {one_pixel, one_pixel}, RunDirPolicy::Fresh));
}

TEST_F(Trainer, NaNLossStopsWithTheStepAndAdvice) {
  TempDir out("train_nan");
  TrainConfig c = tiny_config(out.path().string(), 1);
  c.recipe.lr = 1e30;
  const std::string msg = error_of([&] { train(c, data(), RunDirPolicy::Fresh); });
  EXPECT_NE(msg.find("try a lower learning rate"), std::string::npos) << msg;
  EXPECT_NE(msg.find("at step "), std::string::npos) << msg;
}

}  // namespace
}  // namespace minicnn

namespace minicnn {
namespace {

TEST_F(Trainer, RefusesABatchThatCannotFitInMemoryWithAnEstimate) {
  TempDir out("train_huge");
  TrainConfig c = tiny_config(out.path().string(), 1);
  c.spec = "Conv2d(1, 65536, 3, padding=1) ReLU AdaptiveAvgPool2d(1) Flatten LazyLinear(10)";
  c.recipe.batch_size = 256;  // 256 x 3 x 196 MiB of activations
  const std::string msg = testing::error_of([&] { train(c, data(), RunDirPolicy::Fresh); });
  EXPECT_NE(msg.find("train: training custom with batch size 256 needs about "), std::string::npos) << msg;
  EXPECT_NE(msg.find("use --batch-size "), std::string::npos) << msg;
  EXPECT_NE(msg.find("is available"), std::string::npos) << msg;
}

TEST(TrainingMemory, EstimateGrowsWithTheBatch) {
  Model m = parse_model("mnist-cnn");
  m.build({1, 28, 28}, 0);
  const double one = estimate_training_bytes(m, {1, 28, 28}, 1, OptimizerKind::SGD);
  const double many = estimate_training_bytes(m, {1, 28, 28}, 65, OptimizerKind::SGD);
  EXPECT_GT(one, 421642 * 4.0 * 3);
  EXPECT_NEAR((many - one) / 64, 3.0 * (344.0 * 1024) + 28 * 28 * 4, 1e5);
}

// The names are those of the command line and of every run and study recorded so far.
TEST(Recipe, ChoicesHaveTheirRecordedNamesBothWays) {
  const std::pair<OptimizerKind, std::string> optimizers[] = {
      {OptimizerKind::SGD, "sgd"}, {OptimizerKind::Adam, "adam"}, {OptimizerKind::AdamW, "adamw"}};
  for (const auto& [kind, name] : optimizers) {
    EXPECT_EQ(optimizer_name(kind), name);
    EXPECT_EQ(parse_optimizer(name), kind) << name;
  }
  const std::pair<ScheduleKind, std::string> schedules[] = {
      {ScheduleKind::None, "none"}, {ScheduleKind::Step, "step"}, {ScheduleKind::Cosine, "cosine"}};
  for (const auto& [kind, name] : schedules) {
    EXPECT_EQ(schedule_name(kind), name);
    EXPECT_EQ(parse_schedule(name), kind) << name;
  }
  const std::pair<Augment, std::string> augments[] = {{Augment::None, "none"},
                                                      {Augment::CropFlip, "crop-flip"}};
  for (const auto& [kind, name] : augments) {
    EXPECT_EQ(augment_name(kind), name);
    EXPECT_EQ(parse_augment(name), kind) << name;
  }
}

TEST(Recipe, RefusesUnknownNamesListingTheChoices) {
  EXPECT_EQ(error_of([] { parse_optimizer("SGD"); }),
            "optimizer: expected 'sgd', 'adam' or 'adamw', but got 'SGD'");
  EXPECT_EQ(error_of([] { parse_schedule("linear"); }),
            "schedule: expected 'none', 'step', 'cosine' or 'warmup-warmdown', but got 'linear'");
  EXPECT_EQ(error_of([] { parse_augment("flip"); }),
            "augment: expected 'none', 'crop-flip' or 'flip-translate', but got 'flip'");
}

TEST(OptimizerFactory, BuildsTheScheduleTheRecipeNamesOverItsEpochs) {
  Recipe r;
  r.lr = 0.1;
  r.epochs = 6;
  r.schedule = ScheduleKind::None;
  EXPECT_DOUBLE_EQ(make_scheduler(r, 0)->lr_at(5, r.lr), 0.1);
  r.schedule = ScheduleKind::Step;  // step_size 6 / 3 = 2
  EXPECT_DOUBLE_EQ(make_scheduler(r, 0)->lr_at(1, r.lr), 0.1);
  EXPECT_NEAR(make_scheduler(r, 0)->lr_at(2, r.lr), 0.01, 1e-15);
  r.schedule = ScheduleKind::Cosine;  // T_max 6
  EXPECT_NEAR(make_scheduler(r, 0)->lr_at(3, r.lr), 0.05, 1e-15);
}

TEST(OptimizerFactory, ASchedulePlannedForItsEpochsExtendsOnlyWhenItsRatesStay) {
  Recipe r;
  r.epochs = 6;
  r.schedule = ScheduleKind::None;
  EXPECT_TRUE(schedule_extends(r, 100));
  r.schedule = ScheduleKind::Step;  // step_size 2 for 6, 7 and 8 epochs, 3 for 9
  EXPECT_TRUE(schedule_extends(r, 8));
  EXPECT_FALSE(schedule_extends(r, 9));
  r.schedule = ScheduleKind::Cosine;
  EXPECT_TRUE(schedule_extends(r, 6));
  EXPECT_FALSE(schedule_extends(r, 7));
}

TEST(OptimizerFactory, DescribesOnlyWhatTheOptimizerUses) {
  Recipe r = plain_recipe(OptimizerKind::SGD, 0.01, 0.9, 0.0, ScheduleKind::None, Augment::None, 64, 1);
  EXPECT_EQ(describe_optimizer(r), "SGD lr 0.01, momentum 0.9, weight decay 0");
  r.optimizer = OptimizerKind::AdamW;
  EXPECT_EQ(describe_optimizer(r), "AdamW lr 0.01, betas (0.9, 0.999), weight decay 0");
  EXPECT_EQ(describe_schedule(ScheduleKind::None), "constant lr");
  EXPECT_EQ(describe_schedule(ScheduleKind::Cosine), "cosine schedule");
}

}  // namespace
}  // namespace minicnn
