// ONNX export: the preprocessing and each layer as ONNX nodes (opset 17) on libonnx's protobuf classes,
// then libonnx's checker.
#include <minicnn/onnx_export.h>

#include <fmt/format.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <algorithm>
#include <cmath>
#include <exception>
#include <nlohmann/json.hpp>

#include <minicnn/batchnorm2d.h>
#include <minicnn/check.h>
#include <minicnn/conv2d.h>
#include <minicnn/dropout.h>
#include <minicnn/file_io.h>
#include <minicnn/flatten.h>
#include <minicnn/gelu.h>
#include <minicnn/linear.h>
#include <minicnn/mul.h>
#include <minicnn/pool2d.h>
#include <minicnn/pool2d_window.h>
#include <minicnn/relu.h>

namespace minicnn {
namespace {

using Ints = std::vector<int64_t>;

// The graph as it is written: constants (initialisers), nodes and the name of the tensor the next node
// reads. Node and constant names start with the layer's index ("3.weight", "3.MaxPool"), so a graph viewer
// shows which layer each node comes from.
class GraphWriter {
 public:
  explicit GraphWriter(onnx::GraphProto* graph) : graph_(graph) {}

  // A float32 initialiser of shape `dims` (empty: a scalar).
  std::string constant(const std::string& name, const std::vector<float>& values, const Ints& dims) {
    onnx::TensorProto* t = graph_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(values.data(), values.size() * sizeof(float));  // raw data is little-endian, as ours
    return name;
  }
  std::string constant(const std::string& name, const Tensor& value) {
    const Tensor host = value.to(Device::cpu());
    return constant(name, std::vector<float>(host.data(), host.data() + host.numel()), host.shape().dims());
  }
  std::string scalar(const std::string& name, float value) { return constant(name, {value}, {}); }

  // A node named `name` reading `inputs` and writing one output, also called `name`.
  onnx::NodeProto& node(const std::string& op, const std::string& name,
                        const std::vector<std::string>& inputs) {
    onnx::NodeProto* n = graph_->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const std::string& in : inputs) n->add_input(in);
    n->add_output(name);
    return *n;
  }
  // The node's output, for chaining.
  static std::string out(const onnx::NodeProto& n) { return n.output(0); }

  onnx::GraphProto& graph() { return *graph_; }

