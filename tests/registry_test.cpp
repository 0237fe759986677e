// The spec language: torch.nn signatures, lazy layers, presets, nn.Sequential names, and its error sentences.
#include <gtest/gtest.h>

#include <minicnn/check.h>
#include <minicnn/device.h>
#include <minicnn/registry.h>
#include "test_util.h"

namespace minicnn {
namespace {

using testing::error_of;

TEST(Registry, MnistCnnHas421642Parameters) {
  Model m = parse_model("mnist-cnn");
  m.build({1, 28, 28}, 0);
  EXPECT_EQ(m.num_parameters(), 421642);
  EXPECT_EQ(m.output_shape({5, 1, 28, 28}), Shape({5, 10}));
}

TEST(Registry, LeNet5Has61706Parameters) {
  Model m = parse_model("lenet5");
  m.build({1, 28, 28}, 0);
  EXPECT_EQ(m.num_parameters(), 61706);
}

TEST(Registry, ParameterNamesFollowNnSequential) {
  Model m = parse_model("mnist-cnn");
  m.build({1, 28, 28}, 0);
  std::vector<std::string> names;
  for (auto& [name, p] : m.named_parameters()) names.push_back(name);
  EXPECT_EQ(names, std::vector<std::string>({"0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias",
                                             "9.weight", "9.bias"}));
}

TEST(Registry, LazyLayersInferTheirInputSize) {
  Model m = parse_model("LazyConv2d(32, 3, padding=1) ReLU MaxPool2d(2) Flatten LazyLinear(10)");
  m.build({3, 8, 8}, 0);
  EXPECT_EQ(m.layer(0).parameters()[0]->value.shape(), Shape({32, 3, 3, 3}));
  EXPECT_EQ(m.layer(4).parameters()[0]->value.shape(), Shape({10, 512}));
  EXPECT_EQ(m.layer(4).type_name(), "Linear");
  EXPECT_EQ(model_to_spec(m),
            "Conv2d(3, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)) ReLU() MaxPool2d(kernel_size=2, "
            "stride=2, padding=0, dilation=1, ceil_mode=False) Flatten(start_dim=1, end_dim=-1) "
            "Linear(in_features=512, out_features=10, bias=True)");
  Model again = parse_model(model_to_spec(m));
  again.build({3, 8, 8}, 0);
  EXPECT_EQ(again.num_parameters(), m.num_parameters());
}

TEST(Registry, KeywordsPairsAndSeparatorsParse) {
  Model m = parse_model("Conv2d(in_channels=1, out_channels=4, kernel_size=(3, 5), stride=(1, 2), bias=False) -> "
                        "AvgPool2d(2, count_include_pad=False, ceil_mode=True), Flatten, Dropout(p=0.25)");
  m.build({1, 9, 9}, 0);
  EXPECT_EQ(m.num_parameters(), 4 * 15);
  EXPECT_EQ(m.output_shape({1, 1, 9, 9}), Shape({1, 4 * 4 * 2}));
}

TEST(Registry, PaddingSameKeepsTheSize) {
  Model m = parse_model("Conv2d(1, 2, 5, padding='same')");
  m.build({1, 7, 7}, 0);
  EXPECT_EQ(m.output_shape({1, 1, 7, 7}), Shape({1, 2, 7, 7}));
}

const std::string kKnownLayers =
    "known layers: AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, GELU, "
    "LazyBatchNorm2d, LazyConv2d, LazyLinear, Linear, MaxPool2d, Mul, ReLU";

TEST(Registry, UnknownLayerNamesItsPositionAndSuggests) {
  EXPECT_EQ(error_of([] { parse_model("Conv2d(1, 4, 3) Relu Flatten"); }),
            "model spec: layer 1 'Relu' is not a known layer (did you mean 'ReLU'?); known layers: AdaptiveAvgPool2d, "
            "AdaptiveMaxPool2d, AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, GELU, LazyBatchNorm2d, LazyConv2d, "
            "LazyLinear, Linear, MaxPool2d, Mul, ReLU");
}

TEST(Registry, WrongArgumentNamesTheLayerAndTheArgument) {
  EXPECT_EQ(error_of([] { parse_model("Conv2d(1, 4, 3, paddin=1)"); }),
            "model spec: layer 0 (Conv2d): got an unexpected keyword argument 'paddin' (did you mean 'padding'?)");
  EXPECT_EQ(error_of([] { parse_model("ReLU Linear(10)"); }),
            "model spec: layer 1 (Linear): missing required argument 'out_features'");
  EXPECT_EQ(error_of([] { parse_model("MaxPool2d(2.5)"); }),
            "model spec: layer 0 (MaxPool2d): kernel_size should be an integer or a pair (h, w), but got 2.5");
  EXPECT_EQ(error_of([] { parse_model("MaxPool2d(3, padding=2)"); }),
            "model spec: layer 0 (MaxPool2d): padding should be at most half of effective kernel size, but got "
            "padding=(2, 2), kernel_size=(3, 3), dilation=(1, 1)");
}

TEST(Registry, ShapeMismatchNamesThePositionAndBothSizes) {
  Model m = parse_model(
      "Conv2d(1, 32, 3, padding=1) ReLU MaxPool2d(2) Conv2d(32, 64, 3, padding=1) ReLU MaxPool2d(2) Flatten "
      "Linear(100, 10)");
  EXPECT_EQ(error_of([&] { m.build({1, 28, 28}, 0); }),
            "Model: layer 7 (Linear): expected 100 input features (in_features), but got 3136 from input shape "
            "[1, 3136]; use Linear(3136, 10) or LazyLinear(10)");
}

TEST(Registry, PoolingTooOftenSaysWhatToChange) {
  Model m = parse_model("MaxPool2d(2) MaxPool2d(2) MaxPool2d(2)");
  EXPECT_EQ(error_of([&] { m.build({1, 4, 4}, 0); }),
            "Model: layer 2 (MaxPool2d): output size is too small: input [1, 1, 1, 1] with kernel_size=(2, 2), "
            "stride=(2, 2), padding=(0, 0), dilation=(1, 1) gives 0x0; the input must be at least 2x2 (use a smaller "
            "kernel_size, add padding, or pool fewer times)");
}

TEST(Registry, SummaryShowsShapesParametersAndReceptiveField) {
  Model m = parse_model("mnist-cnn");
  m.build({1, 28, 28}, 0);
  const auto rows = m.summary_rows({1, 28, 28});
  ASSERT_EQ(rows.size(), 10u);
  EXPECT_EQ(rows[0].output_shape, Shape({1, 32, 28, 28}));
  EXPECT_EQ(rows[0].parameters, 320);
  EXPECT_EQ(rows[0].receptive_field, "3x3");
  EXPECT_EQ(rows[2].receptive_field, "4x4");
  EXPECT_EQ(rows[3].receptive_field, "8x8");
  EXPECT_EQ(rows[5].receptive_field, "10x10");
  EXPECT_EQ(rows[6].receptive_field, "full");
  EXPECT_EQ(rows[0].activation_bytes, 32 * 28 * 28 * 4);
  EXPECT_NE(m.summary({1, 28, 28}).find("total parameters: 421,642"), std::string::npos);
}

TEST(Registry, SummaryCommandShowsTheDevicesEachLayerRunsOn) {
  const testing::CommandResult r = testing::run_cli("summary --model mnist-cnn");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("activations  devices"), std::string::npos) << r.output;
  if (cuda_built()) {
    EXPECT_NE(r.output.find("98.0 KiB  cpu,cuda"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("no CUDA backend"), std::string::npos) << r.output;
  } else {
    // A build without CUDA cannot run a layer there, so it does not list cuda, and says why.
    EXPECT_NE(r.output.find("98.0 KiB  cpu\n"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("devices: this build has no CUDA backend (configure with -DMINICNN_CUDA=ON)"),
              std::string::npos)
        << r.output;
  }
}

std::vector<std::string> parameter_names(Model& m) {
  std::vector<std::string> names;
  for (auto& [name, p] : m.named_parameters()) names.push_back(name);
  return names;
}

TEST(Registry, LoneWordThatIsNoPresetSuggestsTheNearestPreset) {
  const std::string presets = "; presets: mnist-cnn, lenet5, cifar-cnn, airbench94";
  EXPECT_EQ(
      error_of([] { parse_model("mnist-cn"); }),
      "model spec: 'mnist-cn' is neither a preset nor a layer spec (did you mean 'mnist-cnn'?)" + presets);
  EXPECT_EQ(error_of([] { parse_model("cifar"); }),
            "model spec: 'cifar' is neither a preset nor a layer spec (did you mean 'cifar-cnn'?)" + presets);
  EXPECT_EQ(error_of([] { parse_model("lenet_5"); }),
            "model spec: 'lenet_5' is neither a preset nor a layer spec (did you mean 'lenet5'?)" + presets);
  EXPECT_EQ(error_of([] { parse_model("relu"); }),
            "model spec: 'relu' is neither a preset nor a layer spec (did you mean 'ReLU'?)" + presets);
  EXPECT_EQ(error_of([] { parse_model("resnet18"); }),
            "model spec: 'resnet18' is neither a preset nor a layer spec" + presets);
  // The same sentence from every function that takes a spec or a preset (train --pool, a folder's classes).
  EXPECT_EQ(error_of([] { apply_pool_variant("mnist-cn", parse_pool_variant("max2")); }),
            error_of([] { parse_model("mnist-cn"); }));
  EXPECT_EQ(error_of([] { adapt_classifier("mnist-cn", 3); }), error_of([] { parse_model("mnist-cn"); }));
}

TEST(Registry, LoneLayerNamesAndPaddedPresetNamesStillParse) {
  for (const char* spec : {"ReLU", "Flatten", "LazyBatchNorm2d", "Dropout", " ReLU\n"}) {
    Model m = parse_model(spec);
    EXPECT_EQ(m.size(), 1u) << spec;
  }
  EXPECT_EQ(parse_model(" lenet5 ").spec(), find_preset("lenet5")->spec);
  EXPECT_EQ(find_preset(" lenet5 "), find_preset("lenet5"));
}

TEST(Registry, ReadsPastedPyTorchLayerNames) {
  Model m = parse_model(
      "nn.Conv2d(1, 4, 3, padding=1) nn.ReLU() torch.nn.MaxPool2d(2) nn.Flatten() nn.LazyLinear(10)");
  m.build({1, 8, 8}, 0);
  EXPECT_EQ(m.output_shape({2, 1, 8, 8}), Shape({2, 10}));
  EXPECT_EQ(parameter_names(m), std::vector<std::string>({"0.weight", "0.bias", "4.weight", "4.bias"}));
  EXPECT_EQ(error_of([] { parse_model("nn.Conv2d(1, 4, 3) nn.Relu()"); }),
            "model spec: layer 1 'Relu' is not a known layer (did you mean 'ReLU'?); " + kKnownLayers);
  EXPECT_EQ(error_of([] { parse_model("nn.Conv2d(1, 4, 3) F.relu"); }),
            "model spec: layer 1 should be a torch.nn layer such as Conv2d or nn.Conv2d, but got 'F.relu'");
  EXPECT_EQ(error_of([] { parse_model("nn.Conv2d(1, 4, 3) nn."); }),
            "model spec: layer 1 should start with a layer name such as Conv2d, but got 'nn.'");
}

TEST(Registry, SequentialAroundTheWholeSpecIsTheSameModel) {
  Model m = parse_model(
      "nn.Sequential(\n  nn.Conv2d(1, 4, 3),\n  nn.ReLU(),\n  nn.Flatten(),\n  nn.Linear(144, 10),\n)");
  m.build({1, 8, 8}, 0);
  EXPECT_EQ(m.size(), 4u);
  EXPECT_EQ(parameter_names(m), std::vector<std::string>({"0.weight", "0.bias", "3.weight", "3.bias"}));
  EXPECT_EQ(parse_model("Sequential(ReLU)").size(), 1u);
  EXPECT_EQ(apply_pool_variant("nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 3))",
                               parse_pool_variant("avg2")),
            "AvgPool2d(2) nn.Flatten() LazyLinear(3)");
}

TEST(Registry, RefusesSequentialThatDoesNotWrapTheWholeSpec) {
  const std::string nested =
      "model spec: layer 1 (Sequential): nn.Sequential can only wrap the whole spec, since minicnn's models "
      "are one "
      "flat list of layers; list its layers without Sequential";
  EXPECT_EQ(error_of([] { parse_model("nn.Conv2d(1, 4, 3) nn.Sequential(nn.ReLU())"); }), nested);
  EXPECT_EQ(error_of([] { parse_model("nn.Sequential(nn.Conv2d(1, 4, 3), nn.Sequential(nn.ReLU()))"); }),
            nested);
  EXPECT_EQ(error_of([] { parse_model("nn.Sequential(nn.ReLU()) nn.Flatten()"); }),
            "model spec: expected nothing after nn.Sequential(...), but got 'nn.Flatten()'");
  EXPECT_EQ(error_of([] { parse_model("nn.Sequential(nn.ReLU()"); }),
            "model spec: expected ')' to close nn.Sequential( at character 24, but got the end of the spec");
}

TEST(Registry, RefusesSoftmaxLogSoftmaxAndSigmoidAfterTheLastLinear) {
  const std::string why =
      ": minicnn's CrossEntropyLoss applies log-softmax to the logits itself, as torch.nn.CrossEntropyLoss "
      "does, so "
      "the model should end with its last Linear; remove ";
  EXPECT_EQ(error_of([] { parse_model("Conv2d(1, 4, 3) Flatten LazyLinear(10) Softmax(dim=1)"); }),
            "model spec: layer 3 (Softmax)" + why + "Softmax");
  EXPECT_EQ(error_of([] { parse_model("nn.Flatten() nn.LazyLinear(10) nn.LogSoftmax(dim=1)"); }),
            "model spec: layer 2 (LogSoftmax)" + why + "LogSoftmax");
  EXPECT_EQ(error_of([] { parse_model("Flatten LazyLinear(10) torch.nn.Sigmoid() Dropout"); }),
            "model spec: layer 2 (Sigmoid)" + why + "Sigmoid");
  // Between layers with parameters it is an activation minicnn lacks, not a second softmax.
  EXPECT_EQ(error_of([] { parse_model("Conv2d(1, 4, 3) Sigmoid Flatten LazyLinear(10)"); }),
            "model spec: layer 1 'Sigmoid' is not a known layer; " + kKnownLayers);
}

}  // namespace
}  // namespace minicnn

namespace minicnn {
namespace {

TEST(PoolVariant, ParsesTheShortNames) {
  const PoolVariant a = parse_pool_variant("max3s2p1");
  EXPECT_TRUE(a.max);
  EXPECT_EQ(a.k, 3);
  EXPECT_EQ(a.s, 2);
  EXPECT_EQ(a.p, 1);
  EXPECT_EQ(a.layer_spec(), "MaxPool2d(3, stride=2, padding=1)");
  EXPECT_EQ(parse_pool_variant("max2").layer_spec(), "MaxPool2d(2)");
  EXPECT_EQ(parse_pool_variant("max2s1").layer_spec(), "MaxPool2d(2, stride=1)");
  EXPECT_EQ(parse_pool_variant("avg3s2p1c").layer_spec(), "AvgPool2d(3, stride=2, padding=1, ceil_mode=True)");
  EXPECT_EQ(parse_pool_variant("max3s1p2d2").layer_spec(), "MaxPool2d(3, stride=1, padding=2, dilation=2)");
}

TEST(PoolVariant, RejectsMalformedNamesAndInvalidOptions) {
  const std::string expected = "pool variant: expected max{k}[s{s}][p{p}][d{d}][c] or avg{k}[s{s}][p{p}][c] (e.g. "
                               "max2, max3s2p1, avg2), but got ";
  EXPECT_EQ(testing::error_of([] { parse_pool_variant("max"); }), expected + "'max'");
  EXPECT_EQ(testing::error_of([] { parse_pool_variant("avg2d2"); }), expected + "'avg2d2'");
  EXPECT_EQ(testing::error_of([] { parse_pool_variant("min2"); }), expected + "'min2'");
  EXPECT_EQ(testing::error_of([] { parse_pool_variant("max2p1s2"); }), expected + "'max2p1s2'");
  EXPECT_EQ(testing::error_of([] { parse_pool_variant("max3p2"); }),
            "pool variant 'max3p2': MaxPool2d: padding should be at most half of effective kernel size, but got "
            "padding=(2, 2), kernel_size=(3, 3), dilation=(1, 1)");
}

TEST(PoolVariant, SwapsEveryPoolingLayerAndAdaptsTheLinearAfterFlatten) {
  const std::string spec = apply_pool_variant("mnist-cnn", parse_pool_variant("max2s1"));
  EXPECT_EQ(spec,
            "Conv2d(1, 32, 3, padding=1) ReLU MaxPool2d(2, stride=1) Conv2d(32, 64, 3, padding=1) ReLU MaxPool2d(2, "
            "stride=1) Flatten LazyLinear(128) ReLU Linear(128, 10)");
  Model m = parse_model(spec);
  m.build({1, 28, 28}, 0);
  EXPECT_EQ(m.output_shape({2, 1, 28, 28}), Shape({2, 10}));
  EXPECT_EQ(m.layer(7).parameters()[0]->value.shape(), Shape({128, 64 * 26 * 26}));
  EXPECT_NE(testing::error_of([] { apply_pool_variant("Conv2d(1, 2, 3) Flatten", parse_pool_variant("avg2")); })
                .find("has no MaxPool2d or AvgPool2d"),
            std::string::npos);
}

TEST(PoolVariant, LeavesTheLinearsAfterALazyLinearAlone) {
  EXPECT_EQ(apply_pool_variant("MaxPool2d(2) Flatten LazyLinear(128) ReLU Linear(128, 10)",
                               parse_pool_variant("avg2")),
            "AvgPool2d(2) Flatten LazyLinear(128) ReLU Linear(128, 10)");
}

TEST(AdaptClassifier, SetsTheOutFeaturesOfTheLastLinear) {
  EXPECT_EQ(
      adapt_classifier("mnist-cnn", 3),
      "Conv2d(1, 32, 3, padding=1) ReLU MaxPool2d(2) Conv2d(32, 64, 3, padding=1) ReLU MaxPool2d(2) Flatten "
      "Linear(3136, 128) ReLU Linear(128, 3)");
  EXPECT_EQ(adapt_classifier("Flatten Linear(in_features=16, out_features=10, bias=False) Dropout", 3),
            "Flatten Linear(16, 3, bias=False) Dropout");
  EXPECT_EQ(adapt_classifier("nn.Sequential(nn.Flatten(), nn.LazyLinear(10, bias=False))", 100),
            "nn.Flatten() LazyLinear(100, bias=False)");
  Model m = parse_model(adapt_classifier("cifar-cnn", 3));
  m.build({3, 32, 32}, 0);
  EXPECT_EQ(m.output_shape({1, 3, 32, 32}), Shape({1, 3}));
  EXPECT_EQ(error_of([] { adapt_classifier("Conv2d(1, 4, 3) Flatten", 3); }),
            "model spec: expected a Linear or LazyLinear layer to give 3 class scores, but the model has "
            "none; end it "
            "with Flatten LazyLinear(3)");
  EXPECT_EQ(error_of([] { adapt_classifier("lenet5", 0); }),
            "model spec: the number of classes should be at least 1, but got 0");
}

TEST(AdaptClassifier, ComposesWithPoolVariantInEitherOrder) {
  const PoolVariant v = parse_pool_variant("max3s2p1");
  const std::string pool_first = adapt_classifier(apply_pool_variant("lenet5", v), 3);
  const std::string classes_first = apply_pool_variant(adapt_classifier("lenet5", 3), v);
  EXPECT_EQ(pool_first, classes_first);
  EXPECT_EQ(
      pool_first,
      "Conv2d(1, 6, 5, padding=2) ReLU MaxPool2d(3, stride=2, padding=1) Conv2d(6, 16, 5) ReLU "
      "MaxPool2d(3, stride=2, padding=1) Flatten LazyLinear(120) ReLU Linear(120, 84) ReLU Linear(84, 3)");
  // A classifier that reads the flattened features directly becomes lazy and keeps the class count.
  const std::string one_linear = "Conv2d(1, 4, 3) MaxPool2d(2) Flatten Linear(676, 10)";
  EXPECT_EQ(adapt_classifier(apply_pool_variant(one_linear, v), 3),
            "Conv2d(1, 4, 3) MaxPool2d(3, stride=2, padding=1) Flatten LazyLinear(3)");
  EXPECT_EQ(apply_pool_variant(adapt_classifier(one_linear, 3), v),
            "Conv2d(1, 4, 3) MaxPool2d(3, stride=2, padding=1) Flatten LazyLinear(3)");
  Model m = parse_model(pool_first);
  m.build({1, 28, 28}, 0);
  EXPECT_NO_THROW(check_classifier(m, 3, "the image folder 'flowers'"));
}

Model built(const std::string& spec, const Shape& chw = {1, 28, 28}) {
  Model m = parse_model(spec);
  m.build(chw, 0);
  return m;
}

TEST(CheckClassifier, AcceptsOneScorePerClass) {
  EXPECT_NO_THROW(check_classifier(built("mnist-cnn"), 10, "MNIST"));
  EXPECT_NO_THROW(check_classifier(built("Conv2d(1, 4, 3) Flatten LazyLinear(10) Dropout"), 10, "MNIST"));
}

TEST(CheckClassifier, SaysToFlattenAnImageShapedOutput) {
  EXPECT_EQ(
      error_of([] { check_classifier(built("Conv2d(1, 4, 3) ReLU MaxPool2d(2)"), 10, "MNIST"); }),
      "Model: the output for one image should be [1, 10], one score for each of the 10 classes of MNIST, but "
      "got [1, 4, 13, 13]; end the model with Flatten and a Linear, e.g. Flatten LazyLinear(10)");
}

TEST(CheckClassifier, SaysToChangeTheLastLinearsOutFeatures) {
  EXPECT_EQ(
      error_of([] { check_classifier(built("mnist-cnn"), 3, "the image folder 'flowers'"); }),
      "Model: the output for one image should be [1, 3], one score for each of the 3 classes of the image "
      "folder 'flowers', but got [1, 10]; change the out_features of the last Linear (layer 9) to 3: "
      "Linear(128, 3) or LazyLinear(3)");
}

TEST(CheckClassifier, SaysToEndWithALinearAfterFlatten) {
  EXPECT_EQ(
      error_of([] { check_classifier(built("Conv2d(1, 4, 3) Flatten ReLU"), 10, "MNIST"); }),
      "Model: the output for one image should be [1, 10], one score for each of the 10 classes of MNIST, but "
      "got [1, 2704]; end the model with a Linear that gives 10 outputs, LazyLinear(10)");
}

}  // namespace
}  // namespace minicnn
