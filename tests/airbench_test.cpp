// The airbench94 preset and the general features it is made of: GELU and Mul (gradients, spec), dirac_ and
// whitening initialisation, frozen parameters in the optimizer, flip-translate augmentation and the views
// of test-time augmentation, fractional epochs with dropped partial batches, the recipe's record in run
// configurations, the pooling variant that keeps a global head, and denormals flushed while training.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <xmmintrin.h>

#include <Eigen/Dense>
#include <cmath>
#include <fstream>

#include <minicnn/conv2d.h>
#include <minicnn/gelu.h>
#include <minicnn/init.h>
#include <minicnn/loader.h>
#include <minicnn/mnist.h>
#include <minicnn/mul.h>
#include <minicnn/npy.h>
#include <minicnn/optimizer_factory.h>
#include <minicnn/parameter_rules.h>
#include <minicnn/registry.h>
#include <minicnn/runtime.h>
#include <minicnn/sgd.h>
#include <minicnn/trainer.h>
#include <minicnn/whitening.h>
#include "gradcheck.h"
#include "test_util.h"

namespace minicnn {
namespace {

using testing::TempDir;

TEST(Gelu, GradientsMatchFiniteDifferencesInBothForms) {
  for (GeluApproximate a : {GeluApproximate::None, GeluApproximate::Tanh}) {
    GELU gelu(a);
    testing::check_layer_gradients(gelu, testing::uniform_values({2, 3, 4, 4}, 5, -3.0f, 3.0f));
  }
}

TEST(Mul, ScalesForwardAndBackwardAndReadsAFractionInASpec) {
  Model m = parse_model("Flatten Mul(1/9)");
  m.build({1, 2, 2}, 0);
  const auto* mul = dynamic_cast<const Mul*>(&m.layer(1));
  ASSERT_NE(mul, nullptr);
  EXPECT_EQ(mul->scale(), 1.0f / 9);
  EXPECT_EQ(m.layer(1).repr(), "Mul(scale=0.111111112)");
  EXPECT_EQ(model_to_spec(parse_model(model_to_spec(m))), model_to_spec(m));  // the repr reads back
  Mul half(0.5f);
  testing::check_layer_gradients(half, testing::uniform_values({3, 5}, 2));
  EXPECT_NE(testing::error_of([] { parse_model("Mul(1/0)"); }).find("a denominator other than 0"),
            std::string::npos);
  EXPECT_NE(testing::error_of([] { parse_model("GELU(approximate='fast')"); }).find("'none' or 'tanh'"),
            std::string::npos);
}

TEST(Init, DiracPassesTheFirstChannelsThroughAndKeepsTheOtherFilters) {
  Conv2d conv(Conv2dOptions(3, 5, 3).padding(1).bias(false));
  Generator gen(1);
  conv.reset_parameters(gen);
  const Tensor before = conv.weight().value.clone();
  dirac_(conv.weight().value, 3);
  const Tensor x = testing::uniform_values({2, 3, 6, 6}, 3);
  const Tensor y = conv.forward(x, Mode::Eval);
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t c = 0; c < 3; ++c) {
      for (int64_t i = 0; i < 36; ++i)
        EXPECT_EQ(y.data()[(n * 5 + c) * 36 + i], x.data()[(n * 3 + c) * 36 + i]);
    }
  }
  const int64_t filter = 3 * 9;
  for (int64_t k = 3 * filter; k < 5 * filter; ++k)
    EXPECT_EQ(conv.weight().value.data()[k], before.data()[k]);
}

// An image set of random pixels with correlated channels, so whitening has something to undo.
ImageDataset correlated_images(int64_t n) {
  ImageDataset d;
  d.name = "correlated";
  d.channels = 3;
  d.height = d.width = 8;
  d.classes = {"a", "b"};
  Generator gen(9);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t c = 0; c < 3; ++c) {
      for (int64_t p = 0; p < 64; ++p) {
        const int64_t base = static_cast<int64_t>(gen.below(200));
        d.images.push_back(
            static_cast<uint8_t>(c == 0 ? base : (base + static_cast<int64_t>(gen.below(56))) % 256));
      }
    }
    d.labels.push_back(static_cast<int32_t>(i % 2));
  }
  return d;
}