 private:
  onnx::GraphProto* graph_;
};

void set_ints(onnx::NodeProto& n, const char* name, const Ints& values) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

void set_int(onnx::NodeProto& n, const char* name, int64_t value) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void set_float(onnx::NodeProto& n, const char* name, float value) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

[[noreturn]] void refuse(size_t index, const Layer& layer, const std::string& why) {
  detail::throw_error(fmt::format("ONNX export: layer {} ({}) {}", index, layer.repr(), why));
}

// The pixels 0..255 to the model's input, in the loader's order of operations: (x / 255 - mean) / std.
std::string normalize(GraphWriter& g, const std::string& x, const OnnxExportOptions& o) {
  const Ints per_channel{1, o.input_chw[0], 1, 1};
  const std::string scale = g.scalar("normalize.pixel_scale", 255.0f);
  const std::string mean = g.constant("normalize.mean", o.mean, per_channel);
  const std::string std = g.constant("normalize.std", o.std, per_channel);
  const std::string unit = g.out(g.node("Div", "normalize.to_unit", {x, scale}));
  const std::string centred = g.out(g.node("Sub", "normalize.centre", {unit, mean}));
  return g.out(g.node("Div", "normalize.scale", {centred, std}));
}

std::string conv2d(GraphWriter& g, const std::string& x, Conv2d& layer, const std::string& at) {
  const Conv2dOptions& o = layer.options();
  std::vector<std::string> inputs{x, g.constant(at + ".weight", layer.weight().value)};
  if (o.bias_) inputs.push_back(g.constant(at + ".bias", layer.bias().value));
  onnx::NodeProto& n = g.node("Conv", at + ".Conv", inputs);
  set_ints(n, "kernel_shape", {o.kernel_size_.h, o.kernel_size_.w});
  set_ints(n, "strides", {o.stride_.h, o.stride_.w});
  set_ints(n, "pads", {o.padding_.h, o.padding_.w, o.padding_.h, o.padding_.w});
  set_ints(n, "dilations", {o.dilation_.h, o.dilation_.w});
  set_int(n, "group", 1);
  return g.out(n);
}

std::string linear(GraphWriter& g, const std::string& x, Linear& layer, const std::string& at) {
  std::vector<std::string> inputs{x, g.constant(at + ".weight", layer.weight().value)};
  if (layer.options().bias_) inputs.push_back(g.constant(at + ".bias", layer.bias().value));
  onnx::NodeProto& n = g.node("Gemm", at + ".Gemm", inputs);  // x W^T + b
  set_int(n, "transB", 1);
  return g.out(n);
}

std::string batchnorm2d(GraphWriter& g, const std::string& x, BatchNorm2d& layer, const std::string& at,
                        size_t index) {
  const BatchNorm2dOptions& o = layer.options();
  if (!o.track_running_stats_) {
    refuse(index, layer,
           "normalises with each batch's own statistics in eval mode (track_running_stats=False), "
           "which an ONNX inference graph does not compute; train it with track_running_stats=True");
  }
  const int64_t C = layer.running_mean().numel();
  const std::string scale =
      o.affine_ ? g.constant(at + ".weight", layer.weight().value)
                : g.constant(at + ".ones", std::vector<float>(static_cast<size_t>(C), 1.0f), {C});
  const std::string bias =
      o.affine_ ? g.constant(at + ".bias", layer.bias().value)
                : g.constant(at + ".zeros", std::vector<float>(static_cast<size_t>(C), 0.0f), {C});
  onnx::NodeProto& n = g.node("BatchNormalization", at + ".BatchNormalization",
                              {x, scale, bias, g.constant(at + ".running_mean", layer.running_mean()),
                               g.constant(at + ".running_var", layer.running_var())});
  set_float(n, "epsilon", static_cast<float>(o.eps_));
  return g.out(n);
}

// torch's GELU formulas, from the elementary ops opset 17 has:
// none: x * 0.5 * (1 + erf(x / sqrt(2))); tanh: x * 0.5 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))).
std::string gelu(GraphWriter& g, const std::string& x, const GELU& layer, const std::string& at) {
  std::string phi;
  if (layer.approximate() == GeluApproximate::None) {
    const std::string scaled = g.out(
        g.node("Mul", at + ".x_over_sqrt2", {x, g.scalar(at + ".rsqrt2", static_cast<float>(M_SQRT1_2))}));
    phi = g.out(g.node("Erf", at + ".Erf", {scaled}));
  } else {
    const std::string x2 = g.out(g.node("Mul", at + ".x2", {x, x}));
    const std::string x3 = g.out(g.node("Mul", at + ".x3", {x2, x}));
    const std::string cubic = g.out(g.node("Mul", at + ".cubic", {x3, g.scalar(at + ".c", 0.044715f)}));
    const std::string inner = g.out(g.node("Add", at + ".inner", {x, cubic}));
    const float k = static_cast<float>(std::sqrt(2.0 / M_PI));
    const std::string arg = g.out(g.node("Mul", at + ".arg", {inner, g.scalar(at + ".sqrt_2_over_pi", k)}));
    phi = g.out(g.node("Tanh", at + ".Tanh", {arg}));
  }
  const std::string one_plus = g.out(g.node("Add", at + ".one_plus", {phi, g.scalar(at + ".one", 1.0f)}));
  const std::string half_x = g.out(g.node("Mul", at + ".half_x", {x, g.scalar(at + ".half", 0.5f)}));
  return g.out(g.node("Mul", at + ".GELU", {half_x, one_plus}));
}

// Padding that makes ONNX's floor-mode output size equal minicnn's (ceil_mode included, with its rule that
// a last window starting in the bottom/right padding is dropped): PH, PW before, and after just enough for
// the last window, which may be more than PH (ceil_mode) or less (padding no window reaches).
Ints pool_pads(const Pool2dGeometry& geo) {
  const int64_t end_h =
      std::max<int64_t>(0, (geo.OH - 1) * geo.SH + geo.DH * (geo.KH - 1) + 1 - geo.H - geo.PH);
  const int64_t end_w =
      std::max<int64_t>(0, (geo.OW - 1) * geo.SW + geo.DW * (geo.KW - 1) + 1 - geo.W - geo.PW);
  return {geo.PH, geo.PW, end_h, end_w};
}

bool any_nonzero(const Ints& v) {
  return std::any_of(v.begin(), v.end(), [](int64_t p) { return p != 0; });
}

// An explicit Pad node of value `fill` over H and W (pads: begin H, begin W, end H, end W).
std::string pad(GraphWriter& g, const std::string& x, const Ints& pads, float fill, const std::string& at) {
  const std::string amounts = at + ".pads";
  onnx::TensorProto* t = g.graph().add_initializer();
  t->set_name(amounts);
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(8);
  for (int64_t v : Ints{0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]}) t->add_int64_data(v);
  return g.out(g.node("Pad", at + ".Pad", {x, amounts, g.scalar(at + ".fill", fill)}));
}

