// BatchNorm2d on the CPU: per-channel statistics in double, OpenMP over channels.
#include <minicnn/batchnorm2d.h>

#include <fmt/format.h>

#include <cmath>

#include <minicnn/check.h>
#include <minicnn/relu.h>

namespace minicnn {

BatchNorm2d::BatchNorm2d(BatchNorm2dOptions options) : options_(options) {
  MINICNN_CHECK(options_.num_features_ > 0 || options_.num_features_ == -1,
                "BatchNorm2d: num_features should be positive, but got ", options_.num_features_);
  MINICNN_CHECK(options_.eps_ > 0, type_name(), ": eps should be positive, but got ", options_.eps_);
  MINICNN_CHECK(!options_.momentum_ || (*options_.momentum_ >= 0 && *options_.momentum_ <= 1), type_name(),
                ": momentum should be in [0, 1] or None, but got ", options_.momentum_.value_or(-1));
  if (options_.num_features_ > 0) materialize(Shape{1, options_.num_features_, 1, 1});
}

std::string BatchNorm2d::repr() const {
  const auto py = [](bool b) { return b ? "True" : "False"; };
  return fmt::format("{}({}eps={}, momentum={}, affine={}, track_running_stats={})", type_name(),
                     options_.num_features_ < 0 ? "" : std::to_string(options_.num_features_) + ", ", options_.eps_,
                     options_.momentum_ ? fmt::format("{}", *options_.momentum_) : "None", py(options_.affine_),
                     py(options_.track_running_stats_));
}

Shape BatchNorm2d::output_shape(const Shape& in) const {
  MINICNN_CHECK(in.rank() == 4, type_name(), ": expected 4D (N, C, H, W) input, but got shape ", in);
  MINICNN_CHECK(options_.num_features_ < 0 || in[1] == options_.num_features_, type_name(), ": expected ",
                options_.num_features_, " channels (num_features), but got ", in[1], " channels in shape ", in);
  return in;
}

void BatchNorm2d::materialize(const Shape& in) {
  if (options_.num_features_ < 0) options_.num_features_ = in[1];  // LazyBatchNorm2d becomes BatchNorm2d
  if (running_mean_.value.defined() || weight_.value.defined()) return;
  const int64_t C = options_.num_features_;
  if (options_.affine_) {
    weight_.value = Tensor::full({C}, 1.0f);
    weight_.grad = Tensor::zeros({C});
    bias_.value = Tensor::zeros({C});
    bias_.grad = Tensor::zeros({C});
  }
  if (options_.track_running_stats_) {
    running_mean_.value = Tensor::zeros({C});
    running_var_.value = Tensor::full({C}, 1.0f);
    num_batches_tracked_.value = Tensor::zeros({}, DType::Int32);
  }
}

void BatchNorm2d::reset_parameters(Generator& gen) {
  (void)gen;
  if (options_.affine_) {
    weight_.value.copy_from(Tensor::full({options_.num_features_}, 1.0f));
    bias_.value.zero_();
  }
}

std::vector<Parameter*> BatchNorm2d::parameters() {
  if (!options_.affine_) return {};
  return {&weight_, &bias_};
}

std::vector<Buffer*> BatchNorm2d::buffers() {
  if (!options_.track_running_stats_) return {};
  return {&running_mean_, &running_var_, &num_batches_tracked_};
}

Tensor BatchNorm2d::forward(const Tensor& x, Mode mode) {
  output_shape(x.shape());
  const int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  const int64_t M = N * HW;
  batch_stats_ = mode == Mode::Train || !options_.track_running_stats_;
  MINICNN_CHECK(!batch_stats_ || M > 1 || mode == Mode::Eval, type_name(),
                ": expected more than 1 value per channel when training, but got input of shape ", x.shape());
#if MINICNN_CUDA
  if (x.is_cuda()) return forward_cuda(x, mode);
#endif
  Tensor y = Tensor::empty(x.shape());
  Tensor xhat = mode == Mode::Train ? Tensor::empty(x.shape()) : Tensor();
  Tensor inv_std = Tensor::empty({C});
  const float* xp = x.data();
  float* yp = y.data();
  float* hp = xhat.defined() ? xhat.data() : nullptr;
  const float* gamma = options_.affine_ ? weight_.value.data() : nullptr;
  const float* beta = options_.affine_ ? bias_.value.data() : nullptr;
  float* rm = options_.track_running_stats_ ? running_mean_.value.data() : nullptr;
  float* rv = options_.track_running_stats_ ? running_var_.value.data() : nullptr;
  double momentum = options_.momentum_.value_or(0.0);
  if (mode == Mode::Train && options_.track_running_stats_) {
    const int32_t tracked = ++num_batches_tracked_.value.data_i32()[0];
    if (!options_.momentum_) momentum = 1.0 / tracked;
  }
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    double mean, var;
    if (batch_stats_) {
      double sum = 0, sq = 0;
      for (int64_t n = 0; n < N; ++n) {
        const float* p = xp + (n * C + c) * HW;
#pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < HW; ++i) sum += p[i];
      }
      mean = sum / static_cast<double>(M);
      for (int64_t n = 0; n < N; ++n) {
        const float* p = xp + (n * C + c) * HW;
#pragma omp simd reduction(+ : sq)
        for (int64_t i = 0; i < HW; ++i) sq += (p[i] - mean) * (p[i] - mean);
      }
      var = sq / static_cast<double>(M);
      if (mode == Mode::Train && rm) {
        rm[c] = running_stat_update(rm[c], mean, momentum);
        rv[c] = running_stat_update(rv[c], unbiased_variance(sq, M), momentum);
      }
    } else {
      mean = rm[c];
      var = rv[c];
    }
    const float is = inv_std_of(var, options_.eps_);
    inv_std.data()[c] = is;
    const float g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
    const float fm = static_cast<float>(mean);
    for (int64_t n = 0; n < N; ++n) {
      const float* p = xp + (n * C + c) * HW;
      float* q = yp + (n * C + c) * HW;
      float* h = hp ? hp + (n * C + c) * HW : nullptr;
      // Four loops rather than branches inside one, so each vectorises.
      if (h && relu_) {
#pragma omp simd
        for (int64_t i = 0; i < HW; ++i) {
          h[i] = (p[i] - fm) * is;
          q[i] = cpu::relu_of(h[i] * g + b);  // the fused ReLU
        }
      } else if (h) {
#pragma omp simd
        for (int64_t i = 0; i < HW; ++i) {
          h[i] = (p[i] - fm) * is;
          q[i] = h[i] * g + b;
        }
      } else if (relu_) {
#pragma omp simd
        for (int64_t i = 0; i < HW; ++i) q[i] = cpu::relu_of((p[i] - fm) * is * g + b);
      } else {
#pragma omp simd
        for (int64_t i = 0; i < HW; ++i) q[i] = (p[i] - fm) * is * g + b;
      }
    }
  }
  const bool train = mode == Mode::Train;
  xhat_ = xhat;  // undefined in Eval mode
  inv_std_ = train ? inv_std : Tensor();
  output_ = train && relu_ ? y : Tensor();
  return y;
}

