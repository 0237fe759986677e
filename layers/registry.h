// The model spec language (torch.nn's own signatures), the presets and their default recipes.
#pragma once

#include <string>
#include <vector>

#include <minicnn/conv2d.h>
#include <minicnn/model.h>
#include <minicnn/pool2d.h>
#include <minicnn/recipe.h>

namespace minicnn {

/// A named model with the input it expects and the recipe `minicnn train` uses by default.
struct Preset {
  std::string name;
  std::string spec;
  Shape input_chw;
  Recipe recipe;
  std::string description;
};

const std::vector<Preset>& presets();
/// The presets' names in order (mnist-cnn, lenet5, ...), for messages and help.
std::vector<std::string> preset_names();
/// The preset called `name` (spaces around it ignored, as a quoted --model value may carry them), or nullptr.
const Preset* find_preset(const std::string& name);

/// Parses a spec such as "Conv2d(1, 32, 3, padding=1) ReLU MaxPool2d(2) Flatten LazyLinear(10)" (layers
/// separated by spaces, commas or "->"), or a preset name, into an unbuilt Model whose spec() is the
/// expanded text. Arguments bind as in Python: positionals, then keywords, with torch.nn's names and
/// defaults. Pasted PyTorch reads too: "nn." and "torch.nn." before a layer name, "ReLU()", and one
/// nn.Sequential(...) around the whole list (the same model, with the same parameter names).
/// Throws Error naming the layer's position for an unknown layer or a bad argument; for a nested
/// nn.Sequential; for Softmax, LogSoftmax or Sigmoid after the last layer with parameters (the loss
/// applies log-softmax itself); and for a lone word that is neither a preset nor a layer ("mnist-cn"),
/// with the nearest preset and the list of presets.
Model parse_model(const std::string& spec_or_preset);

/// The layers of `model` as a spec that parse_model() reads back to the same layers (lazy sizes resolved).
std::string model_to_spec(const Model& model);

/// A pooling variant, named max{k}[s{s}][p{p}][d{d}][c] or avg{k}[s{s}][p{p}][c] (stride defaults to k,
/// padding to 0, dilation to 1, c = ceil_mode): max2, max3s2p1 (overlapping, same output size as max2),
/// max2s1, avg2, avg3s2p1.
struct PoolVariant {
  std::string name;
  bool max = true;
  int64_t k = 2, s = 2, p = 0, d = 1;
  bool ceil = false;
  /// The layer in spec syntax, e.g. "MaxPool2d(3, stride=2, padding=1)".
  std::string layer_spec() const;
};

/// Parses a variant name; throws Error for anything else, or for options the layer refuses.
PoolVariant parse_pool_variant(const std::string& name);
/// The spec (or preset) with every MaxPool2d and AvgPool2d replaced by the variant's layer, and the first
/// Linear after a Flatten made lazy (LazyLinear with the same out_features) so it adapts to the new size.
/// A pooling layer whose output is 1x1 for `input_chw` (a preset's own input shape when it is null and the
/// spec is a preset's name) pools globally: it is the classifier's head (airbench94's MaxPool2d(3)) and is
/// kept; without a shape every pooling layer is replaced.
std::string apply_pool_variant(const std::string& spec_or_preset, const PoolVariant& variant,
                               const Shape* input_chw = nullptr);

/// The spec (or preset, expanded) with the out_features of its last Linear or LazyLinear set to `classes`,
/// for a data set whose class count differs from the model's (a preset on a 3-class image folder).
/// requires: classes >= 1; the spec has a Linear or LazyLinear (throws Error otherwise).
/// ensures: that layer keeps its kind, in_features and bias; every other layer is unchanged, so the result
///   composes with apply_pool_variant() in either order. Example:
///   adapt_classifier("Flatten Linear(3136, 10)", 3) == "Flatten Linear(3136, 3)".
std::string adapt_classifier(const std::string& spec_or_preset, int64_t classes);

/// Refuses a model that does not give one score per class of the data set.
/// requires: `built_model` is built (Model::build) for the data set's image shape; classes >= 1.
/// ensures: returns when the output for one image is [1, classes]; otherwise throws Error with one
///   sentence naming that output shape, `classes` and `dataset_name` (e.g. "MNIST"), and the fix: Flatten
///   and a Linear for an output of rank other than 2, the last Linear's out_features when it gives the
///   wrong count, a final LazyLinear(classes) when nothing after Flatten gives class scores.
void check_classifier(const Model& built_model, int64_t classes, const std::string& dataset_name);

/// Makes every MaxPool2d and AvgPool2d of `model` run with `impl` (minicnn's kernels or cuDNN's).
void set_pool_impl(Model& model, PoolImpl impl);

/// Makes every Conv2d of `model` run with `impl` (minicnn's kernels or cuDNN's) on CUDA.
void set_conv_impl(Model& model, ConvImpl impl);

/// Names of the layers the spec language knows.
std::vector<std::string> known_layers();

}  // namespace minicnn
