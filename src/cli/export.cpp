// `minicnn export`: a checkpoint's model, with its preprocessing and class names, as a checked ONNX file.
#include <cstdio>
#include <filesystem>

#include <minicnn/checkpoint.h>
#include "common.h"
#if MINICNN_ONNX_EXPORT
#include <minicnn/onnx_export.h>
#endif

namespace minicnn::cli {
namespace {

struct ExportCommand {
  std::string checkpoint, output;
};

void check_flags(const ExportCommand& cmd) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (cmd.output.empty()) throw UsageError("export: --output should name the .onnx file to write, but got ''");
  if (fs::is_directory(cmd.output, ec)) {
    throw UsageError("export: --output should name the .onnx file to write, but '" + cmd.output +
                     "' is a directory");
  }
  const fs::path parent = fs::path(cmd.output).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec)) {
    throw UsageError("export: --output '" + cmd.output + "' is in folder '" + parent.string() +
                     "', which does not exist");
  }
}

void run_export(const ExportCommand& cmd) {
  check_flags(cmd);
#if MINICNN_ONNX_EXPORT
  const Checkpoint ckpt = load_checkpoint(cmd.checkpoint);
  Model model = model_from_checkpoint(ckpt);
  OnnxExportOptions options;
  options.input_chw = ckpt.meta.input_chw;
  options.mean = ckpt.meta.normalization.mean;
  options.std = ckpt.meta.normalization.std;
  options.classes = ckpt.meta.classes;
  options.model_name = ckpt.meta.model_name;
  export_onnx(model, options, cmd.output);
  std::printf(
      "wrote %s: opset %lld, input 'input' [N, %lld, %lld, %lld] (pixel values 0..255), output 'logits' "
      "[N, %zu]\n",
      cmd.output.c_str(), static_cast<long long>(kOnnxOpset), static_cast<long long>(options.input_chw[0]),
      static_cast<long long>(options.input_chw[1]), static_cast<long long>(options.input_chw[2]),
      options.classes.size());
#else
  detail::throw_error(
      "export: this minicnn was built without ONNX export; install Debian's libonnx-dev and "
      "libprotobuf-dev (scripts/install_deps.sh does) and configure and build it again");
#endif
}

}  // namespace

void add_export_command(CLI::App& app) {
  auto c = std::make_shared<ExportCommand>();
  auto* cmd = app.add_subcommand("export",
                                 "Write a checkpoint's model as an ONNX file (opset 17) that takes pixel "
                                 "values 0..255 and gives logits");
  cmd->add_option("--checkpoint", c->checkpoint, "A model.safetensors written by train, or its run directory")
      ->required();
  cmd->add_option("--output", c->output,
                  "The .onnx file to write (atomically: a failed export leaves an existing file as it was)")
      ->required();
  cmd->callback([c] { run_export(*c); });
}

}  // namespace minicnn::cli