Tensor BatchNorm2d::backward(const Tensor& dy) {
  const ReleaseAfterBackward release(xhat_, output_);
  check_backward(type_name(), xhat_, dy);
#if MINICNN_CUDA
  if (dy.is_cuda()) return backward_cuda(dy);
#endif
  const int64_t N = dy.size(0), C = dy.size(1), HW = dy.size(2) * dy.size(3);
  const double M = static_cast<double>(N * HW);
  Tensor dx = Tensor::empty(dy.shape());
  Tensor masked = dy;  // with a fused ReLU: dy where the output is > 0
  if (relu_) {
    masked = Tensor::empty(dy.shape());
    cpu::relu_backward(output_.data(), dy.data(), masked.data(), dy.numel());
  }
  const float* g = masked.data();
  const float* h = xhat_.data();
  float* d = dx.data();
  const float* gamma = options_.affine_ ? weight_.value.data() : nullptr;
  float* dgamma = options_.affine_ ? weight_.grad.data() : nullptr;
  float* dbeta = options_.affine_ ? bias_.grad.data() : nullptr;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t n = 0; n < N; ++n) {
      const float* gp = g + (n * C + c) * HW;
      const float* hp = h + (n * C + c) * HW;
#pragma omp simd reduction(+ : sum_dy, sum_dy_xhat)
      for (int64_t i = 0; i < HW; ++i) {
        sum_dy += gp[i];
        sum_dy_xhat += static_cast<double>(gp[i]) * hp[i];
      }
    }
    if (dgamma) {
      dgamma[c] += static_cast<float>(sum_dy_xhat);
      dbeta[c] += static_cast<float>(sum_dy);
    }
    const float scale = (gamma ? gamma[c] : 1.0f) * inv_std_.data()[c];
    // Batch statistics: dx = gamma*inv_std * (dy - mean(dy) - xhat * mean(dy*xhat)); running: gamma*inv_std*dy.
    const float mean_dy = batch_stats_ ? static_cast<float>(sum_dy / M) : 0.0f;
    const float mean_dy_xhat = batch_stats_ ? static_cast<float>(sum_dy_xhat / M) : 0.0f;
    for (int64_t n = 0; n < N; ++n) {
      const float* gp = g + (n * C + c) * HW;
      const float* hp = h + (n * C + c) * HW;
      float* dp = d + (n * C + c) * HW;
#pragma omp simd
      for (int64_t i = 0; i < HW; ++i) dp[i] = scale * (gp[i] - mean_dy - hp[i] * mean_dy_xhat);
    }
  }
  return dx;
}

