// Model: shape inference with positioned errors, forward/backward over the layer list, the summary table.
#include <minicnn/model.h>

#include <fmt/format.h>

#include <minicnn/check.h>
#include <minicnn/device.h>
#if MINICNN_CUDA
#include <minicnn/cuda/context.h>
#endif

namespace minicnn {
namespace {

// ---- Device dispatch: a model on a CUDA device queues its work on its own stream, current (with the
// model's device) during forward() and backward().
#if MINICNN_CUDA
using StreamScope = cuda::StreamGuard;
std::shared_ptr<cuda::Stream> stream_for(Device device) {
  return device.is_cuda() ? std::make_shared<cuda::Stream>(device.index) : nullptr;
}
#else
struct StreamScope {
  explicit StreamScope(const cuda::Stream*) {}
};
std::shared_ptr<cuda::Stream> stream_for(Device) { return nullptr; }
#endif

// Rewrites "Linear: expected ..." as "Model: layer 7 (Linear): expected ...", keeping one sentence.
[[noreturn]] void rethrow_at(size_t index, const Layer& layer, const Error& e) {
  std::string msg = e.what();
  const std::string prefix = layer.type_name() + ": ";
  if (msg.rfind(prefix, 0) == 0) msg = msg.substr(prefix.size());
  if (msg.rfind("Model: ", 0) == 0) throw e;
  throw Error(fmt::format("Model: layer {} ({}): {}", index, layer.type_name(), msg));
}

Shape with_batch(const Shape& chw) {
  std::vector<int64_t> dims{1};
  dims.insert(dims.end(), chw.dims().begin(), chw.dims().end());
  return Shape(dims);
}

// "cpu,cuda": the device types `layer` runs on in this build (a build without CUDA runs everything on the
// CPU).
std::string devices_of(const Layer& layer) {
  return cuda_built() && layer.supports(Device::cuda()) ? "cpu,cuda" : "cpu";
}

std::string human_bytes(double bytes) {
  if (bytes < 1024) return fmt::format("{:.0f} B", bytes);
  if (bytes < 1024.0 * 1024) return fmt::format("{:.1f} KiB", bytes / 1024);
  return fmt::format("{:.2f} MiB", bytes / (1024.0 * 1024));
}

}  // namespace

Model& Model::add(std::unique_ptr<Layer> layer) {
  MINICNN_CHECK(layer != nullptr, "Model: add() expects a layer, but got nullptr");
  layers_.push_back(std::move(layer));
  built_ = false;
  return *this;
}

void Model::build(const Shape& input_chw, uint64_t seed) {
  MINICNN_CHECK(!layers_.empty(), "Model: expected at least one layer, but the model is empty");
  MINICNN_CHECK(input_chw.rank() >= 1, "Model: expected a per-image input shape such as (C, H, W), but got ",
                input_chw);
  Shape shape = with_batch(input_chw);
  for (size_t i = 0; i < layers_.size(); ++i) {
    try {
      Shape out = layers_[i]->output_shape(shape);
      layers_[i]->materialize(shape);
      shape = out;
    } catch (const Error& e) {
      rethrow_at(i, *layers_[i], e);
    }
  }
  Generator gen(seed);
  for (auto& layer : layers_) layer->reset_parameters(gen);
  for (size_t i = 0; i < layers_.size(); ++i) layers_[i]->set_needs_input_grad(i != 0);
  fuse_relus(device_.is_cpu());
  input_chw_ = input_chw;
  built_ = true;
}

Shape Model::output_shape(const Shape& in) const {
  Shape shape = in;
  for (size_t i = 0; i < layers_.size(); ++i) {
    try {
      shape = layers_[i]->output_shape(shape);
    } catch (const Error& e) {
      rethrow_at(i, *layers_[i], e);
    }
  }
  return shape;
}

Tensor Model::forward(const Tensor& x, Mode mode) {
  MINICNN_CHECK(built_, "Model: forward() called before build(); call build(input_shape, seed) first");
  MINICNN_CHECK(x.device() == device_, "Model: the input is on ", x.device().str(), " but the model is on ",
                device_.str(), "; move one of them with to()");
  const StreamScope scope(stream_.get());
  Tensor h = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    try {
      h = layers_[i]->forward(h, mode);
    } catch (const Error& e) {
      rethrow_at(i, *layers_[i], e);
    }
  }
  return h;
}

Tensor Model::backward(const Tensor& dy) {
  MINICNN_CHECK(dy.device() == device_, "Model: the gradient is on ", dy.device().str(), " but the model is on ",
                device_.str(), "; move it with to()");
  const StreamScope scope(stream_.get());
  Tensor g = dy;
  for (size_t i = layers_.size(); i-- > 0;) g = layers_[i]->backward(g);
  return g;
}

std::vector<std::pair<std::string, Parameter*>> Model::named_parameters() {
  std::vector<std::pair<std::string, Parameter*>> out;
  for (size_t i = 0; i < layers_.size(); ++i) {
    for (Parameter* p : layers_[i]->parameters()) out.emplace_back(fmt::format("{}.{}", i, p->name), p);
  }
  return out;
}

std::vector<Parameter*> Model::parameters() {
  std::vector<Parameter*> out;
  for (auto& layer : layers_) {
    for (Parameter* p : layer->parameters()) out.push_back(p);
  }
  return out;
}