TEST(Whitening, FiltersMakeThePatchCovarianceNearlyTheIdentity) {
  const ImageDataset d = correlated_images(200);
  const Normalization norm = compute_normalization(d);
  Model m = parse_model("Conv2d(3, 24, 2)");
  m.build({3, 8, 8}, 0);
  whiten_first_conv(m, d, norm, 200, 1e-8, 1);
  auto& conv = dynamic_cast<Conv2d&>(m.layer(0));
  for (int64_t k = 0; k < 24; ++k) EXPECT_EQ(conv.bias().value.data()[k], 0.0f);
  for (int64_t k = 0; k < 12 * 12; ++k)
    EXPECT_EQ(conv.weight().value.data()[12 * 12 + k], -conv.weight().value.data()[k]);
  // The first 12 outputs over every patch position: their second moments are the identity (eps is tiny).
  LoaderOptions options;
  options.batch_size = 200;
  options.normalization = norm;
  DataLoader loader(d, options);
  const Tensor y = m.forward(loader.batch(0).images, Mode::Eval);  // (200, 24, 7, 7)
  Eigen::MatrixXd moment = Eigen::MatrixXd::Zero(12, 12);
  for (int64_t n = 0; n < 200; ++n) {
    for (int64_t p = 0; p < 49; ++p) {
      Eigen::VectorXd v(12);
      for (int64_t k = 0; k < 12; ++k) v(k) = y.data()[(n * 24 + k) * 49 + p];
      moment += v * v.transpose();
    }
  }
  moment /= 200.0 * 49.0;
  EXPECT_LT((moment - Eigen::MatrixXd::Identity(12, 12)).cwiseAbs().maxCoeff(), 1e-3) << moment;
  EXPECT_NE(testing::error_of([&] {
              Model bad = parse_model("Conv2d(3, 8, 2)");
              bad.build({3, 8, 8}, 0);
              whiten_first_conv(bad, d, norm, 10, 5e-4, 1);
            }).find("should have 2*C*KH*KW = 24 filters"),
            std::string::npos);
}

TEST(ParameterRules, FrozenParametersLeaveTheOptimizerStepEntirely) {
  Model m = parse_model("Conv2d(1, 2, 3) BatchNorm2d(2) Flatten LazyLinear(3)");
  m.build({1, 5, 5}, 0);
  apply_freeze_rules(m, {{"BatchNorm2d.weight", 0}, {"0.bias", 1}}, 0);
  auto params = m.named_parameters();
  std::map<std::string, Parameter*> by_name(params.begin(), params.end());
  EXPECT_FALSE(by_name["1.weight"]->requires_grad);
  EXPECT_TRUE(by_name["0.bias"]->requires_grad);  // frozen from epoch 1
  apply_freeze_rules(m, {{"BatchNorm2d.weight", 0}, {"0.bias", 1}}, 1);
  EXPECT_FALSE(by_name["0.bias"]->requires_grad);
  EXPECT_TRUE(by_name["1.bias"]->requires_grad);
  SGD opt(m.parameters(), SGDOptions(0.1).momentum(0.9).weight_decay(0.1));
  for (Parameter* p : m.parameters()) {
    for (int64_t k = 0; k < p->grad.numel(); ++k) p->grad.data()[k] = 1.0f;
  }
  const Tensor frozen = by_name["0.bias"]->value.clone(), trained = by_name["0.weight"]->value.clone();
  opt.step();
  EXPECT_TRUE(testing::same_values(by_name["0.bias"]->value, frozen));  // no update, no weight decay
  EXPECT_FALSE(testing::same_values(by_name["0.weight"]->value, trained));
  const auto state = opt.state();
  EXPECT_EQ(state[1].second->data()[0], 0.0f);  // 0.bias's momentum buffer never moved
}