// Max pooling's padding never wins, as ONNX MaxPool's pads. ONNX Runtime refuses pads as wide as the
// kernel (possible here with dilation, or with ceil_mode's extra end padding), so those take a Pad of -inf.
std::string max_pool2d(GraphWriter& g, const std::string& x, const MaxPool2d& layer, const Shape& in,
                       const std::string& at) {
  const Pool2dGeometry geo = pool2d_geometry("MaxPool2d", in, layer.options().args_);
  const Ints pads = pool_pads(geo);
  const bool fits = pads[0] < geo.KH && pads[2] < geo.KH && pads[1] < geo.KW && pads[3] < geo.KW;
  const std::string from = fits || !any_nonzero(pads) ? x : pad(g, x, pads, -INFINITY, at);
  onnx::NodeProto& n = g.node("MaxPool", at + ".MaxPool", {from});
  set_ints(n, "kernel_shape", {geo.KH, geo.KW});
  set_ints(n, "strides", {geo.SH, geo.SW});
  set_ints(n, "dilations", {geo.DH, geo.DW});
  if (fits && any_nonzero(pads)) set_ints(n, "pads", pads);
  return g.out(n);
}

// ONNX AveragePool has no divisor_override and its ceil_mode rule has changed between versions, so every
// option takes one form: zeros padded as minicnn's windows need, a mean over the full KH x KW window, then
// (where minicnn divides by something else) a constant map of KH*KW / divisor per output position, the
// divisor computed by the same rule as the kernels (avg_pool_divisor).
std::string avg_pool2d(GraphWriter& g, const std::string& x, const AvgPool2d& layer, const Shape& in,
                       const std::string& at) {
  const AvgPool2dOptions& o = layer.options();
  const Pool2dGeometry geo = pool2d_geometry("AvgPool2d", in, o.args_);
  const AvgDivisor divisor{o.count_include_pad_, o.divisor_override_.value_or(0)};
  const Ints pads = pool_pads(geo);
  const std::string from = any_nonzero(pads) ? pad(g, x, pads, 0.0f, at) : x;
  onnx::NodeProto& n = g.node("AveragePool", at + ".AveragePool", {from});
  set_ints(n, "kernel_shape", {geo.KH, geo.KW});
  set_ints(n, "strides", {geo.SH, geo.SW});
  std::vector<float> rescale(static_cast<size_t>(geo.OH * geo.OW));
  bool uniform = true;
  for (int64_t oh = 0; oh < geo.OH; ++oh) {
    for (int64_t ow = 0; ow < geo.OW; ++ow) {
      const int64_t d = avg_pool_divisor(geo, divisor, oh, ow);
      rescale[static_cast<size_t>(oh * geo.OW + ow)] =
          static_cast<float>(static_cast<double>(geo.KH * geo.KW) / d);
      uniform = uniform && d == geo.KH * geo.KW;
    }
  }
  if (uniform) return g.out(n);
  return g.out(g.node("Mul", at + ".divisor",
                      {g.out(n), g.constant(at + ".rescale", rescale, {1, 1, geo.OH, geo.OW})}));
}

