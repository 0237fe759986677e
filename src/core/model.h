// Model: an ordered list of layers with shape inference, torch-style parameter names and a summary table.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <minicnn/layer.h>

namespace minicnn {

namespace cuda {
class Stream;  // cuda/context.h
}

/// A parameter or buffer with its nn.Sequential name ("0.weight", "3.bias", "1.running_mean").
struct NamedTensor {
  std::string name;
  Tensor* tensor;
};

/// One row of Model::summary_rows().
struct LayerSummary {
  int64_t index;
  std::string type;
  Shape output_shape;        // for one image: [1, C, H, W]
  int64_t parameters;
  std::string receptive_field;  // "5x5", or "full" once every output sees the whole input
  int64_t activation_bytes;  // output bytes for one image
  std::string devices;       // the device types the layer runs on in this build: "cpu,cuda" or "cpu"
};

/// An ordered graph of layers, built from the C++ API or (layers/registry.h) from a text spec.
/// Example:
///   Model m;
///   m.add(std::make_unique<Conv2d>(Conv2dOptions(1, 8, 3).padding(1)));
///   m.add(std::make_unique<ReLU>());
///   m.build({1, 28, 28}, /*seed=*/0);
class Model {
 public:
  Model() = default;
  Model(Model&&) = default;
  Model& operator=(Model&&) = default;

  Model& add(std::unique_ptr<Layer> layer);
  /// Infers every shape for per-image input `input_chw` (C, H, W), materialises lazy layers and
  /// initialises parameters from `seed` as torch.nn does by default; on the CPU it fuses ReLUs
  /// (fuse_relus). Throws Error naming the layer's position when a shape does not fit.
  void build(const Shape& input_chw, uint64_t seed);
  bool built() const { return built_; }
  const Shape& input_shape() const { return input_chw_; }
  /// Output shape for a batched or unbatched input, validating each layer in turn.
  Shape output_shape(const Shape& in) const;

  Tensor forward(const Tensor& x, Mode mode);
  Tensor backward(const Tensor& dy);

  size_t size() const { return layers_.size(); }
  Layer& layer(size_t i) { return *layers_.at(i); }
  const Layer& layer(size_t i) const { return *layers_.at(i); }

  /// Trainable parameters in nn.Sequential order, with their names.
  std::vector<std::pair<std::string, Parameter*>> named_parameters();
  std::vector<Parameter*> parameters();
  /// Parameters and buffers, as torch's state_dict() lists them.
  std::vector<NamedTensor> state_dict();
  int64_t num_parameters();
  void zero_grad();
  /// Moves every layer to `device`; fuses ReLUs on the CPU and unfuses them on CUDA (fuse_relus). Refuses
  /// a device that a layer does not support (unsupported_layer), naming it.
  void to(Device device);
  /// The first layer without kernels for `device`, as "BatchNorm2d (layer 2)"; empty when every layer
  /// supports it.
  std::string unsupported_layer(Device device) const;
  /// ReLU fusion, a CPU-only optimisation: with `fuse`, each ReLU right after a layer that can apply it in
  /// its own output loop (a ReLUFuser: Conv2d, Linear, BatchNorm2d) is applied there and passes tensors
  /// through, the same numbers with one pass over memory less; without, every ReLU runs as its own layer.
  /// build() and to() call it with fuse = (the model is on the CPU): on CUDA the layer would only launch
  /// the ReLU's kernel itself, so nothing is gained and the layers' CUDA paths know no ReLU. Fusing a
  /// model on CUDA is refused.
  void fuse_relus(bool fuse);
  /// Reseeds every stochastic layer from `seed` (layer i gets a stream derived from seed and i).
  void reseed(uint64_t seed);
  Device device() const { return device_; }

  /// The text spec this model was built from (set by the registry; stored in checkpoints).
  const std::string& spec() const { return spec_; }
  void set_spec(std::string spec) { spec_ = std::move(spec); }

  std::vector<LayerSummary> summary_rows(const Shape& input_chw) const;
  /// A table: layer, output shape, parameters, receptive field, activation memory, devices; then totals.
  std::string summary(const Shape& input_chw) const;

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
  Shape input_chw_;
  std::string spec_;
  Device device_;
  std::shared_ptr<cuda::Stream> stream_;  // on a CUDA device: the stream forward() and backward() run on
  bool built_ = false;
};

}  // namespace minicnn