TEST(Airbench94, HasThePublishedParameterCountsAndFreezesTheRest) {
  Model m = parse_model("airbench94");
  m.build({3, 32, 32}, 0);
  EXPECT_EQ(m.num_parameters(), 1972792);
  const Preset* preset = find_preset("airbench94");
  ASSERT_NE(preset, nullptr);
  apply_freeze_rules(m, preset->recipe.frozen, 0);
  int64_t trained = 0;
  for (Parameter* p : m.parameters()) trained += p->requires_grad ? p->value.numel() : 0;
  EXPECT_EQ(trained, 1971352);
  const std::string summary = m.summary({3, 32, 32});
  EXPECT_NE(summary.find("total parameters: 1,972,792\n"), std::string::npos) << summary;
  EXPECT_NE(summary.find("trainable parameters: 1,971,352 (1,440 frozen: requires_grad false)\n"),
            std::string::npos)
      << summary;
  const std::vector<ParamGroup> groups = parameter_groups(m, preset->recipe);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].params.size(), 6u);  // the six BatchNorm biases
  EXPECT_DOUBLE_EQ(groups[0].lr, 64 * groups[1].lr);
  EXPECT_DOUBLE_EQ(groups[0].lr * groups[0].weight_decay, groups[1].lr * groups[1].weight_decay);
}

// The banner says everything the recipe does that changes results, the groups' lr included.
TEST(Airbench94, DescriptionNamesEveryPartOfTheRecipe) {
  const Recipe& r = find_preset("airbench94")->recipe;
  EXPECT_EQ(
      describe_optimizer(r),
      fmt::format("SGD lr {:g}, momentum 0.85 (Nesterov), weight decay {:g}, BatchNorm2d.bias at 64x lr",
                  r.lr, r.weight_decay));
  EXPECT_EQ(describe_recipe_extras(r),
            ", label smoothing 0.2, loss summed over the batch, last partial batch dropped, 0.weight frozen, "
            "BatchNorm2d.weight frozen, 0.bias frozen after 3 epochs, lookahead every 5 steps, test-time "
            "augmentation level 2");
  EXPECT_EQ(describe_recipe_extras(
                plain_recipe(OptimizerKind::SGD, 0.01, 0.9, 0, ScheduleKind::None, Augment::None, 64, 3)),
            "");
}

TEST(Airbench94, PoolVariantsReplaceTheBlocksPoolsAndKeepTheGlobalHead) {
  const std::string spec = apply_pool_variant("airbench94", parse_pool_variant("avg2"));
  EXPECT_EQ(spec.find("MaxPool2d(2)"), std::string::npos);
  size_t avg = 0;
  for (size_t at = spec.find("AvgPool2d(2)"); at != std::string::npos; at = spec.find("AvgPool2d(2)", at + 1))
    ++avg;
  EXPECT_EQ(avg, 3u);
  EXPECT_NE(spec.find("MaxPool2d(3) Flatten"), std::string::npos) << spec;
  Model m = parse_model(apply_pool_variant("airbench94", parse_pool_variant("max3s2p1")));
  m.build({3, 32, 32}, 0);
  EXPECT_EQ(m.output_shape({1, 3, 32, 32}), Shape({1, 10}));
  // Without a shape to tell the head by, every pooling layer is replaced (mnist-cnn has no head).
  EXPECT_EQ(apply_pool_variant("mnist-cnn", parse_pool_variant("avg2")).find("MaxPool2d"), std::string::npos);
}

// One 4x4 single-channel image whose pixel (h, w) is 16 h + w, for reading where a view takes pixels.
ImageDataset numbered_image() {
  ImageDataset d = testing::image_set("numbered", 1, 4, 4);
  d.classes = {"a"};
  for (int i = 0; i < 16; ++i) d.images.push_back(static_cast<uint8_t>((i / 4) * 16 + i % 4));
  d.labels = {0};
  return d;
}

