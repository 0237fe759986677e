// Recipe: the training hyper-parameters a preset carries and every `train` flag can override, with the
// names its choices have on the command line and in run records.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace minicnn {

/// torch.optim.SGD, Adam or AdamW.
enum class OptimizerKind { SGD, Adam, AdamW };
/// The learning rate per epoch (constant, StepLR or CosineAnnealingLR) or per step (airbench94's
/// warmup-warmdown: linear from 0.2x to 1x over the first 23% of the steps, then down towards 0.07x).
enum class ScheduleKind { None, Step, Cosine, WarmupWarmdown };
/// Training-time augmentation: none; a random crop from the image padded by 4 zeros on each side plus a
/// random horizontal flip (torchvision's RandomCrop(size, padding=4) + RandomHorizontalFlip); or
/// airbench94's flip-translate: each image flipped at random once, every image flipped in every second
/// epoch, and translated each epoch by a random shift of up to 2 pixels on both axes from a
/// reflect-padded copy.
enum class Augment { None, CropFlip, FlipTranslate };

/// The names used by the command line, checkpoints, study.json and summary.json: "sgd", "adam", "adamw";
/// "none", "step", "cosine", "warmup-warmdown"; "none", "crop-flip", "flip-translate". Each parse_* throws
/// Error for any other word.
const char* optimizer_name(OptimizerKind kind);
OptimizerKind parse_optimizer(const std::string& text);
const char* schedule_name(ScheduleKind kind);
ScheduleKind parse_schedule(const std::string& text);
const char* augment_name(Augment augment);
Augment parse_augment(const std::string& text);

/// Parameters a rule applies to: "3.weight" (a parameter by its nn.Sequential name) or
/// "BatchNorm2d.bias" (that parameter of every layer of that type).
using ParamSelector = std::string;

/// Parameters that do not train (torch's requires_grad=False): from the start when `epochs` is 0, else
/// after training for `epochs` epochs.
struct FreezeRule {
  ParamSelector params;
  int64_t epochs = 0;
  bool operator==(const FreezeRule&) const = default;
};

/// Parameters in an optimizer group of their own: lr times `lr_scale`, and the weight decay divided by it,
/// so that each step decays them by the same amount as the others (airbench94's BatchNorm biases).
struct GroupRule {
  ParamSelector params;
  double lr_scale = 1.0;
  bool operator==(const GroupRule&) const = default;
};

/// Lookahead: after every `every`-th step s (counted from 1) of T, avg <- d avg + (1 - d) w and w <- avg
/// with d = decay * (s / T)^power, over the parameters and the BatchNorm running statistics, starting from
/// the initial weights; after the last step w <- avg. `every` 0 is off.
struct Lookahead {
  int64_t every = 0;
  double decay = 0.0, power = 0.0;
  bool operator==(const Lookahead&) const = default;
};

/// Plain data; names follow torch.optim and torch.nn (lr, momentum, weight_decay, nesterov,
/// label_smoothing). PyTorch's plain recipe is {OptimizerKind::SGD, 0.01, 0.9, 0, ScheduleKind::None,
/// Augment::None, 64} with the rest at their defaults.
struct Recipe {
  OptimizerKind optimizer = OptimizerKind::SGD;
  double lr = 0.01;
  double momentum = 0.9;  // SGD momentum (Adam uses betas (0.9, 0.999))
  double weight_decay = 0.0;
  ScheduleKind schedule = ScheduleKind::None;
  Augment augment = Augment::None;
  int64_t batch_size = 64;
  double epochs = 3;  // a fraction trains that share of the last epoch's steps (ceil(steps per epoch * epochs))
  bool nesterov = false;
  double label_smoothing = 0.0;
  bool sum_loss = false;    // CrossEntropyLoss(reduction='sum') instead of 'mean'
  bool drop_last = false;   // an epoch drops its last partial batch
  int64_t tta = 0;          // test-time augmentation level of the final evaluation: 0, 1 (mirror), 2 (and shifts)
  std::vector<float> normalize_mean, normalize_std;  // fixed per-channel constants; empty: the training set's
  // How the model starts and which parameters train how (presets; no flag sets these).
  bool dirac = false;               // torch.nn.init.dirac_ on each Conv2d's first in_channels filters
  int64_t whiten_images = 0;        // > 0: the first Conv2d's filters whiten the patches of this many images
  double whiten_eps = 5e-4;
  std::vector<FreezeRule> frozen;
  std::vector<GroupRule> groups;
  Lookahead lookahead;
};

/// A recipe from its plain settings, the rest at their defaults.
/// Example: plain_recipe(OptimizerKind::SGD, 0.01, 0.9, 0, ScheduleKind::None, Augment::None, 64, 3)
Recipe plain_recipe(OptimizerKind optimizer, double lr, double momentum, double weight_decay, ScheduleKind schedule,
                    Augment augment, int64_t batch_size, double epochs);

/// Whether parameter `name` ("weight") of layer `index` of type `type` is what `selector` names.
bool selects(const ParamSelector& selector, int64_t index, const std::string& type, const std::string& name);

}  // namespace minicnn
