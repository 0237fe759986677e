// The layer contract every op follows, its trainable Parameters and saved Buffers.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <minicnn/random.h>
#include <minicnn/tensor.h>
#include <minicnn/window.h>

namespace minicnn {

/// Train enables dropout and batch statistics and caches what backward needs; Eval does neither.
enum class Mode { Train, Eval };

/// A trainable tensor and its gradient (same shape and device). backward() ADDS into `grad`; only an
/// optimizer's zero_grad() clears it.
struct Parameter {
  std::string name;  // "weight" or "bias", as torch.nn names it
  Tensor value;
  Tensor grad;
  /// torch's requires_grad: false freezes the value. Optimizers leave a frozen parameter out of their step
  /// entirely (no update, no momentum, no weight decay), as torch.optim does with a gradient of None;
  /// backward may still fill its gradient.
  bool requires_grad = true;
};

/// A saved, non-trainable tensor (BatchNorm2d's running_mean), named as torch.nn names it.
struct Buffer {
  std::string name;
  Tensor value;
};

/// The contract of a layer (requires / ensures):
/// - output_shape(in): pure; validates `in` and the options, throws Error whose message starts with the
///   layer's type name; returns the shape forward() will produce.
/// - materialize(in): called once with the input shape before the first forward; lazy layers infer their
///   input size here; other layers check it.
/// - forward(x, mode): requires x.shape() accepted by output_shape; in Train mode caches only what
///   backward() needs; in Eval mode keeps nothing, and drops what an earlier Train forward kept (a model
///   evaluated between training steps does not hold the last batch's activations meanwhile).
/// - backward(dy): requires the forward of the same batch in Train mode; returns dL/dx (undefined when
///   needs_input_grad() is false) and ADDS dL/dparam into each Parameter::grad. It may release what that
///   forward kept (ReleaseAfterBackward), so a second backward needs a new Train forward; MaxPool2d keeps
///   its argmax indices, which users read after a step.
/// - parameters(): stable order, weight then bias.
/// - supports(device): true for every device forward() and backward() accept tensors on. On a CUDA device
///   forward() and backward() queue their kernels on the calling thread's current device and stream, so
///   they require the tensors' device current: Model::forward and backward make the model's current (and
///   its stream); tensors, optimizers and the lookahead average make their own current.
/// ReLU fusion is not part of this contract: it is Model's CPU-only optimisation, through the two small
/// interfaces below, so a layer neither knows nor asks which layer follows it.
/// Releases a layer's saved tensors when its backward() returns normally (not when it throws: a rejected
/// dy leaves the forward usable). Declared at the top of backward() over what forward kept, it lets a
/// model's backward free each layer's activations as soon as they are used, which lowers training's peak
/// memory by the activations of the layers already done.
class ReleaseAfterBackward {
 public:
  template <class... Saved>
  explicit ReleaseAfterBackward(Saved&... saved) : saved_{&saved...}, exceptions_(std::uncaught_exceptions()) {}
  ~ReleaseAfterBackward() {
    if (std::uncaught_exceptions() != exceptions_) return;
    for (Tensor* t : saved_) *t = Tensor();
  }
  ReleaseAfterBackward(const ReleaseAfterBackward&) = delete;
  ReleaseAfterBackward& operator=(const ReleaseAfterBackward&) = delete;

 private:
  std::vector<Tensor*> saved_;
  int exceptions_;
};

class Layer {
 public:
  virtual ~Layer() = default;

  /// The torch.nn class name, e.g. "Conv2d".
  virtual std::string type_name() const = 0;
  /// The layer as torch prints it, e.g. "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)".
  virtual std::string repr() const = 0;
  virtual Shape output_shape(const Shape& in) const = 0;
  virtual void materialize(const Shape& in) { (void)in; }
  /// Initialises parameters as torch.nn does by default.
  virtual void reset_parameters(Generator& gen) { (void)gen; }
  virtual Tensor forward(const Tensor& x, Mode mode) = 0;
  virtual Tensor backward(const Tensor& dy) = 0;
  virtual std::vector<Parameter*> parameters() { return {}; }
  virtual std::vector<Buffer*> buffers() { return {}; }
  /// The window of a spatial layer (convolution, pooling); nullopt for element-wise layers.
  virtual std::optional<Window2d> window() const { return std::nullopt; }
  /// True when every output depends on the whole input (Flatten, Linear, adaptive or global pooling).
  virtual bool mixes_spatial() const { return false; }
  /// Whether the layer has kernels for `device`'s type. Every layer runs on the CPU; a layer with CUDA
  /// kernels says so, and Model::to and the trainer refuse a device that one of their layers lacks, before
  /// any work starts.
  virtual bool supports(Device device) const { return device.is_cpu(); }
  /// Moves parameters and buffers to `device`.
  virtual void to(Device device);
  /// Sets the random stream of a stochastic layer (Dropout); the trainer reseeds every step from
  /// (seed, step), so a resumed run draws the same masks as an uninterrupted one.
  virtual void reseed(uint64_t seed) { (void)seed; }
  /// The device of the layer's parameters (CPU for a layer without any).
  Device device() const { return device_; }

  /// The model clears this for its first layer, whose input needs no gradient.
  void set_needs_input_grad(bool needs) { needs_input_grad_ = needs; }
  bool needs_input_grad() const { return needs_input_grad_; }

 protected:
  bool needs_input_grad_ = true;
  Device device_;
};

/// ReLU fusion, a CPU-only optimisation of Model (see Model::fuse_relus): on the CPU a layer that writes
/// its output in a loop of its own applies the ReLU that follows it in that loop, the same numbers with
/// one pass over memory less, and that ReLU passes tensors through. On CUDA nothing would be fused (the
/// layer would launch the ReLU's kernel itself), so there every ReLU runs as its own layer. The core
/// knows no layer: Model finds the pairs with dynamic_cast to these interfaces.
///
/// Implemented by a layer that can apply the ReLU after it (Conv2d, Linear, BatchNorm2d).
class ReLUFuser {
 public:
  virtual ~ReLUFuser() = default;
  /// While true (only ever on the CPU), forward() returns max(y, 0) and backward() lets dy through only
  /// where that output is > 0.
  virtual void set_fused_relu(bool fused) = 0;
};

/// Implemented by ReLU, so Model can hand it to the ReLUFuser before it.
class FusableReLU {
 public:
  virtual ~FusableReLU() = default;
  /// While true, forward() and backward() pass tensors through unchanged: the layer before applies it.
  virtual void set_fused(bool fused) = 0;
};

/// The check every backward() starts with (requires of the contract above): a Train-mode forward() came
/// first (`saved` is a tensor it kept, undefined otherwise) and `dy` has the shape `expected` (the forward's
/// output) on `saved`'s device. Throws Error starting with `op`, e.g. "ReLU: expected a gradient of shape
/// [2, 3], but got [3, 2]".
void check_backward(const std::string& op, const Tensor& saved, const Tensor& dy, const Shape& expected);
/// The same when `saved` has the output's shape.
inline void check_backward(const std::string& op, const Tensor& saved, const Tensor& dy) {
  check_backward(op, saved, dy, saved.shape());
}

}  // namespace minicnn