std::vector<NamedTensor> Model::state_dict() {
  std::vector<NamedTensor> out;
  for (size_t i = 0; i < layers_.size(); ++i) {
    for (Parameter* p : layers_[i]->parameters()) out.push_back({fmt::format("{}.{}", i, p->name), &p->value});
    for (Buffer* b : layers_[i]->buffers()) out.push_back({fmt::format("{}.{}", i, b->name), &b->value});
  }
  return out;
}

int64_t Model::num_parameters() {
  int64_t n = 0;
  for (Parameter* p : parameters()) n += p->value.numel();
  return n;
}

void Model::zero_grad() {
  for (Parameter* p : parameters()) p->grad.zero_();
}

void Model::reseed(uint64_t seed) {
  for (size_t i = 0; i < layers_.size(); ++i) layers_[i]->reseed(seed * 0x9E3779B97F4A7C15ull + i);
}

void Model::to(Device device) {
  require_device(device, "Model");
  const std::string unsupported = unsupported_layer(device);
  MINICNN_CHECK(unsupported.empty(), "Model: ", unsupported,
                " has no CUDA implementation yet; keep the model on ", "the CPU");
  for (auto& layer : layers_) layer->to(device);
  if (device != device_) stream_ = stream_for(device);
  device_ = device;
  fuse_relus(device_.is_cpu());
}

std::string Model::unsupported_layer(Device device) const {
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (!layers_[i]->supports(device)) return fmt::format("{} (layer {})", layers_[i]->type_name(), i);
  }
  return "";
}

void Model::fuse_relus(bool fuse) {
  MINICNN_CHECK(!fuse || device_.is_cpu(), "Model: ReLU fusion runs on the CPU only, but the model is on ",
                device_.str());
  for (size_t i = 0; i + 1 < layers_.size(); ++i) {
    auto* fuser = dynamic_cast<ReLUFuser*>(layers_[i].get());
    auto* relu = dynamic_cast<FusableReLU*>(layers_[i + 1].get());
    if (fuser && relu) {
      fuser->set_fused_relu(fuse);
      relu->set_fused(fuse);
    }
  }
}

std::vector<LayerSummary> Model::summary_rows(const Shape& input_chw) const {
  std::vector<LayerSummary> rows;
  Shape shape = with_batch(input_chw);
  // Receptive field per axis: size r and jump j (distance in input pixels between adjacent outputs), in
  // double: strides multiply from layer to layer and would overflow int64 after a few large ones.
  double rh = 1, rw = 1, jh = 1, jw = 1;
  bool full = false;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& layer = *layers_[i];
    try {
      shape = layer.output_shape(shape);
    } catch (const Error& e) {
      rethrow_at(i, layer, e);
    }
    if (auto w = layer.window()) {
      rh += static_cast<double>(w->DH) * static_cast<double>(w->KH - 1) * jh;
      rw += static_cast<double>(w->DW) * static_cast<double>(w->KW - 1) * jw;
      jh *= static_cast<double>(w->SH);
      jw *= static_cast<double>(w->SW);
    }
    if (layer.mixes_spatial()) full = true;
    int64_t params = 0;
    for (Parameter* p : const_cast<Layer&>(layer).parameters()) params += p->value.defined() ? p->value.numel() : 0;
    rows.push_back({static_cast<int64_t>(i), layer.type_name(), shape, params,
                    full ? "full" : fmt::format("{}x{}", rh, rw), shape.numel() * 4, devices_of(layer)});
  }
  return rows;
}

std::string Model::summary(const Shape& input_chw) const {
  const auto rows = summary_rows(input_chw);
  std::string out = fmt::format("{:<4} {:<14} {:<18} {:>11} {:>10} {:>12}  {}\n", "#", "layer",
                                "output shape", "parameters", "receptive", "activations", "devices");
  out += std::string(84, '-') + "\n";
  out += fmt::format("{:<4} {:<14} {:<18} {:>11} {:>10} {:>12}\n", "", "input", with_batch(input_chw).str(), "",
                     "1x1", human_bytes(static_cast<double>(input_chw.numel()) * 4));
  int64_t total_params = 0, total_act = 0;
  for (const auto& r : rows) {
    out += fmt::format("{:<4} {:<14} {:<18} {:>11} {:>10} {:>12}  {}\n", r.index, r.type,
                       r.output_shape.str(), fmt::format("{}", fmt::group_digits(r.parameters)),
                       r.receptive_field, human_bytes(static_cast<double>(r.activation_bytes)), r.devices);
    total_params += r.parameters;
    total_act += r.activation_bytes;
  }
  out += std::string(84, '-') + "\n";
  out += fmt::format("total parameters: {}\n", fmt::group_digits(total_params));
  int64_t trainable = 0;
  for (const auto& layer : layers_) {
    for (const Parameter* p : layer->parameters()) trainable += p->requires_grad ? p->value.numel() : 0;
  }
  out += fmt::format("trainable parameters: {}{}\n", fmt::group_digits(trainable),
                     trainable == total_params
                         ? std::string()
                         : fmt::format(" ({} frozen: requires_grad false)", fmt::group_digits(total_params - trainable)));
  out += fmt::format("parameter memory: {}\n", human_bytes(static_cast<double>(total_params) * 4));
  out += fmt::format("activation memory per image (forward outputs): {}\n",
                     human_bytes(static_cast<double>(total_act)));
  if (!cuda_built()) out += "devices: this build has no CUDA backend (configure with -DMINICNN_CUDA=ON)\n";
  return out;
}

}  // namespace minicnn
