// `minicnn predict`: class and top-3 probabilities for images (PNG/JPEG/BMP files, or .npy batches of pixel
// values), with the preprocessing stored in the checkpoint.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include <minicnn/checkpoint.h>
#include "common.h"
#include <minicnn/image_folder.h>
#include <minicnn/image_io.h>
#include <minicnn/npy.h>
#include <minicnn/runtime.h>
#include <minicnn/trainer.h>

namespace minicnn::cli {
namespace {

struct PredictCommand {
  std::string checkpoint, npy, logits, device = "cpu";
  std::vector<std::string> images;
  bool quiet = false;
  int threads = 0;
  int64_t tta = 0;
};

// Pixel values 0..255 (N, C, H, W), or (N, H, W) for one channel, to normalised float input.
Tensor normalise(const Tensor& pixels, const CheckpointMeta& meta, const std::string& source) {
  const Shape& chw = meta.input_chw;
  Tensor x = pixels;
  if (x.dim() == 3 && chw[0] == 1) x = x.reshape({x.size(0), 1, x.size(1), x.size(2)});
  MINICNN_CHECK(x.dim() == 4 && x.size(1) == chw[0] && x.size(2) == chw[1] && x.size(3) == chw[2], "predict: the model "
                "expects images of shape ", chw, " (a batch (N, C, H, W) of pixel values 0..255), but '", source,
                "' holds ", pixels.shape());
  Tensor out = Tensor::empty(x.shape());
  const int64_t plane = chw[1] * chw[2];
  for (int64_t n = 0; n < x.size(0); ++n) {
    for (int64_t c = 0; c < chw[0]; ++c) {
      const float mean = meta.normalization.mean[static_cast<size_t>(c)], std = meta.normalization.std[static_cast<size_t>(c)];
      const float* src = x.data() + (n * chw[0] + c) * plane;
      float* dst = out.data() + (n * chw[0] + c) * plane;
      for (int64_t k = 0; k < plane; ++k) dst[k] = (src[k] / 255.0f - mean) / std;
    }
  }
  return out;
}

void print_predictions(const Tensor& logits, const std::vector<std::string>& classes,
                       const std::vector<std::string>& names) {
  const int64_t N = logits.size(0), C = logits.size(1);
  for (int64_t n = 0; n < N; ++n) {
    const float* row = logits.data() + n * C;
    const float m = *std::max_element(row, row + C);
    std::vector<double> p(static_cast<size_t>(C));
    double sum = 0;
    for (int64_t c = 0; c < C; ++c) sum += p[static_cast<size_t>(c)] = std::exp(static_cast<double>(row[c] - m));
    std::vector<int64_t> order(static_cast<size_t>(C));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return row[a] > row[b]; });
    auto label = [&](int64_t c) { return classes[static_cast<size_t>(c)]; };
    std::string top;
    for (int64_t k = 0; k < std::min<int64_t>(3, C); ++k) {
      top += fmt::format("{}{} {:.3f}", k ? ", " : "", label(order[static_cast<size_t>(k)]), p[static_cast<size_t>(order[static_cast<size_t>(k)])] / sum);
    }
    std::printf("%s: %s  (top-3: %s)\n", names[static_cast<size_t>(n)].c_str(), label(order[0]).c_str(), top.c_str());
  }
}

// Image files as a batch of pixel values (N, C, H, W) in the model's input shape: channels converted as the
// image-folder reader does, and each image of another size resized to the model's H, W. A file that cannot be
// read is left out of the batch, its error kept, so that one bad file does not hide the others' predictions.
struct ImageBatch {
  Tensor pixels;                    // (N, C, H, W), the readable files in the order given
  std::vector<std::string> names;   // their paths
  std::vector<std::string> errors;  // one sentence per unreadable file
};

ImageBatch load_image_files(const std::vector<std::string>& paths, const Shape& chw) {
  MINICNN_CHECK(chw[0] == 1 || chw[0] == 3, "predict: image files need a model of 1 or 3 input channels, but the "
                "checkpoint's model expects ", chw);
  const int64_t C = chw[0], H = chw[1], W = chw[2];
  ImageBatch batch;
  std::vector<std::vector<uint8_t>> planes;
  for (const std::string& path : paths) {
    try {
      const DecodedImage image = load_image(path);
      std::vector<uint8_t> planar = to_planar(image, C);
      if (image.height != H || image.width != W) {
        std::vector<uint8_t> resized(static_cast<size_t>(C * H * W));
        resize_bilinear(planar.data(), C, image.height, image.width, resized.data(), H, W);
        planar = std::move(resized);
      }
      planes.push_back(std::move(planar));
      batch.names.push_back(path);
    } catch (const Error& e) {
      batch.errors.push_back(e.what());
    }
  }
  batch.pixels = Tensor::empty({static_cast<int64_t>(planes.size()), C, H, W});
  for (size_t n = 0; n < planes.size(); ++n) {
    float* dst = batch.pixels.data() + static_cast<int64_t>(n) * C * H * W;
    for (int64_t k = 0; k < C * H * W; ++k) dst[k] = planes[n][static_cast<size_t>(k)];
  }
  return batch;
}

// The probabilities are a softmax over the model's outputs, read as the checkpoint's classes: they add up
// to 1 over those classes only when there is one output per class (older trainers saved models with more).
void check_outputs_are_classes(const Model& model, const CheckpointMeta& meta, const std::string& path) {
  const Shape& chw = meta.input_chw;
  const Shape out = model.output_shape({1, chw[0], chw[1], chw[2]});
  const auto classes = static_cast<int64_t>(meta.classes.size());
  if (out.rank() == 2 && out[1] == classes) return;
  const std::string gives = out.rank() == 2 ? fmt::format("{} outputs", out[1])
                                            : fmt::format("outputs of shape {} per image", out.str());
  detail::throw_error(
      fmt::format("predict: the model in '{}' gives {}, but the checkpoint records {} classes of {}, so its "
                  "probabilities would not be over those classes; retrain it with a model whose last layer "
                  "gives {} outputs",
                  path, gives, classes, meta.dataset, classes));
}

