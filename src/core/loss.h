// CrossEntropyLoss: fused, numerically stable log-softmax and negative log-likelihood, as torch.nn's.
#pragma once

#include <minicnn/tensor.h>

namespace minicnn {

/// Options for CrossEntropyLoss; names and defaults follow torch.nn.CrossEntropyLoss.
struct CrossEntropyLossOptions {
  enum class Reduction { Mean, Sum };
  Reduction reduction_ = Reduction::Mean;
  float label_smoothing_ = 0.0f;
  CrossEntropyLossOptions& reduction(Reduction r) { reduction_ = r; return *this; }
  CrossEntropyLossOptions& label_smoothing(float s) { label_smoothing_ = s; return *this; }
};

/// The result of one loss evaluation: the loss and how many predictions were right.
struct LossResult {
  double loss;      // reduced as the options say
  int64_t correct;  // argmax(logits) == target (first maximum wins)
};

/// Softmax cross-entropy over logits (N, C) and int32 class targets (N).
/// Example: CrossEntropyLoss ce; auto r = ce.forward(logits, targets); Tensor dlogits = ce.backward();
class CrossEntropyLoss {
 public:
  explicit CrossEntropyLoss(CrossEntropyLossOptions options = {});
  /// Computes the loss and keeps the softmax for backward().
  LossResult forward(const Tensor& logits, const Tensor& targets);
  /// dL/dlogits for the last forward(), scaled by `scale` (the upstream gradient of the loss), on the
  /// logits' device.
  Tensor backward(float scale = 1.0f);

 private:
  CrossEntropyLossOptions options_;
  Tensor probs_;    // (N, C) softmax of the last logits
  Tensor targets_;  // (N) int32
  Device device_;   // where the logits were: the gradient goes back there
};

}  // namespace minicnn
