// Example: take a model out of minicnn. A small network is trained for a few steps, then written as an
// ONNX file that ONNX Runtime (servers, browsers, phones) runs: its input is raw pixel values 0..255 and the
// normalisation the model was trained with is part of the graph, so a deployed model needs no minicnn code.
// Usage: example_export_onnx [output (model.onnx)] [MNIST folder (data/mnist)]
// Built only where minicnn was installed with its ONNX component (Debian's libonnx-dev, libprotobuf-dev).
// From a run directory the command line does the same: minicnn export --checkpoint runs/a --output a.onnx
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <minicnn/minicnn.h>
#include <minicnn/onnx_export.h>

#include "stand_in.h"

using namespace minicnn;

int main(int argc, char** argv) {
  const std::string output = argc > 1 ? argv[1] : "model.onnx";
  const DatasetSplit data = examples::load_or_stand_in("mnist", argc > 2 ? argv[2] : "data/mnist");

  Model model;
  model.add(std::make_unique<Conv2d>(Conv2dOptions(1, 8, 3).padding(1)));
  model.add(std::make_unique<ReLU>());
  model.add(std::make_unique<MaxPool2d>(MaxPool2dOptions(3).stride(2).padding(1)));  // overlapping windows
  model.add(std::make_unique<Flatten>());
  model.add(std::make_unique<Linear>(LinearOptions(8 * 14 * 14, 10)));
  model.build({1, 28, 28}, 1);

  // Up to a hundred steps of SGD: enough to make the exported predictions mean something.
  const Normalization normalization = compute_normalization(data.train);
  LoaderOptions options;
  options.shuffle = true;
  options.normalization = normalization;
  DataLoader loader(data.train, options,
                    random_subset(data.train.size(), std::min<int64_t>(6400, data.train.size()), 1));
  SGD optimizer(model.parameters(), SGDOptions(0.05).momentum(0.9));
  CrossEntropyLoss loss;
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    const Batch batch = loader.batch(b);
    optimizer.zero_grad();
    loss.forward(model.forward(batch.images, Mode::Train), batch.labels);
    model.backward(loss.backward());
    optimizer.step();
  }
  const std::vector<int64_t> test =
      random_subset(data.test.size(), std::min<int64_t>(1000, data.test.size()), 2);
  const double accuracy = evaluate(model, data.test, normalization, 256, test).accuracy;
  std::printf("trained for %lld steps: test accuracy %.4f on %zu images\n",
              static_cast<long long>(loader.num_batches()), accuracy, test.size());

  // What the graph needs besides the layers: the input shape, the normalisation to fold in, and the class
  // names to store as metadata. export_onnx runs ONNX's checker before it writes the file.
  OnnxExportOptions onnx;
  onnx.input_chw = {1, 28, 28};
  onnx.mean = normalization.mean;
  onnx.std = normalization.std;
  onnx.classes = data.train.classes;
  onnx.model_name = "custom";
  export_onnx(model, onnx, output);
  std::printf(
      "wrote %s (%ju bytes): input 'input' [N, 1, 28, 28] of pixel values 0..255, output 'logits' "
      "[N, 10]\n",
      output.c_str(), static_cast<uintmax_t>(std::filesystem::file_size(output)));
  // The same file in ONNX Runtime, from Node (npm install --ignore-scripts onnxruntime-node), on a black
  // image.
  std::printf(
      "in ONNX Runtime: node -e \"const ort = require('onnxruntime-node'); "
      "ort.InferenceSession.create('%s').then(s => s.run({input: new ort.Tensor('float32', "
      "new Float32Array(784), [1, 1, 28, 28])})).then(r => console.log(r.logits.data))\"\n",
      output.c_str());
  return accuracy > 0.5 ? 0 : 1;
}