// Adaptive pooling is a plain pooling when its windows are all alike: a global pool (output 1x1), or
// windows of H/OH x W/OW that tile the input. Otherwise its windows differ in size, which ONNX cannot say.
std::string adaptive_pool2d(GraphWriter& g, const std::string& x, const Layer& layer, bool max,
                            const Shape& in, size_t index, const std::string& at) {
  const Shape out = layer.output_shape(in);
  const int64_t H = in[2], W = in[3], OH = out[2], OW = out[3];
  if (OH == 1 && OW == 1)
    return g.out(g.node(max ? "GlobalMaxPool" : "GlobalAveragePool", at + ".GlobalPool", {x}));
  if (H % OH != 0 || W % OW != 0) {
    refuse(index, layer,
           fmt::format("pools {}x{} to {}x{}, windows of different sizes that ONNX pooling cannot "
                       "express; use an output size that divides the input or 1 (global pooling)",
                       H, W, OH, OW));
  }
  onnx::NodeProto& n = g.node(max ? "MaxPool" : "AveragePool", at + (max ? ".MaxPool" : ".AveragePool"), {x});
  set_ints(n, "kernel_shape", {H / OH, W / OW});
  set_ints(n, "strides", {H / OH, W / OW});
  return g.out(n);
}

// Flatten keeps the batch dimension in every model a classifier is (checked on a batch of two).
std::string flatten(GraphWriter& g, const std::string& x, const Flatten& layer, const Shape& in, size_t index,
                    const std::string& at) {
  Ints two = in.dims();
  two[0] = 2;
  const Shape out = layer.output_shape(Shape(two));
  if (out[0] != 2)
    refuse(index, layer, "merges the batch dimension, which an exported graph keeps; use start_dim=1");
  if (out.rank() == 2) {
    onnx::NodeProto& n = g.node("Flatten", at + ".Flatten", {x});
    set_int(n, "axis", 1);
    return g.out(n);
  }
  Ints shape = out.dims();
  shape[0] = 0;  // Reshape's 0: the input's own batch size
  const std::string target = at + ".shape";
  onnx::TensorProto* t = g.graph().add_initializer();
  t->set_name(target);
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(static_cast<int64_t>(shape.size()));
  for (int64_t v : shape) t->add_int64_data(v);
  return g.out(g.node("Reshape", at + ".Reshape", {x, target}));
}

// One layer's nodes after tensor `x` of per-image shape `in` (batch 1); returns the name of its output.
std::string layer_nodes(GraphWriter& g, const std::string& x, Layer& layer, const Shape& in, size_t index) {
  const std::string at = std::to_string(index);
  if (auto* conv = dynamic_cast<Conv2d*>(&layer)) return conv2d(g, x, *conv, at);
  if (auto* fc = dynamic_cast<Linear*>(&layer)) return linear(g, x, *fc, at);
  if (auto* bn = dynamic_cast<BatchNorm2d*>(&layer)) return batchnorm2d(g, x, *bn, at, index);
  if (dynamic_cast<ReLU*>(&layer)) return g.out(g.node("Relu", at + ".Relu", {x}));
  if (auto* act = dynamic_cast<GELU*>(&layer)) return gelu(g, x, *act, at);
  if (auto* pool = dynamic_cast<MaxPool2d*>(&layer)) return max_pool2d(g, x, *pool, in, at);
  if (auto* pool = dynamic_cast<AvgPool2d*>(&layer)) return avg_pool2d(g, x, *pool, in, at);
  if (dynamic_cast<AdaptiveMaxPool2d*>(&layer)) return adaptive_pool2d(g, x, layer, true, in, index, at);
  if (dynamic_cast<AdaptiveAvgPool2d*>(&layer)) return adaptive_pool2d(g, x, layer, false, in, index, at);
  if (auto* flat = dynamic_cast<Flatten*>(&layer)) return flatten(g, x, *flat, in, index, at);
  if (auto* mul = dynamic_cast<Mul*>(&layer))
    return g.out(g.node("Mul", at + ".Mul", {x, g.scalar(at + ".scale", mul->scale())}));
  if (dynamic_cast<Dropout*>(&layer)) return x;  // the identity at inference
  refuse(index, layer, "has no ONNX form in minicnn's exporter");
}

