// Recipe: the training hyper-parameters a preset carries and every `train` flag can override.
#pragma once

#include <cstdint>
#include <string>

namespace minicnn {

/// Plain data; names follow torch.optim (lr, momentum, weight_decay). PyTorch's plain recipe is
/// {"sgd", 0.01, 0.9, 0, "none", "none", 64}.
struct Recipe {
  std::string optimizer = "sgd";  // sgd | adam | adamw
  double lr = 0.01;
  double momentum = 0.9;          // SGD momentum (Adam uses betas (0.9, 0.999))
  double weight_decay = 0.0;
  std::string schedule = "none";  // none | step | cosine
  std::string augment = "none";   // none | crop-flip
  int64_t batch_size = 64;
  int64_t epochs = 3;
};

}  // namespace minicnn
