// BatchNorm2d (and LazyBatchNorm2d): per-channel batch normalisation, mirrors torch.nn.BatchNorm2d.
#pragma once

#include <optional>

#include <minicnn/layer.h>

namespace minicnn {

/// Options for BatchNorm2d; names and defaults follow torch.nn.BatchNorm2d. num_features = -1 makes it
/// lazy (torch.nn.LazyBatchNorm2d); momentum nullopt is torch's momentum=None (a cumulative average).
/// Example: BatchNorm2d bn(BatchNorm2dOptions(32));
struct BatchNorm2dOptions {
  explicit BatchNorm2dOptions(int64_t num_features) : num_features_(num_features) {}
  BatchNorm2dOptions& eps(double e) { eps_ = e; return *this; }
  BatchNorm2dOptions& momentum(std::optional<double> m) { momentum_ = m; return *this; }
  BatchNorm2dOptions& affine(bool a) { affine_ = a; return *this; }
  BatchNorm2dOptions& track_running_stats(bool t) { track_running_stats_ = t; return *this; }
  int64_t num_features_;
  double eps_ = 1e-5;
  std::optional<double> momentum_ = 0.1;
  bool affine_ = true;
  bool track_running_stats_ = true;
};

/// Train mode: y = (x - mean) / sqrt(var + eps) * weight + bias with the batch's per-channel mean and
/// biased variance, and running_mean/running_var updated with the unbiased variance; Eval mode uses the
/// running statistics. Parameters weight (1s) and bias (0s); buffers running_mean, running_var,
/// num_batches_tracked.
class BatchNorm2d : public Layer, public ReLUFuser {
 public:
  explicit BatchNorm2d(BatchNorm2dOptions options);
  std::string type_name() const override { return options_.num_features_ < 0 ? "LazyBatchNorm2d" : "BatchNorm2d"; }
  std::string repr() const override;
  Shape output_shape(const Shape& in) const override;
  void materialize(const Shape& in) override;
  void reset_parameters(Generator& gen) override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  std::vector<Parameter*> parameters() override;
  std::vector<Buffer*> buffers() override;
  void set_fused_relu(bool fused) override { relu_ = fused; }

  Parameter& weight() { return weight_; }
  Parameter& bias() { return bias_; }
  const Tensor& running_mean() const { return running_mean_.value; }
  const Tensor& running_var() const { return running_var_.value; }
  const BatchNorm2dOptions& options() const { return options_; }

 private:
  BatchNorm2dOptions options_;
  Parameter weight_{"weight", {}, {}};
  Parameter bias_{"bias", {}, {}};
  Buffer running_mean_{"running_mean", {}};
  Buffer running_var_{"running_var", {}};
  Buffer num_batches_tracked_{"num_batches_tracked", {}};
  // Saved by a Train forward for backward: normalised input and per-channel 1/sqrt(var + eps).
  Tensor xhat_;     // (N, C, H, W)
  Tensor inv_std_;  // (C)
  Tensor output_;   // kept only with a fused ReLU (backward masks dy with it)
  bool batch_stats_ = true;
  bool relu_ = false;  // a fused ReLU (Model::fuse_relus)
};

}  // namespace minicnn
