// ONNX export: a built model, with the preprocessing it was trained with, as a checked ONNX file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <minicnn/model.h>

namespace minicnn {

/// The ONNX operator set the exported graphs use: the newest that Debian 12's libonnx 1.12 checker knows
/// (ONNX Runtime 1.20+ runs it). Opset 20's Gelu is past it, so GELU is composed from Erf or Tanh.
constexpr int64_t kOnnxOpset = 17;

/// What an exported graph holds besides the layers.
struct OnnxExportOptions {
  Shape input_chw;                   // (C, H, W) of one image
  std::vector<float> mean, std;      // per channel, on pixels scaled to 0..1 (the loader's normalisation)
  std::vector<std::string> classes;  // one name per output; stored as metadata
  std::string model_name;            // preset name or "custom"; stored as metadata
};

/// The model as an ONNX ModelProto (opset kOnnxOpset), serialised. The graph's input `input` is float32
/// [N, C, H, W] of pixel values 0..255 (N symbolic) and is normalised inside the graph as the loader does,
/// (x / 255 - mean) / std; its output `logits` is [N, classes], as Model::forward in Eval mode gives them.
/// Initialisers carry the nn.Sequential names ("0.weight"); metadata_props hold "classes" (a JSON array),
/// "minicnn_version", "model", "normalization" and "input_pixels".
/// requires: `model` built for options.input_chw; one mean and std per channel.
/// Throws Error naming the first layer ONNX cannot express (e.g. AdaptiveAvgPool2d to a size that does
/// not divide its input), or the ONNX checker's complaint.
std::string onnx_model_bytes(Model& model, const OnnxExportOptions& options);

/// onnx_model_bytes() written atomically to `path` (temporary file, then rename): a failed export leaves
/// no file behind and an existing file as it was.
void export_onnx(Model& model, const OnnxExportOptions& options, const std::string& path);

}  // namespace minicnn
