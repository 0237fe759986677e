// BatchNorm2d (and LazyBatchNorm2d): per-channel batch normalisation, mirrors torch.nn.BatchNorm2d.
#pragma once

#include <math.h>

#include <optional>

#include <minicnn/host_device.h>
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

// ---- The per-channel rules the CPU loops and the CUDA kernels share (statistics summed in double).

/// torch's running-statistics update: (1 - momentum) * running + momentum * the batch's value.
MINICNN_HD float running_stat_update(float running, double batch, double momentum) {
  return static_cast<float>((1 - momentum) * running + momentum * batch);
}
/// The variance running_var tracks, from the sum of squared deviations of M values: unbiased (M - 1), as
/// torch's, and the biased one for a single value.
MINICNN_HD double unbiased_variance(double sum_sq, int64_t M) {
  return M > 1 ? sum_sq / static_cast<double>(M - 1) : sum_sq / static_cast<double>(M);
}
/// 1 / sqrt(var + eps), rounded to float once.
MINICNN_HD float inv_std_of(double var, double eps) {
  return static_cast<float>(1.0 / sqrt(var + eps));
}

namespace cuda {
/// One BatchNorm2d call on (N, C, HW) device buffers.
struct BatchNorm2dCall {
  int64_t N, C, HW;
  double eps;
  bool batch_stats;     // the batch's mean and biased variance, else running_mean and running_var
  bool update_running;  // Train mode with running statistics: update them (and num_batches_tracked)
  double momentum;      // negative: torch's momentum=None, 1 / num_batches_tracked
};
/// y = (x - mean) * inv_std * gamma + beta per channel (gamma, beta null without affine); writes xhat
/// when it is not null and inv_std (C) always; updates running_mean/running_var and increments `tracked`
/// as the CPU does (layers/batchnorm2d.cu).
void batchnorm2d_forward(const float* x, float* y, float* xhat, float* inv_std, const float* gamma,
                         const float* beta, float* running_mean, float* running_var, int32_t* tracked,
                         const BatchNorm2dCall& call);
/// dx, and dgamma/dbeta (null without affine) added into, from dy and the forward's xhat and inv_std.
void batchnorm2d_backward(const float* dy, const float* xhat, const float* inv_std, const float* gamma,
                          float* dx, float* dgamma, float* dbeta, const BatchNorm2dCall& call);
}  // namespace cuda

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
  bool supports(Device) const override { return true; }

  Parameter& weight() { return weight_; }
  Parameter& bias() { return bias_; }
  const Tensor& running_mean() const { return running_mean_.value; }
  const Tensor& running_var() const { return running_var_.value; }
  const BatchNorm2dOptions& options() const { return options_; }

 private:
  // The CUDA path (defined in CUDA builds only, called from the device dispatch).
  cuda::BatchNorm2dCall cuda_call(const Shape& x, Mode mode) const;
  Tensor forward_cuda(const Tensor& x, Mode mode);
  Tensor backward_cuda(const Tensor& dy);

  BatchNorm2dOptions options_;
  Parameter weight_{"weight", {}, {}};
  Parameter bias_{"bias", {}, {}};
  Buffer running_mean_{"running_mean", {}};
  Buffer running_var_{"running_var", {}};
  Buffer num_batches_tracked_{"num_batches_tracked", {}};
  // Saved by a Train forward for backward: normalised input and per-channel 1/sqrt(var + eps).
  Tensor xhat_;     // (N, C, H, W)
  Tensor inv_std_;  // (C), on the input's device
  Tensor output_;   // kept only with a fused ReLU (backward masks dy with it)
  bool batch_stats_ = true;
  bool relu_ = false;  // a fused ReLU (Model::fuse_relus)
};

}  // namespace minicnn
