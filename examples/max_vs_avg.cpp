// Example: max against average pooling. First what each does to one image (which input pixel every max
// output picked, from the layer's argmax indices, beside the average of the same window), then mnist-cnn
// trained by the library's trainer with MaxPool2d(2) and with AvgPool2d(2) on Fashion-MNIST from one seed.
// Usage: example_max_vs_avg [Fashion-MNIST folder (/usr/share/datasets/fashion-mnist)]
//                           [training images (1000; 60000 for all)] [test images (1000)] [epochs (1)]
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include <minicnn/minicnn.h>

#include "arguments.h"
#include "stand_in.h"

using namespace minicnn;

// Pools one 28x28 image (pixel values 0..255) both ways and prints, for every 2x2 window, which of its four
// pixels the max took. Returns false when an index does not point at its window's maximum or an average is
// not its window's mean.
bool show_pooling(const ImageDataset& data, int64_t i) {
  Tensor x = Tensor::empty({1, 1, 28, 28});
  for (int64_t p = 0; p < 28 * 28; ++p) x.data()[p] = data.image(i)[p];
  MaxPool2d max_pool(MaxPool2dOptions(2));
  AvgPool2d avg_pool(AvgPool2dOptions(2));
  // The indices are flat positions h * 28 + w in the input plane, as torch's return_indices gives them;
  // they are also what backward() routes each gradient to.
  const auto [max_out, indices] = max_pool.forward_with_indices(x);
  const Tensor avg_out = avg_pool.forward(x, Mode::Eval);

  std::printf("%s image %lld (class %s) through MaxPool2d(2): which pixel of its window each output took\n",
              data.name.c_str(), static_cast<long long>(i), data.classes[data.labels[i]].c_str());
  std::printf(
      "(a b / c d: top left, top right, bottom left, bottom right; '.' a blank window, where the\n"
      "first of the tied zeros wins)\n");
  bool right = true;
  for (int64_t oh = 0; oh < 14; ++oh) {
    std::string row;
    for (int64_t ow = 0; ow < 14; ++ow) {
      const int64_t o = oh * 14 + ow;
      const int32_t index = indices.data_i32()[o];
      const int64_t dh = index / 28 - 2 * oh, dw = index % 28 - 2 * ow;
      const float* window = x.data() + 2 * oh * 28 + 2 * ow;
      const float mean = (window[0] + window[1] + window[28] + window[29]) / 4;
      right = right && dh >= 0 && dh < 2 && dw >= 0 && dw < 2 && x.data()[index] == max_out.data()[o] &&
              std::abs(avg_out.data()[o] - mean) <= 1e-4f * (1 + mean);
      if (ow > 0) row += ' ';
      row += max_out.data()[o] == 0 ? '.' : "abcd"[dh * 2 + dw];
    }
    std::printf("  %s\n", row.c_str());
  }
  std::printf("row 7 of the output, where each pools input rows 14 and 15:\n");
  for (int64_t ow = 0; ow < 14; ++ow) {
    const int64_t o = 7 * 14 + ow;
    if (max_out.data()[o] == 0) continue;
    const int32_t index = indices.data_i32()[o];
    std::printf("  output (7, %2lld): max %3.0f from input (%lld, %lld), average %5.1f\n",
                static_cast<long long>(ow), max_out.data()[o], static_cast<long long>(index / 28),
                static_cast<long long>(index % 28), avg_out.data()[o]);
  }
  return right;
}

// Trains mnist-cnn with its pooling layers replaced by `variant` ("max2": MaxPool2d(2), "avg2": AvgPool2d(2))
// with the trainer `minicnn train` runs, writing its run directory under `out`, and returns the test
// accuracy.
double train_variant(const std::string& variant, const DatasetSplit& data, int64_t train_images,
                     double epochs, const std::filesystem::path& out) {
  const Preset& preset = *find_preset("mnist-cnn");
  TrainConfig config;
  config.dataset = "fashion-mnist";
  config.model_name = "mnist-cnn";
  config.spec = apply_pool_variant(preset.spec, parse_pool_variant(variant));
  config.input_chw = preset.input_chw;
  config.recipe = preset.recipe;  // Adam, lr 1e-3, batch 64, a cosine schedule
  config.recipe.epochs = epochs;
  config.seed = 1;  // the same seed for both: the same initial weights, subset and batch order
  config.limit_train = std::min(train_images, data.train.size());
  config.pool_variant = variant;
  config.out_dir = (out / variant).string();
  const TrainResult result = train(config, data, RunDirPolicy::Overwrite);
  return result.test_accuracy;
}

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
  const auto train_images =
      static_cast<int64_t>(examples::number_argument(argc, argv, 2, 1000, "training images"));
  const auto test_images =
      static_cast<int64_t>(examples::number_argument(argc, argv, 3, 1000, "test images"));
  const double epochs = examples::number_argument(argc, argv, 4, 1, "epochs");
  DatasetSplit data = examples::load_or_stand_in("fashion-mnist", dir);

  const bool pooling_right = show_pooling(data.test, 0);

  // The trainer scores the whole test set; a short run keeps its first `test_images` images.
  if (test_images < data.test.size()) {
    data.test.labels.resize(static_cast<size_t>(test_images));
    data.test.images.resize(static_cast<size_t>(test_images * data.test.image_bytes()));
  }
  const std::filesystem::path out = std::filesystem::temp_directory_path() / "minicnn-example-max-vs-avg";
  const double max_accuracy = train_variant("max2", data, train_images, epochs, out);
  const double avg_accuracy = train_variant("avg2", data, train_images, epochs, out);
  std::filesystem::remove_all(out);
  std::printf("\ntest accuracy on %lld images after training on %lld:\n",
              static_cast<long long>(data.test.size()),
              static_cast<long long>(std::min(train_images, data.train.size())));
  std::printf("  MaxPool2d(2) %.4f\n  AvgPool2d(2) %.4f\n  max minus average %+.4f\n", max_accuracy,
              avg_accuracy, max_accuracy - avg_accuracy);

  // Ten classes: chance is 0.1; both must have learned something, and the indices must be right.
  return pooling_right && max_accuracy > 0.4 && avg_accuracy > 0.4 ? 0 : 1;
}
