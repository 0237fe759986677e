// ONNX export: the graph's nodes and attributes, the checker, refusals, atomic writes, and agreement with
// ONNX Runtime (tests/onnx_runtime_check.sh, skipped where Node or onnxruntime-node is missing).
#include <sys/wait.h>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <minicnn/batchnorm2d.h>
#include <minicnn/check.h>
#include <minicnn/checkpoint.h>
#include <minicnn/npy.h>
#include <minicnn/onnx_export.h>
#include <minicnn/registry.h>
#include "test_util.h"

namespace minicnn {
namespace {

using testing::contains;
using testing::error_of;
using testing::TempDir;

// Every pooling option at once on 1x28x28 (sizes after each layer): a tiling adaptive max pool (28 -> 14),
// overlapping windows with ceil_mode (14 -> 8), average pooling with ceil_mode and without the padding in its
// divisor (8 -> 5), a dilated max pool (5 -> 5), divisor_override (5 -> 2), average pooling whose ceil_mode
// window hangs past the padding and divides by less (2 -> 2), a dilated max pool whose padding is as wide as
// its kernel (2 -> 2), and a global average pool.
constexpr const char* kMultiPoolSpec =
    "Conv2d(1, 4, 3, padding=1) ReLU AdaptiveMaxPool2d(14) "
    "MaxPool2d(3, stride=2, padding=1, ceil_mode=True) "
    "AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False) "
    "MaxPool2d(2, stride=1, padding=1, dilation=2) "
    "AvgPool2d(2, divisor_override=3) "
    "AvgPool2d(3, stride=2, padding=1, ceil_mode=True) "
    "MaxPool2d(2, stride=2, padding=2, dilation=3) "
    "Conv2d(4, 8, 1) AdaptiveAvgPool2d(1) Flatten Linear(8, 10)";

// The other layers: GELU in both forms, BatchNorm2d with and without affine parameters, Conv2d without a
// bias and with dilation, Dropout, Mul, a Linear without a bias.
constexpr const char* kEveryLayerSpec =
    "Conv2d(3, 8, 3, stride=2, padding=2, dilation=2, bias=False) BatchNorm2d(8) GELU "
    "Conv2d(8, 8, 3, padding=1) BatchNorm2d(8, affine=False) GELU(approximate='tanh') "
    "AvgPool2d(2) Flatten Dropout(0.5) Linear(512, 32) ReLU Linear(32, 10, bias=False) Mul(1/9)";

std::vector<std::string> digit_classes() {
  std::vector<std::string> classes;
  for (int c = 0; c < 10; ++c) classes.push_back(std::to_string(c));
  return classes;
}

// Running statistics away from BatchNorm's initial 0 and 1, so that exporting them is tested.
void vary_running_stats(Model& model) {
  for (size_t i = 0; i < model.size(); ++i) {
    auto* bn = dynamic_cast<BatchNorm2d*>(&model.layer(i));
    if (!bn) continue;
    for (Buffer* b : bn->buffers()) {
      if (b->value.dtype() != DType::Float32) continue;
      float* v = b->value.data();
      for (int64_t c = 0; c < b->value.numel(); ++c) {
        v[c] = b->name == "running_var" ? 0.5f + 0.1f * static_cast<float>(c % 7)
                                        : 0.05f * std::sin(static_cast<float>(c));
      }
    }
  }
}

Model built(const std::string& spec, const Shape& chw) {
  Model model = parse_model(spec);
  model.build(chw, 7);
  vary_running_stats(model);
  return model;
}

OnnxExportOptions options_for(const Shape& chw) {
  OnnxExportOptions o;
  o.input_chw = chw;
  for (int64_t c = 0; c < chw[0]; ++c) {
    o.mean.push_back(0.1f + 0.2f * static_cast<float>(c));
    o.std.push_back(0.3f);
  }
  o.classes = digit_classes();
  o.model_name = "custom";
  return o;
}

onnx::ModelProto exported(Model& model, const Shape& chw) {
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(onnx_model_bytes(model, options_for(chw))));
  return m;
}

std::vector<std::string> op_types(const onnx::ModelProto& m) {
  std::vector<std::string> ops;
  for (const onnx::NodeProto& n : m.graph().node()) ops.push_back(n.op_type());
  return ops;
}

const onnx::NodeProto& node_named(const onnx::ModelProto& m, const std::string& name) {
  for (const onnx::NodeProto& n : m.graph().node()) {
    if (n.name() == name) return n;
  }
  throw std::runtime_error("no node " + name);
}

std::vector<int64_t> ints(const onnx::NodeProto& n, const std::string& attribute) {
  for (const onnx::AttributeProto& a : n.attribute()) {
    if (a.name() == attribute) return {a.ints().begin(), a.ints().end()};
  }
  return {};
}

int64_t integer(const onnx::NodeProto& n, const std::string& attribute) {
  for (const onnx::AttributeProto& a : n.attribute()) {
    if (a.name() == attribute) return a.i();
  }
  return -1;
}

std::string metadata(const onnx::ModelProto& m, const std::string& key) {
  for (const onnx::StringStringEntryProto& e : m.metadata_props()) {
    if (e.key() == key) return e.value();
  }
  return "";
}

TEST(OnnxExport, SmallModelPassesTheCheckerWithTheLayersAsNodes) {
  Model model =
      built("Conv2d(1, 4, 3, padding=1, dilation=1) ReLU MaxPool2d(2) Flatten Linear(784, 10)", {1, 28, 28});
  const onnx::ModelProto m = exported(model, {1, 28, 28});
  EXPECT_NO_THROW(onnx::checker::check_model(m));
  EXPECT_EQ(m.opset_import(0).version(), kOnnxOpset);
  EXPECT_EQ(op_types(m),
            (std::vector<std::string>{"Div", "Sub", "Div", "Conv", "Relu", "MaxPool", "Flatten", "Gemm"}));
  const onnx::NodeProto& conv = node_named(m, "0.Conv");
  EXPECT_EQ(ints(conv, "pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(ints(conv, "kernel_shape"), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(conv.input(1), "0.weight");  // nn.Sequential's names
  EXPECT_EQ(ints(node_named(m, "2.MaxPool"), "strides"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(integer(m.graph().node(7), "transB"), 1);
  EXPECT_EQ(m.graph().node(7).output(0), "logits");
  const onnx::ValueInfoProto& in = m.graph().input(0);
  EXPECT_EQ(in.name(), "input");
  EXPECT_EQ(in.type().tensor_type().shape().dim(0).dim_param(), "N");
  EXPECT_EQ(in.type().tensor_type().shape().dim(3).dim_value(), 28);
  const onnx::ValueInfoProto& out = m.graph().output(0);
  EXPECT_EQ(out.name(), "logits");
  EXPECT_EQ(out.type().tensor_type().shape().dim(1).dim_value(), 10);
  EXPECT_EQ(metadata(m, "classes"), R"(["0","1","2","3","4","5","6","7","8","9"])");
  EXPECT_EQ(metadata(m, "minicnn_version"), "0.1.0");
}

TEST(OnnxExport, PoolingOptionsBecomeExplicitPaddingAndDivisors) {
  Model model = built(kMultiPoolSpec, {1, 28, 28});
  const onnx::ModelProto m = exported(model, {1, 28, 28});
  EXPECT_NO_THROW(onnx::checker::check_model(m));
  EXPECT_EQ(ints(node_named(m, "2.MaxPool"), "kernel_shape"), (std::vector<int64_t>{2, 2}));  // 28 -> 14
  // ceil_mode: 14 -> 8 needs 2 cells after the input, one more than the padding.
  EXPECT_EQ(ints(node_named(m, "3.MaxPool"), "pads"), (std::vector<int64_t>{1, 1, 2, 2}));
  EXPECT_EQ(ints(node_named(m, "5.MaxPool"), "dilations"), (std::vector<int64_t>{2, 2}));
  // Divisors other than the window's size: without the padding, divisor_override=3 on 2x2 windows, a
  // ceil_mode window clipped to the padded extent.
  for (const char* rescaled : {"4.divisor", "6.divisor", "7.divisor"}) {
    EXPECT_EQ(node_named(m, rescaled).op_type(), "Mul") << rescaled;
  }
  // Padding as wide as the kernel (ONNX Runtime refuses it on MaxPool): a Pad of -inf first.
  EXPECT_EQ(node_named(m, "8.MaxPool").input(0), "8.Pad");
  EXPECT_TRUE(ints(node_named(m, "8.MaxPool"), "pads").empty());
  EXPECT_EQ(node_named(m, "10.GlobalPool").op_type(), "GlobalAveragePool");
}

TEST(OnnxExport, EveryOtherLayerExports) {
  Model model = built(kEveryLayerSpec, {3, 32, 32});
  const onnx::ModelProto m = exported(model, {3, 32, 32});
  const std::vector<std::string> ops = op_types(m);
  for (const char* op : {"BatchNormalization", "Erf", "Tanh", "AveragePool", "Gemm", "Mul"}) {
    EXPECT_NE(std::find(ops.begin(), ops.end(), op), ops.end()) << op;
  }
  EXPECT_EQ(std::find(ops.begin(), ops.end(), "Dropout"), ops.end());  // the identity at inference
  EXPECT_EQ(m.graph().node(m.graph().node_size() - 1).output(0), "logits");
}

TEST(OnnxExport, RefusesAdaptivePoolingWithUnevenWindowsNamingTheLayer) {
  Model model = built("Conv2d(1, 2, 3) AdaptiveAvgPool2d(4) Flatten Linear(32, 10)", {1, 9, 9});
  EXPECT_EQ(
      error_of([&] {
        onnx_model_bytes(model, options_for({1, 9, 9}));
      }),
      "ONNX export: layer 1 (AdaptiveAvgPool2d(output_size=4)) pools 7x7 to 4x4, windows of different sizes "
      "that ONNX pooling cannot express; use an output size that divides the input or 1 (global pooling)");
}

TEST(OnnxExport, RefusesBatchNormWithoutRunningStatistics) {
  Model model = built("Conv2d(1, 2, 3) BatchNorm2d(2, track_running_stats=False) Flatten Linear(1352, 10)",
                      {1, 28, 28});
  const std::string e = error_of([&] { onnx_model_bytes(model, options_for({1, 28, 28})); });
  EXPECT_TRUE(contains(e, "ONNX export: layer 1 (BatchNorm2d(2, ")) << e;
  EXPECT_TRUE(contains(e, "track_running_stats=False")) << e;
}

TEST(OnnxExport, RefusesAModelWhoseOutputsAreNotTheClasses) {
  Model model = built("Flatten Linear(784, 12)", {1, 28, 28});
  EXPECT_EQ(
      error_of([&] {
        onnx_model_bytes(model, options_for({1, 28, 28}));
      }),
      "ONNX export: expected the model to give [N, 10] logits (one per class), but it gives [1, 12] for one "
      "image");
}

TEST(OnnxExport, FailedExportKeepsAnExistingFileAndLeavesNoOther) {
  TempDir tmp("onnx_atomic");
  const std::string path = tmp / "model.onnx";
  testing::write_bytes(path, "the previous export");
  Model model = built("Conv2d(1, 2, 3) AdaptiveAvgPool2d(4) Flatten Linear(32, 10)", {1, 9, 9});
  EXPECT_THROW(export_onnx(model, options_for({1, 9, 9}), path), Error);
  EXPECT_EQ(testing::read_bytes(path), "the previous export");
  EXPECT_THROW(export_onnx(model, options_for({1, 9, 9}), tmp / "new.onnx"), Error);
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(std::string(tmp / "")))
    ++files;
  EXPECT_EQ(files, 1u);
}

TEST(OnnxExport, SucceededExportReplacesAnExistingFile) {
  TempDir tmp("onnx_replace");
  const std::string path = tmp / "model.onnx";
  testing::write_bytes(path, "the previous export");
  Model model = built("Flatten Linear(784, 10)", {1, 28, 28});
  export_onnx(model, options_for({1, 28, 28}), path);
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(testing::read_bytes(path)));
  EXPECT_EQ(op_types(m).back(), "Gemm");
}

// A checkpoint of `spec` with untrained weights (and varied BatchNorm statistics), as train would save it.
std::string save_model(const TempDir& tmp, const std::string& name, const std::string& spec,
                       const Shape& chw) {
  Model model = built(spec, chw);
  CheckpointMeta meta;
  meta.spec = model_to_spec(model);
  meta.model_name = name;
  meta.input_chw = chw;
  const OnnxExportOptions o = options_for(chw);
  meta.normalization = {o.mean, o.std};
  meta.dataset = "mnist";
  meta.classes = o.classes;
  const std::string path = tmp / (name + ".safetensors");
  save_checkpoint(path, model, nullptr, meta, TrainState{});
  return path;
}

// Pixel values 0..255 that vary in every position, channel and image.
std::string save_pixels(const TempDir& tmp, const std::string& name, int64_t n, const Shape& chw) {
  Tensor x = Tensor::empty({n, chw[0], chw[1], chw[2]});
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = static_cast<float>((i * 37 + (i / 97) * 11) % 256);
  const std::string path = tmp / name;
  save_npy(path, x);
  return path;
}

testing::CommandResult run_shell(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  std::string output;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(OnnxRuntime, ExportedModelsGiveMinicnnsLogits) {
  TempDir tmp("onnx_runtime");
  const std::string grey = save_pixels(tmp, "grey.npy", 6, {1, 28, 28});
  const std::string colour = save_pixels(tmp, "colour.npy", 6, {3, 32, 32});
  std::string grey_models, colour_models;
  for (const char* preset : {"mnist-cnn", "lenet5"})
    grey_models += " " + save_model(tmp, preset, preset, {1, 28, 28});
  grey_models += " " + save_model(tmp, "multipool", kMultiPoolSpec, {1, 28, 28});
  for (const char* preset : {"cifar-cnn", "airbench94"})
    colour_models += " " + save_model(tmp, preset, preset, {3, 32, 32});
  colour_models += " " + save_model(tmp, "every-layer", kEveryLayerSpec, {3, 32, 32});
  const std::string script =
      std::string(MINICNN_SOURCE_DIR) + "/tests/onnx_runtime_check.sh --minicnn " + MINICNN_CLI_PATH;
  const testing::CommandResult r = run_shell(script + " " + grey + grey_models);
  if (r.exit_code == 77) GTEST_SKIP() << r.output;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const testing::CommandResult rc = run_shell(script + " " + colour + colour_models);
  EXPECT_EQ(rc.exit_code, 0) << rc.output;
}

TEST(ExportCommand, RefusesADirectoryAsOutputBeforeReadingTheCheckpoint) {
  TempDir tmp("export_cli");
  const auto r =
      testing::run_cli("export --checkpoint " + (tmp / "missing.safetensors") + " --output " + (tmp / ""));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "export: --output should name the .onnx file to write, but")) << r.output;
}

TEST(ExportCommand, WritesTheFileAndSaysWhatItHolds) {
  TempDir tmp("export_cli_ok");
  const std::string ckpt = save_model(tmp, "lenet5", "lenet5", {1, 28, 28});
  const auto r = testing::run_cli("export --checkpoint " + ckpt + " --output " + (tmp / "m.onnx"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output,
            "wrote " + (tmp / "m.onnx") +
                ": opset 17, input 'input' [N, 1, 28, 28] (pixel values 0..255), output 'logits' [N, 10]\n");
  EXPECT_NO_THROW(onnx::checker::check_model(tmp / "m.onnx"));
}

}  // namespace
}  // namespace minicnn
