// Recipe: the training hyper-parameters a preset carries and every `train` flag can override, with the
// names its choices have on the command line and in run records.
#pragma once

#include <cstdint>
#include <string>

namespace minicnn {

/// torch.optim.SGD, Adam or AdamW.
enum class OptimizerKind { SGD, Adam, AdamW };
/// The learning rate per epoch: constant, StepLR or CosineAnnealingLR.
enum class ScheduleKind { None, Step, Cosine };
/// Training-time augmentation: none, or a random crop from the image padded by 4 zeros on each side
/// plus a random horizontal flip (torchvision's RandomCrop(size, padding=4) + RandomHorizontalFlip).
enum class Augment { None, CropFlip };

/// The names used by the command line, checkpoints, study.json and summary.json: "sgd", "adam", "adamw";
/// "none", "step", "cosine"; "none", "crop-flip". Each parse_* throws Error for any other word.
const char* optimizer_name(OptimizerKind kind);
OptimizerKind parse_optimizer(const std::string& text);
const char* schedule_name(ScheduleKind kind);
ScheduleKind parse_schedule(const std::string& text);
const char* augment_name(Augment augment);
Augment parse_augment(const std::string& text);

/// Plain data; names follow torch.optim (lr, momentum, weight_decay). PyTorch's plain recipe is
/// {OptimizerKind::SGD, 0.01, 0.9, 0, ScheduleKind::None, Augment::None, 64}.
struct Recipe {
  OptimizerKind optimizer = OptimizerKind::SGD;
  double lr = 0.01;
  double momentum = 0.9;  // SGD momentum (Adam uses betas (0.9, 0.999))
  double weight_decay = 0.0;
  ScheduleKind schedule = ScheduleKind::None;
  Augment augment = Augment::None;
  int64_t batch_size = 64;
  int64_t epochs = 3;
};

}  // namespace minicnn
