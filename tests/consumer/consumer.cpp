// An outside program on the installed package: the umbrella header, a small model built from a spec and
// from the C++ API, and a few SGD steps that must lower the loss. Exits 1 when they do not.
#include <cstdio>

#include <minicnn/minicnn.h>

using namespace minicnn;

int main() {
  Model model = parse_model("Conv2d(1, 8, 3, padding=1) ReLU MaxPool2d(2) Flatten LazyLinear(4)");
  model.build({1, 16, 16}, /*seed=*/1);
  SGD opt(model.parameters(), SGDOptions(0.05).momentum(0.9));
  CrossEntropyLoss loss;
  Generator gen(7);
  const int64_t N = 32;
  double first = 0, last = 0;
  int64_t correct = 0;
  for (int step = 1; step <= 40; ++step) {
    // A bright 3x3 blob in one quadrant of a 16x16 image; the label is the quadrant.
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
    if (step == 1) first = r.loss;
    last = r.loss;
    correct = r.correct;
  }
  std::printf("minicnn consumer: loss %.4f -> %.4f, last batch %lld/%lld correct\n", first, last,
              static_cast<long long>(correct), static_cast<long long>(N));
  return last < first / 2 && correct >= N * 3 / 4 ? 0 : 1;
}
