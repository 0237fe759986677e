// Where the examples find their data: the real MNIST or Fashion-MNIST files when they are there, and
// otherwise stand-in images of the same shape drawn in memory, so that every example still runs end to end
// (CI has neither data set; scripts/get_mnist.sh and Debian's dataset-fashion-mnist bring them).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include <minicnn/check.h>
#include <minicnn/dataset.h>
#include <minicnn/random.h>

namespace examples {

// n 28x28 greyscale images of ten classes: class c is a bright 6x6 square in cell (c / 5, c % 5) of a 2x5
// grid, shifted by up to 2 pixels, on a noisy background. Easy to learn, so a working model gets well
// above chance in a few steps.
inline minicnn::ImageDataset stand_in_images(int64_t n, uint64_t seed) {
  minicnn::ImageDataset data;
  data.name = "stand-in";
  data.channels = 1, data.height = 28, data.width = 28;
  for (int c = 0; c < 10; ++c) data.classes.push_back("square " + std::to_string(c));
  data.images.resize(static_cast<size_t>(n * 28 * 28));
  data.labels.resize(static_cast<size_t>(n));
  minicnn::Generator gen(seed);
  for (int64_t i = 0; i < n; ++i) {
    uint8_t* image = data.images.data() + i * 28 * 28;
    for (int64_t p = 0; p < 28 * 28; ++p) image[p] = static_cast<uint8_t>(gen.below(64));
    const int c = static_cast<int>(gen.below(10));
    const int64_t top = (c / 5) * 14 + 4 + static_cast<int64_t>(gen.below(5)) - 2;
    const int64_t left = (c % 5) * 5 + 1 + static_cast<int64_t>(gen.below(3));
    for (int64_t h = top; h < top + 6; ++h) {
      for (int64_t w = left; w < left + 6 && w < 28; ++w) image[h * 28 + w] = 255;
    }
    data.labels[static_cast<size_t>(i)] = c;
  }
  return data;
}

// The data set `kind` ("mnist" or "fashion-mnist") from `dir`, or, when it cannot be read there, a stand-in
// with as many images as the smaller examples use, after saying why; the program's last line says it again,
// so that no figure it printed is taken for one measured on the real data set.
inline minicnn::DatasetSplit load_or_stand_in(const std::string& kind, const std::string& dir) {
  try {
    return minicnn::load_dataset(kind, dir);
  } catch (const minicnn::Error& e) {
    std::printf(
        "%s\n(this example takes the folder as its first argument)\nUsing stand-in images of the same "
        "shape instead.\n\n",
        e.what());
    std::atexit(
        [] { std::printf("note: every figure above is from stand-in images, not the real data set\n"); });
    return {stand_in_images(4000, 1), stand_in_images(1000, 2)};
  }
}

}  // namespace examples
