// Example: train on images your program already holds in memory, in no file format minicnn knows. The
// images here are drawn by the program (16x16 colour pictures with a bright blob in one quadrant, the class);
// yours would come from a camera, a database or another library.
#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <minicnn/minicnn.h>

using namespace minicnn;

constexpr int64_t kSize = 16;  // pixels per side

// The program's own data: an RGB picture as rows of (r, g, b) bytes, the way most image libraries hand
// them out, with a label 0..3 for the quadrant (top left, top right, bottom left, bottom right) of its blob.
struct Picture {
  std::array<std::array<uint8_t, 3>, kSize * kSize> pixels;  // row-major, interleaved channels (HWC)
  int label;
};

Picture draw_picture(Generator& gen) {
  Picture p;
  for (auto& px : p.pixels) px = {uint8_t(gen.below(80)), uint8_t(gen.below(80)), uint8_t(gen.below(80))};
  p.label = static_cast<int>(gen.below(4));
  const int64_t cy = (p.label / 2) * 8 + 2 + static_cast<int64_t>(gen.below(4));
  const int64_t cx = (p.label % 2) * 8 + 2 + static_cast<int64_t>(gen.below(4));
  const std::array<uint8_t, 3> colour = {uint8_t(155 + gen.below(100)), uint8_t(155 + gen.below(100)), 40};
  for (int64_t h = cy - 1; h <= cy + 1; ++h) {
    for (int64_t w = cx - 1; w <= cx + 1; ++w) p.pixels[h * kSize + w] = colour;
  }
  return p;
}

// The bridge: an ImageDataset is plain bytes in (N, C, H, W) order with int32 labels and class names. minicnn
// keeps images as bytes (0..255) and makes normalised float batches as it trains; scale float images to
// 0..255 first. The DataLoader checks the sizes, so a mistake here is a sentence, not a crash.
ImageDataset to_dataset(const std::vector<Picture>& pictures, const std::string& name) {
  ImageDataset data;
  data.name = name;
  data.channels = 3, data.height = kSize, data.width = kSize;
  data.classes = {"top left", "top right", "bottom left", "bottom right"};
  for (const Picture& p : pictures) {
    for (int64_t c = 0; c < 3; ++c) {  // HWC to CHW: one channel's plane at a time
      for (const auto& px : p.pixels) data.images.push_back(px[c]);
    }
    data.labels.push_back(p.label);
  }
  return data;
}

int main() {
  Generator gen(7);
  std::vector<Picture> train_pictures(2000), test_pictures(500);
  for (Picture& p : train_pictures) p = draw_picture(gen);
  for (Picture& p : test_pictures) p = draw_picture(gen);
  const DatasetSplit data{to_dataset(train_pictures, "quadrants"), to_dataset(test_pictures, "quadrants")};

  // From here on the data is like any other: the trainer `minicnn train` runs takes it as it is, with a
  // model written as a spec (layer objects, as in examples/mnist.cpp, give one through model_to_spec).
  TrainConfig config;
  config.dataset = "quadrants";
  config.model_name = "custom";
  config.spec =
      "Conv2d(3, 8, 3, padding=1) ReLU MaxPool2d(2) Conv2d(8, 16, 3, padding=1) ReLU MaxPool2d(2) "
      "Flatten LazyLinear(4)";
  config.input_chw = {3, kSize, kSize};
  config.recipe = plain_recipe(OptimizerKind::SGD, 0.05, 0.9, 0.0, ScheduleKind::None, Augment::None, 64, 2);
  config.seed = 1;
  config.out_dir = (std::filesystem::temp_directory_path() / "minicnn-example-custom-dataset").string();
  TrainCallbacks callbacks;
  callbacks.on_epoch = [](const EpochMetrics& m, int64_t epochs) {
    std::printf("epoch %lld/%lld: train loss %.4f, test accuracy %.4f\n", static_cast<long long>(m.epoch),
                static_cast<long long>(epochs), m.train_loss, m.test_accuracy);
  };
  const TrainResult result = train(config, data, RunDirPolicy::Overwrite, callbacks);

  // The run directory's checkpoint rebuilds the model with its normalisation, to classify new pictures
  // straight from the program's memory.
  const Checkpoint checkpoint = load_checkpoint(config.out_dir);
  Model model = model_from_checkpoint(checkpoint);
  const Picture fresh = draw_picture(gen);
  const ImageDataset one = to_dataset({fresh}, "fresh");
  DataLoader loader(one, {1, false, 0, Augment::None, checkpoint.meta.normalization});
  const Tensor logits = model.forward(loader.batch(0).images, Mode::Eval);
  int64_t best = 0;
  for (int64_t k = 1; k < 4; ++k) best = logits.data()[k] > logits.data()[best] ? k : best;
  std::printf("a new picture with its blob %s: the model says %s\n", data.train.classes[fresh.label].c_str(),
              data.train.classes[best].c_str());
  std::filesystem::remove_all(config.out_dir);

  // Four classes: chance is 0.25; the blobs are easy to find once the model has learned.
  return result.test_accuracy > 0.9 ? 0 : 1;
}
