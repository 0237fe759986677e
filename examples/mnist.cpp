// Example: load MNIST, build mnist-cnn from layer objects, train it with a hand-written loop, evaluate it and
// save a checkpoint that `minicnn eval` and `minicnn predict` read.
// Usage: example_mnist [MNIST folder (data/mnist)] [training images (1000; 60000 for all)] [epochs (1)]
//                      [checkpoint (mnist-cnn.safetensors)]
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include <minicnn/minicnn.h>

#include "arguments.h"
#include "stand_in.h"

using namespace minicnn;

// The mnist-cnn preset (`minicnn train --model mnist-cnn`) written as layer objects; each options struct
// takes torch.nn's arguments and defaults, so this reads as the PyTorch nn.Sequential it matches.
Model mnist_cnn() {
  Model model;
  model.add(std::make_unique<Conv2d>(Conv2dOptions(1, 32, 3).padding(1)));
  model.add(std::make_unique<ReLU>());
  model.add(std::make_unique<MaxPool2d>(MaxPool2dOptions(2)));
  model.add(std::make_unique<Conv2d>(Conv2dOptions(32, 64, 3).padding(1)));
  model.add(std::make_unique<ReLU>());
  model.add(std::make_unique<MaxPool2d>(MaxPool2dOptions(2)));
  model.add(std::make_unique<Flatten>());
  model.add(std::make_unique<Linear>(LinearOptions(64 * 7 * 7, 128)));
  model.add(std::make_unique<ReLU>());
  model.add(std::make_unique<Linear>(LinearOptions(128, 10)));
  return model;
}

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "data/mnist";
  const auto train_images =
      static_cast<int64_t>(examples::number_argument(argc, argv, 2, 1000, "training images"));
  const auto epochs = static_cast<int64_t>(examples::number_argument(argc, argv, 3, 1, "epochs"));
  const std::string checkpoint = argc > 4 ? argv[4] : "mnist-cnn.safetensors";
  const uint64_t seed = 1;

  const DatasetSplit data = examples::load_or_stand_in("mnist", dir);
  Model model = mnist_cnn();
  model.build({1, 28, 28}, seed);  // shapes checked, parameters initialised as torch.nn does
  std::printf("%s\n", model.summary({1, 28, 28}).c_str());

  // Pixels are normalised with the training set's mean and std, as `minicnn train` does; the checkpoint
  // records them so that predictions on new images are normalised the same way.
  const Normalization normalization = compute_normalization(data.train);
  LoaderOptions options;
  options.batch_size = 64;
  options.shuffle = true;
  options.seed = seed;
  options.normalization = normalization;
  DataLoader loader(data.train, options,
                    random_subset(data.train.size(), std::min(train_images, data.train.size()), seed));

  Adam optimizer(model.parameters(), AdamOptions(1e-3));
  CrossEntropyLoss loss;
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    loader.set_epoch(epoch);  // a fresh shuffle per epoch, the same for the same seed
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t b = 0; b < loader.num_batches(); ++b) {
      const Batch batch = loader.batch(b);
      optimizer.zero_grad();  // backward() adds into the gradients, so they are cleared before each step
      const LossResult r = loss.forward(model.forward(batch.images, Mode::Train), batch.labels);
      model.backward(loss.backward());
      optimizer.step();
      loss_sum += r.loss * static_cast<double>(batch.size);
      correct += r.correct;
    }
    std::printf("epoch %lld: train loss %.4f, train accuracy %.4f\n", static_cast<long long>(epoch + 1),
                loss_sum / static_cast<double>(loader.size()),
                static_cast<double>(correct) / static_cast<double>(loader.size()));
  }

  // Evaluation runs in Eval mode over the whole test set (or the first 2,000 images of a short run).
  std::vector<int64_t> test_subset;
  if (train_images < 10000) {
    for (int64_t i = 0; i < std::min<int64_t>(2000, data.test.size()); ++i) test_subset.push_back(i);
  }
  const EvalResult test = evaluate(model, data.test, normalization, 256, test_subset);
  std::printf("test accuracy %.4f on %lld images (loss %.4f)\n", test.accuracy,
              static_cast<long long>(test.count), test.loss);

  // A checkpoint holds the weights with torch's names, the optimizer's state, and what rebuilds the model:
  // its spec (model_to_spec writes the layer objects as text), input shape, normalisation and classes.
  CheckpointMeta meta;
  meta.spec = model_to_spec(model);
  meta.model_name = "mnist-cnn";
  meta.input_chw = {1, 28, 28};
  meta.normalization = normalization;
  meta.dataset = "mnist";
  meta.classes = data.train.classes;
  TrainState state;
  state.epochs_done = epochs;
  state.global_step = optimizer.steps();
  state.finished = true;
  save_checkpoint(checkpoint, model, &optimizer, meta, state);

  // Reading it back gives the same model: the reloaded one must score exactly what this one did.
  Model reloaded = model_from_checkpoint(load_checkpoint(checkpoint));
  const EvalResult again = evaluate(reloaded, data.test, normalization, 256, test_subset);
  std::printf("saved %s; reloaded, it scores %.4f\n", checkpoint.c_str(), again.accuracy);

  // Ten classes: chance is 0.1. Even 1,000 images for one epoch give well above 0.5.
  return test.accuracy > 0.5 && again.correct == test.correct ? 0 : 1;
}
