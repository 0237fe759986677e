// Example: build a CNN with the C++ API and train it to say which quadrant of a 16x16 image holds a bright blob.
#include <cstdio>

#include <minicnn/conv2d.h>
#include <minicnn/flatten.h>
#include <minicnn/linear.h>
#include <minicnn/loss.h>
#include <minicnn/model.h>
#include <minicnn/pool2d.h>
#include <minicnn/relu.h>
#include <minicnn/sgd.h>

using namespace minicnn;

int main() {
  Model model;
  model.add(std::make_unique<Conv2d>(Conv2dOptions(1, 8, 3).padding(1)));
  model.add(std::make_unique<ReLU>());
  model.add(std::make_unique<MaxPool2d>(MaxPool2dOptions(2)));  // stride defaults to the kernel size
  model.add(std::make_unique<Flatten>());
  model.add(std::make_unique<Linear>(LinearOptions(-1, 4)));  // in_features inferred, like LazyLinear
  model.build({1, 16, 16}, /*seed=*/1);
  std::printf("%s\n", model.summary({1, 16, 16}).c_str());

  SGD opt(model.parameters(), SGDOptions(0.05).momentum(0.9));
  CrossEntropyLoss loss;
  Generator gen(7);
  const int64_t N = 32;
  int64_t last_correct = 0;
  for (int step = 1; step <= 60; ++step) {
    Tensor x = Tensor::zeros({N, 1, 16, 16});
    Tensor y = Tensor::empty({N}, DType::Int32);
    for (int64_t n = 0; n < N; ++n) {
      const int64_t q = static_cast<int64_t>(gen.below(4));
      const int64_t cy = (q / 2) * 8 + 2 + static_cast<int64_t>(gen.below(4));
      const int64_t cx = (q % 2) * 8 + 2 + static_cast<int64_t>(gen.below(4));
      for (int64_t h = cy - 1; h <= cy + 1; ++h) {
        for (int64_t w = cx - 1; w <= cx + 1; ++w) x.data()[n * 256 + h * 16 + w] = 1.0f;
      }
      y.data_i32()[n] = static_cast<int32_t>(q);
    }
    opt.zero_grad();
    const LossResult r = loss.forward(model.forward(x, Mode::Train), y);
    model.backward(loss.backward());
    opt.step();
    if (step % 10 == 0) std::printf("step %2d  loss %.4f  accuracy %.2f\n", step, r.loss, double(r.correct) / N);
    last_correct = r.correct;
  }
  // The blobs are easy to tell apart: a model that learned gets almost all of the last batch right.
  return last_correct >= N * 3 / 4 ? 0 : 1;
}