// torchvision's ToTensor() scales pixels to 0..1, and such pixels read as 0..255 make a nearly black image
// that the model still classifies, confidently and wrongly. Fractions within 0..1 can only mean that scale;
// an array of only 0 and 1 could be either, so it is read as 0..255 with a warning.
void check_pixel_scale(const Tensor& pixels, const std::string& path) {
  const float* p = pixels.data();
  const int64_t n = pixels.numel();
  int64_t fraction = -1;
  bool any_one = false;
  for (int64_t i = 0; i < n; ++i) {
    if (!(p[i] >= 0.0f && p[i] <= 1.0f)) return;
    if (p[i] == 1.0f) {
      any_one = true;
    } else if (p[i] != 0.0f && fraction < 0) {
      fraction = i;
    }
  }
  MINICNN_CHECK(fraction < 0, "predict: '", path, "' holds pixel values within 0..1 (such as ",
                fmt::format("{}", p[fraction]), " at flat index ", fraction,
                "), but the model expects pixel values 0..255 as image files hold them; multiply the array "
                "by 255 (torchvision's ToTensor() scales pixels to 0..1)");
  if (any_one) {
    log_warning(
        fmt::format("predict: '{}' holds only the values 0 and 1, which are read as pixel values 0..255 "
                    "(nearly black); if they are pixels scaled to 0..1, multiply the array by 255",
                    path));
  }
}

void run_predict(const PredictCommand& cmd) {
  set_num_threads(cmd.threads);
  const Device device = Device::parse(cmd.device);
  require_device(device, "predict");
  if (cmd.npy.empty() == cmd.images.empty()) {
    throw UsageError("predict: give image files (PNG, JPEG or BMP) or --npy IMAGES.npy (a batch of pixel values), "
                     "one of the two");
  }
  const Checkpoint ckpt = load_checkpoint(cmd.checkpoint);
  Model model = model_from_checkpoint(ckpt);
  check_outputs_are_classes(model, ckpt.meta, cmd.checkpoint);
  model.to(device);
  Tensor pixels;
  std::vector<std::string> names, errors;
  if (!cmd.npy.empty()) {
    pixels = load_npy_values(cmd.npy);
    check_pixel_scale(pixels, cmd.npy);
  } else {
    ImageBatch batch = load_image_files(cmd.images, ckpt.meta.input_chw);
    pixels = std::move(batch.pixels);
    names = std::move(batch.names);
    errors = std::move(batch.errors);
  }
  if (!cmd.npy.empty() || !names.empty()) {  // else every image file was unreadable: only errors follow
    const Tensor x = normalise(pixels, ckpt.meta, cmd.npy.empty() ? names.front() : cmd.npy);
    const Tensor logits = tta_logits(model, x, cmd.tta);
    // With a file left out the rows would not match the files given: no logits rather than shifted ones.
    if (!cmd.logits.empty() && errors.empty()) save_npy(cmd.logits, logits);
    if (!cmd.npy.empty()) {
      for (int64_t n = 0; n < logits.size(0); ++n) names.push_back(fmt::format("{}[{}]", cmd.npy, n));
    }
    if (!cmd.quiet) print_predictions(logits, ckpt.meta.classes, names);
  }
  if (errors.empty()) return;
  if (!cmd.logits.empty()) {
    const size_t unreadable = errors.size();
    errors.push_back(
        fmt::format("predict: --logits '{}' was not written, because {} of the {} images could not be "
                    "read and its rows would not match the images given",
                    cmd.logits, unreadable, cmd.images.size()));
  }
  // One line per unreadable file: main() prints the last, as it prints any error, and exits 1.
  std::fflush(stdout);
  for (size_t i = 0; i + 1 < errors.size(); ++i) {
    std::fprintf(stderr, "minicnn: error: %s\n", errors[i].c_str());
  }
  detail::throw_error(errors.back());
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto c = std::make_shared<PredictCommand>();
  auto* cmd = app.add_subcommand("predict", "Predict classes (top-3 probabilities) with a checkpoint");
  cmd->add_option("--checkpoint", c->checkpoint, "A model.safetensors written by train")->required();
  cmd->add_option(
      "IMAGE", c->images,
      "PNG, JPEG or BMP files; each is converted to the model's channels (alpha dropped, grey replicated "
      "to RGB, RGB to grey by luma) and, when its size differs from the model's input H,W, resized to it "
      "(bilinear, as train --resize does); a file that cannot be read is named with the reason, the "
      "others are still predicted, and the exit status is 1");
  cmd->add_option("--npy", c->npy,
                  std::string("A .npy batch of pixel values 0..255, shape (N, C, H, W) or (N, H, W); ") +
                      kNpyValueDtypes + "; pixels scaled to 0..1 (torchvision's ToTensor()) are refused");
  cmd->add_option(
      "--logits", c->logits,
      "Also write the logits (N, classes) to this .npy file (not when an image file cannot be read)");
  cmd->add_flag("--quiet", c->quiet, "Print nothing (with --logits)");
  add_tta_option(cmd, c->tta);
  cmd->add_option("--device", c->device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--threads", c->threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->callback([c] { run_predict(*c); });
}

}  // namespace minicnn::cli
