// Example: does overlapping pooling help? mnist-cnn with MaxPool2d(2) against MaxPool2d(3, 2, 1) on
// Fashion-MNIST, each pair trained from the same seed, with the two accuracies and their difference.
// Usage: example_pooling_overlap [Fashion-MNIST folder (/usr/share/datasets/fashion-mnist)]
//                                [training images (1000; 60000 for all)] [epochs (1)] [seeds (1)]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include <minicnn/minicnn.h>

#include "arguments.h"
#include "stand_in.h"

using namespace minicnn;

using PoolFactory = std::function<std::unique_ptr<Layer>()>;

// mnist-cnn with its two pooling layers made by `pool`. MaxPool2d(3, stride 2, padding 1) gives the same
// 14x14 and 7x7 maps as MaxPool2d(2), so the rest of the network, and its initial weights for a seed, are
// the same: the pooling is the only difference within a pair.
Model mnist_cnn(const PoolFactory& pool) {
  Model model;
  model.add(std::make_unique<Conv2d>(Conv2dOptions(1, 32, 3).padding(1)));
  model.add(std::make_unique<ReLU>());
  model.add(pool());
  model.add(std::make_unique<Conv2d>(Conv2dOptions(32, 64, 3).padding(1)));
  model.add(std::make_unique<ReLU>());
  model.add(pool());
  model.add(std::make_unique<Flatten>());
  model.add(std::make_unique<Linear>(LinearOptions(64 * 7 * 7, 128)));
  model.add(std::make_unique<ReLU>());
  model.add(std::make_unique<Linear>(LinearOptions(128, 10)));
  return model;
}

// Trains a fresh model on `train_images` images drawn by `seed` for `epochs` epochs (Adam, lr 1e-3, batch
// 64: mnist-cnn's recipe without its cosine schedule) and returns its test accuracy. The seed fixes the
// initial weights, the subset and the batch order alike, so both models of a pair see the same batches.
double test_accuracy(const PoolFactory& pool, const DatasetSplit& data, uint64_t seed, int64_t train_images,
                     int64_t epochs) {
  Model model = mnist_cnn(pool);
  model.build({1, 28, 28}, seed);
  const Normalization normalization = compute_normalization(data.train);
  LoaderOptions options;
  options.shuffle = true;
  options.seed = seed;
  options.normalization = normalization;
  DataLoader loader(data.train, options,
                    random_subset(data.train.size(), std::min(train_images, data.train.size()), seed));
  Adam optimizer(model.parameters(), AdamOptions(1e-3));
  CrossEntropyLoss loss;
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    loader.set_epoch(epoch);
    for (int64_t b = 0; b < loader.num_batches(); ++b) {
      const Batch batch = loader.batch(b);
      optimizer.zero_grad();
      loss.forward(model.forward(batch.images, Mode::Train), batch.labels);
      model.backward(loss.backward());
      optimizer.step();
    }
  }
  // A short run is scored on the first 1,000 test images, a long one on all 10,000.
  std::vector<int64_t> subset;
  for (int64_t i = 0; train_images < 10000 && i < std::min<int64_t>(1000, data.test.size()); ++i) {
    subset.push_back(i);
  }
  return evaluate(model, data.test, normalization, 256, subset).accuracy;
}

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
  const auto train_images =
      static_cast<int64_t>(examples::number_argument(argc, argv, 2, 1000, "training images"));
  const auto epochs = static_cast<int64_t>(examples::number_argument(argc, argv, 3, 1, "epochs"));
  const auto seeds = static_cast<int64_t>(examples::number_argument(argc, argv, 4, 1, "seeds"));
  const DatasetSplit data = examples::load_or_stand_in("fashion-mnist", dir);

  const PoolFactory max2 = [] { return std::make_unique<MaxPool2d>(MaxPool2dOptions(2)); };
  const PoolFactory max3s2p1 = [] {
    return std::make_unique<MaxPool2d>(MaxPool2dOptions(3).stride(2).padding(1));
  };

  std::printf("seed  MaxPool2d(2)  MaxPool2d(3, 2, 1)  difference\n");
  double sum = 0, sum_sq = 0, lowest = 1;
  for (int64_t seed = 1; seed <= seeds; ++seed) {
    const double a = test_accuracy(max2, data, seed, train_images, epochs);
    const double b = test_accuracy(max3s2p1, data, seed, train_images, epochs);
    std::printf("%4lld  %12.4f  %18.4f  %+10.4f\n", static_cast<long long>(seed), a, b, b - a);
    sum += b - a;
    sum_sq += (b - a) * (b - a);
    lowest = std::min({lowest, a, b});
  }
  // Pairing removes what the seed does to both models from the difference; its spread over the seeds says
  // how much of the mean difference is noise.
  const double n = static_cast<double>(seeds);
  const double mean = sum / n;
  std::printf("overlapping minus non-overlapping: %+.4f", mean);
  if (seeds > 1) {
    const double sd = std::sqrt(std::max(0.0, (sum_sq - n * mean * mean) / (n - 1)));
    std::printf(" (standard deviation %.4f over %lld paired seeds)\n", sd, static_cast<long long>(seeds));
  } else {
    std::printf(" (standard deviation n/a: one seed; pass more seeds to see the noise)\n");
  }

  // Ten classes: chance is 0.1; every model, however briefly trained, must have learned something.
  return lowest > 0.4 ? 0 : 1;
}