#if MINICNN_CUDA
// ---- Device dispatch: CUDA tensors (the layer's checks ran in forward and backward).

cuda::BatchNorm2dCall BatchNorm2d::cuda_call(const Shape& x, Mode mode) const {
  return {x[0],
          x[1],
          x[2] * x[3],
          options_.eps_,
          batch_stats_,
          mode == Mode::Train && options_.track_running_stats_,
          options_.momentum_.value_or(-1.0)};
}

Tensor BatchNorm2d::forward_cuda(const Tensor& x, Mode mode) {
  MINICNN_ASSERT(!relu_, "a ReLU fused into a layer on CUDA (Model fuses on the CPU only)");
  const cuda::BatchNorm2dCall call = cuda_call(x.shape(), mode);
  Tensor y = Tensor::empty(x.shape(), DType::Float32, x.device());
  Tensor xhat = mode == Mode::Train ? Tensor::empty(x.shape(), DType::Float32, x.device()) : Tensor();
  Tensor inv_std = Tensor::empty({call.C}, DType::Float32, x.device());
  const bool track = options_.track_running_stats_;
  cuda::batchnorm2d_forward(
      x.data(), y.data(), xhat.defined() ? xhat.data() : nullptr, inv_std.data(),
      options_.affine_ ? weight_.value.data() : nullptr, options_.affine_ ? bias_.value.data() : nullptr,
      track ? running_mean_.value.data() : nullptr, track ? running_var_.value.data() : nullptr,
      track ? num_batches_tracked_.value.data_i32() : nullptr, call);
  xhat_ = xhat;  // undefined in Eval mode
  inv_std_ = mode == Mode::Train ? inv_std : Tensor();
  output_ = Tensor();
  return y;
}

Tensor BatchNorm2d::backward_cuda(const Tensor& dy) {
  cuda::BatchNorm2dCall call = cuda_call(dy.shape(), Mode::Train);
  call.batch_stats = batch_stats_;
  Tensor dx = Tensor::empty(dy.shape(), DType::Float32, dy.device());
  cuda::batchnorm2d_backward(
      dy.data(), xhat_.data(), inv_std_.data(), options_.affine_ ? weight_.value.data() : nullptr, dx.data(),
      options_.affine_ ? weight_.grad.data() : nullptr, options_.affine_ ? bias_.grad.data() : nullptr, call);
  return dx;
}
#endif

}  // namespace minicnn
