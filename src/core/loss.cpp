// CrossEntropyLoss on the CPU: per-row max-shifted log-sum-exp in double, mirrors torch.nn.CrossEntropyLoss.
#include <minicnn/loss.h>

#include <cmath>
#include <vector>

#include <minicnn/check.h>

namespace minicnn {

CrossEntropyLoss::CrossEntropyLoss(CrossEntropyLossOptions options) : options_(options) {
  MINICNN_CHECK(options.label_smoothing_ >= 0.0f && options.label_smoothing_ <= 1.0f,
                "CrossEntropyLoss: label_smoothing should be in [0, 1], but got ", options.label_smoothing_);
}

LossResult CrossEntropyLoss::forward(const Tensor& logits, const Tensor& targets) {
  MINICNN_CHECK(logits.dim() == 2, "CrossEntropyLoss: expected logits of shape (N, C), but got shape ",
                logits.shape());
  MINICNN_CHECK(targets.dtype() == DType::Int32 && targets.dim() == 1 && targets.size(0) == logits.size(0),
                "CrossEntropyLoss: expected int32 targets of shape [", logits.size(0), "], but got ",
                dtype_name(targets.dtype()), " ", targets.shape());
  // CUDA logits are copied here: (N, C) is small for a classifier (256 x 10 floats), and the loss value needs
  // a device-to-host copy anyway; the gradient goes back to the logits' device in backward().
  const Tensor x = logits.to(Device::cpu());
  const Tensor t = targets.to(Device::cpu());
  const int64_t N = x.size(0), C = x.size(1);
  MINICNN_CHECK(N > 0 && C > 0, "CrossEntropyLoss: expected a non-empty batch, but got logits ", x.shape());
  if (!probs_.defined() || probs_.shape() != x.shape()) probs_ = Tensor::empty(x.shape());
  const float eps = options_.label_smoothing_;
  const float* xp = x.data();
  const int32_t* tp = t.data_i32();
  float* pp = probs_.data();
  double total = 0.0;
  int64_t correct = 0;
  for (int64_t n = 0; n < N; ++n) {
    const float* row = xp + n * C;
    const int32_t target = tp[n];
    MINICNN_CHECK(target >= 0 && target < C, "CrossEntropyLoss: target ", target, " is out of bounds for ", C,
                  " classes");
    int64_t best = 0;
    for (int64_t c = 1; c < C; ++c) {
      if (row[c] > row[best]) best = c;
    }
    correct += best == target;
    const double m = row[best];
    double sum = 0.0, sum_logits = 0.0;
    for (int64_t c = 0; c < C; ++c) {
      sum += std::exp(static_cast<double>(row[c]) - m);
      sum_logits += row[c];
    }
    const double lse = m + std::log(sum);
    for (int64_t c = 0; c < C; ++c) pp[n * C + c] = static_cast<float>(std::exp(row[c] - lse));
    const double nll = lse - row[target];
    const double smooth = lse - sum_logits / static_cast<double>(C);  // mean over classes of -log p
    total += (1.0 - eps) * nll + eps * smooth;
  }
  targets_ = t;
  device_ = logits.device();
  const bool mean = options_.reduction_ == CrossEntropyLossOptions::Reduction::Mean;
  return {mean ? total / static_cast<double>(N) : total, correct};
}

Tensor CrossEntropyLoss::backward(float scale) {
  MINICNN_CHECK(probs_.defined(), "CrossEntropyLoss: backward() called before forward()");
  const int64_t N = probs_.size(0), C = probs_.size(1);
  const bool mean = options_.reduction_ == CrossEntropyLossOptions::Reduction::Mean;
  const float eps = options_.label_smoothing_;
  const float k = scale / (mean ? static_cast<float>(N) : 1.0f);
  Tensor dx = Tensor::empty(probs_.shape());
  const float* pp = probs_.data();
  const int32_t* tp = targets_.data_i32();
  float* d = dx.data();
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t c = 0; c < C; ++c) {
      const float target = (c == tp[n] ? 1.0f - eps : 0.0f) + eps / static_cast<float>(C);
      d[n * C + c] = (pp[n * C + c] - target) * k;
    }
  }
  return dx.to(device_);
}

}  // namespace minicnn