void set_tensor_type(onnx::ValueInfoProto& v, const std::string& name, const Ints& dims) {
  v.set_name(name);
  onnx::TypeProto_Tensor* t = v.mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) {
    if (d < 0) {
      t->mutable_shape()->add_dim()->set_dim_param("N");
    } else {
      t->mutable_shape()->add_dim()->set_dim_value(d);
    }
  }
}

// The graph's last tensor is called `logits`: its node is renamed, or (a model that ends in Dropout after
// the input) an Identity gives it that name.
void name_output(GraphWriter& g, const std::string& last) {
  onnx::GraphProto& graph = g.graph();
  onnx::NodeProto* tail = graph.node_size() > 0 ? graph.mutable_node(graph.node_size() - 1) : nullptr;
  if (tail && tail->output(0) == last) {
    tail->set_output(0, "logits");
  } else {
    g.node("Identity", "logits", {last});
  }
}

void add_metadata(onnx::ModelProto& m, const Model& model, const OnnxExportOptions& o) {
  auto put = [&](const std::string& key, const std::string& value) {
    onnx::StringStringEntryProto* e = m.add_metadata_props();
    e->set_key(key);
    e->set_value(value);
  };
  put("classes", nlohmann::json(o.classes).dump());
  put("minicnn_version", MINICNN_VERSION_STRING);
  put("model", o.model_name);
  put("spec", model.spec());
  put("normalization", nlohmann::json{{"mean", o.mean}, {"std", o.std}}.dump());
  put("input_pixels", "float32 [N, C, H, W] pixel values 0..255; the graph normalises them");
}

void check_options(const Model& model, const OnnxExportOptions& o) {
  MINICNN_CHECK(model.built(), "ONNX export: expected a built model, but got one that was never built");
  MINICNN_CHECK(o.input_chw.rank() == 3, "ONNX export: expected the input shape as (C, H, W), but got ",
                o.input_chw);
  const auto C = static_cast<size_t>(o.input_chw[0]);
  MINICNN_CHECK(o.mean.size() == C && o.std.size() == C,
                "ONNX export: expected one mean and std per input channel (", C, "), but got ", o.mean.size(),
                " means and ", o.std.size(), " stds");
}

// libonnx's checker: the operators, their attributes and the graph's wiring, for opset kOnnxOpset.
void check_with_onnx(const onnx::ModelProto& m) {
  try {
    onnx::checker::check_model(m);
  } catch (const std::exception& e) {
    std::string why = e.what();
    std::replace(why.begin(), why.end(), '\n', ' ');
    detail::throw_error(fmt::format("ONNX export: the ONNX checker rejects the exported graph: {}", why));
  }
}

}  // namespace

std::string onnx_model_bytes(Model& model, const OnnxExportOptions& options) {
  check_options(model, options);
  onnx::ModelProto m;
  m.set_ir_version(onnx::IR_VERSION);
  m.set_producer_name("minicnn");
  m.set_producer_version(MINICNN_VERSION_STRING);
  onnx::OperatorSetIdProto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpset);
  add_metadata(m, model, options);

  GraphWriter g(m.mutable_graph());
  g.graph().set_name(options.model_name.empty() ? "minicnn" : options.model_name);
  const Shape& chw = options.input_chw;
  Shape shape{1, chw[0], chw[1], chw[2]};
  std::string x = normalize(g, "input", options);
  for (size_t i = 0; i < model.size(); ++i) {
    x = layer_nodes(g, x, model.layer(i), shape, i);
    shape = model.layer(i).output_shape(shape);
  }
  const auto classes = static_cast<int64_t>(options.classes.size());
  MINICNN_CHECK(shape.rank() == 2 && shape[1] == classes, "ONNX export: expected the model to give [N, ",
                classes, "] logits (one per class), but it gives ", shape, " for one image");
  name_output(g, x);
  set_tensor_type(*g.graph().add_input(), "input", {-1, chw[0], chw[1], chw[2]});
  set_tensor_type(*g.graph().add_output(), "logits", {-1, classes});
  check_with_onnx(m);
  return m.SerializeAsString();
}

void export_onnx(Model& model, const OnnxExportOptions& options, const std::string& path) {
  write_file_atomic(path, onnx_model_bytes(model, options), "ONNX export");
}

}  // namespace minicnn