TEST(DataLoader, ViewsReflectShiftAndFlipAsTorchsPaddingAndFlipDo) {
  const ImageDataset d = numbered_image();
  auto read = [&](ImageView v) {
    LoaderOptions o;
    o.batch_size = 1;
    o.view = v;
    DataLoader loader(d, o);
    const Tensor t = loader.batch(0).images;
    std::vector<int> px;
    for (int64_t i = 0; i < 16; ++i) px.push_back(static_cast<int>(std::lround(t.data()[i] * 255)));
    return px;
  };
  // Shift up-left by one from a reflect-padded copy: row -1 reads row 1, column -1 reads column 1.
  EXPECT_EQ(read({false, -1, -1, true}),
            std::vector<int>({17, 16, 17, 18, 1, 0, 1, 2, 17, 16, 17, 18, 33, 32, 33, 34}));
  // The mirror of the down-right shift: column 4 reflects to column 2.
  EXPECT_EQ(read({true, 1, 1, true}),
            std::vector<int>({18, 19, 18, 17, 34, 35, 34, 33, 50, 51, 50, 49, 34, 35, 34, 33}));
  // The same views of a float batch.
  const Tensor x = Tensor::from_vector({1, 1, 4, 4}, [] {
    std::vector<float> v;
    for (int i = 0; i < 16; ++i) v.push_back(static_cast<float>((i / 4) * 16 + i % 4));
    return v;
  }());
  const Tensor viewed = view_images(x, {true, 1, 1, true});
  EXPECT_EQ(viewed.data()[0], 18.0f);
  EXPECT_EQ(viewed.data()[15], 33.0f);
}

TEST(DataLoader, FlipTranslateFlipsEachImageOnceAndEveryImageEverySecondEpoch) {
  // 64 images 8x8 whose pixel (h, w) is 20 w: a shift of up to 2 keeps columns 3 and 4 in order, so
  // whether column 3 is brighter than column 4 says whether the image was flipped.
  ImageDataset d = testing::image_set("columns", 1, 8, 8);
  d.classes = {"a"};
  for (int n = 0; n < 64; ++n) {
    for (int i = 0; i < 64; ++i) d.images.push_back(static_cast<uint8_t>(20 * (i % 8)));
    d.labels.push_back(0);
  }
  LoaderOptions o;
  o.batch_size = 64;
  o.seed = 5;
  o.augment = Augment::FlipTranslate;
  DataLoader loader(d, o);
  auto flipped = [&](int64_t epoch) {
    loader.set_epoch(epoch);
    const Tensor t = loader.batch(0).images;
    std::vector<bool> f;
    for (int64_t n = 0; n < 64; ++n) f.push_back(t.data()[n * 64 + 3] > t.data()[n * 64 + 4]);
    return f;
  };
  const std::vector<bool> e0 = flipped(0), e1 = flipped(1), e2 = flipped(2);
  int64_t flips = 0;
  for (size_t n = 0; n < 64; ++n) {
    EXPECT_NE(e0[n], e1[n]) << n;  // every image flips between epochs 1 and 2
    EXPECT_EQ(e0[n], e2[n]) << n;  // and back
    flips += e0[n];
  }
  EXPECT_GT(flips, 16);  // about half of the images start flipped
  EXPECT_LT(flips, 48);
}

// torch's 'reflect' padding must be smaller than the image; a larger shift would read outside it.
TEST(DataLoader, ReflectPaddingWiderThanTheImageIsRefused) {
  ImageDataset d = testing::image_set("tiny", 1, 2, 2);
  d.classes = {"a"};
  d.images = {0, 1, 2, 3};
  d.labels = {0};
  LoaderOptions o;
  o.augment = Augment::FlipTranslate;
  EXPECT_EQ(
      testing::error_of([&] { DataLoader loader(d, o); }),
      "DataLoader: flip-translate: a shift of (2, 2) with reflect padding needs images larger than the "
      "shift along each axis (torch's 'reflect' padding is smaller than the input), but got 2x2 images");
  o.augment = Augment::None;
  o.view = {false, 0, -2, true};
  EXPECT_NE(
      testing::error_of([&] { DataLoader loader(d, o); }).find("DataLoader: a shift of (0, -2) with reflect"),
      std::string::npos);
  o.view = {false, 1, -1, true};  // the largest that fits
  DataLoader fits(d, o);
  EXPECT_EQ(fits.batch(0).images.numel(), 4);
  EXPECT_NE(testing::error_of([] {
              view_images(Tensor::zeros({1, 1, 2, 3}), {false, 2, 0, true});
            }).find("view_images: a shift of (2, 0) with reflect padding"),
            std::string::npos);
  EXPECT_EQ(view_images(Tensor::zeros({1, 1, 2, 3}), {false, 1, 2, true}).numel(), 6);
}

class FractionalEpochs : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_tiny_mnist(dir_.path().string(), 100, 32); }
  TempDir dir_{"fractional"};
};

TEST_F(FractionalEpochs, RunCeilOfStepsPerEpochTimesEpochsAndDropThePartialBatch) {
  TempDir out("fractional_run");
  TrainConfig c;
  c.dataset = "mnist";
  c.model_name = "custom";
  c.spec = "Flatten LazyLinear(10)";
  c.input_chw = {1, 28, 28};
  c.recipe.batch_size = 32;  // 100 images: 3 whole batches with drop_last
  c.recipe.drop_last = true;
  c.recipe.epochs = 1.5;
  c.recipe.schedule = ScheduleKind::WarmupWarmdown;
  c.threads = 1;
  c.out_dir = out.path().string();
  int64_t steps = 0;
  bool flushing = false;
  TrainCallbacks cb;
  cb.on_batch = [&](const BatchProgress& p) {
    ++steps;
    EXPECT_EQ(p.batches, p.epoch == 1 ? 3 : 2);
    flushing = FlushDenormals::active_on_this_thread();
  };
  const TrainResult r = train(c, load_mnist(dir_.path().string()), RunDirPolicy::Fresh, cb);
  EXPECT_EQ(steps, 5);  // ceil(3 * 1.5)
  EXPECT_EQ(r.history.size(), 2u);
  EXPECT_TRUE(flushing);
  EXPECT_FALSE(FlushDenormals::active_on_this_thread());  // restored after the run
}

TEST(FlushDenormals, FlushesOnEveryThreadWhileAliveAndRestores) {
  EXPECT_FALSE(FlushDenormals::active_on_this_thread());
  {
    const FlushDenormals flush;
    int active = 0;
#pragma omp parallel reduction(+ : active)
    active += FlushDenormals::active_on_this_thread() ? 1 : 0;
    EXPECT_EQ(active, num_threads());
    volatile float tiny = 1e-38f;
    EXPECT_EQ(tiny * 1e-3f, 0.0f);  // a denormal result is flushed
  }
  volatile float tiny = 1e-38f;
  EXPECT_GT(tiny * 1e-3f, 0.0f);  // IEEE again
}

TEST(Cli, PoolKeepsDenormalInputsBitExact) {
  TempDir tmp("pool_denormal");
  save_npy(tmp / "x.npy", Tensor::from_vector({1, 1, 2, 2}, {1e-40f, -1.0f, -2.0f, -3.0f}));
  const auto r = testing::run_cli("pool --mode max --kernel-size 2 --input " + (tmp / "x.npy") +
                                  " --output " + (tmp / "y.npy"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(load_npy(tmp / "y.npy").data()[0], 1e-40f);
}

TEST(RunConfiguration, RecordsAndReadsBackARecipesRulesAndLeavesPlainRecordsAsTheyWere) {
  TrainConfig c;
  c.dataset = "folder";
  c.model_name = "airbench94";
  c.spec = find_preset("airbench94")->spec;
  c.input_chw = {3, 32, 32};
  c.recipe = find_preset("airbench94")->recipe;
  const TrainConfig back = TrainConfig::from_json(c.to_json(), c.settings_json());
  EXPECT_EQ(back.to_json(), c.to_json());
  EXPECT_TRUE(config_differences(c, back).empty());
  TrainConfig plain;
  plain.input_chw = {1, 28, 28};
  const std::string json = plain.to_json();
  for (const char* key : {"nesterov", "label_smoothing", "frozen", "lookahead", "whiten", "tta"}) {
    EXPECT_EQ(json.find(key), std::string::npos)
        << key;  // a run recorded before these existed compares equal
  }
  EXPECT_NE(json.find("\"epochs\":3"), std::string::npos) << json;  // an integer, as before
  TrainConfig changed = back;
  changed.recipe.groups.clear();
  EXPECT_EQ(config_differences(c, changed).size(), 1u);
}

}  // namespace
}  // namespace minicnn
