// Example: a layer of your own. LeakyReLU written against minicnn's layer contract, its backward checked
// by the library's gradient checker (the one every built-in layer is tested with), then trained in a model.
#include <cstdio>
#include <memory>
#include <string>

#include <minicnn/minicnn.h>

#include "stand_in.h"

using namespace minicnn;

// y = x for x > 0, negative_slope * x otherwise (torch.nn.LeakyReLU). The contract (<minicnn/layer.h>):
// forward() keeps what backward() needs only in Train mode, backward() starts with check_backward and
// returns dL/dx; a layer with parameters would also ADD into their gradients and list them in parameters().
class LeakyReLU : public Layer {
 public:
  explicit LeakyReLU(float negative_slope = 0.01f) : slope_(negative_slope) {}
  std::string type_name() const override { return "LeakyReLU"; }
  std::string repr() const override {
    char text[48];
    std::snprintf(text, sizeof text, "LeakyReLU(negative_slope=%g)", slope_);  // as torch prints it
    return text;
  }
  Shape output_shape(const Shape& in) const override { return in; }

  Tensor forward(const Tensor& x, Mode mode) override {
    Tensor y = Tensor::empty(x.shape());
    const float* in = x.data();
    float* out = y.data();
    for (int64_t i = 0; i < x.numel(); ++i) out[i] = in[i] > 0 ? in[i] : slope_ * in[i];
    x_ = mode == Mode::Train ? x : Tensor();  // Eval keeps nothing
    return y;
  }

  Tensor backward(const Tensor& dy) override {
    check_backward("LeakyReLU", x_, dy);  // refuses a backward without a Train-mode forward, or a wrong shape
    if (!needs_input_grad()) return Tensor();  // the model's first layer: nobody wants dL/dx
    Tensor dx = Tensor::empty(dy.shape());
    const float* in = x_.data();
    const float* grad_out = dy.data();
    float* grad_in = dx.data();
    for (int64_t i = 0; i < dy.numel(); ++i) grad_in[i] = in[i] > 0 ? grad_out[i] : slope_ * grad_out[i];
    return dx;
  }

 private:
  float slope_;
  Tensor x_;  // the input of the last Train-mode forward
};

int main() {
  // The checker compares backward() with central differences of L = sum(forward(x) * r). Inputs are kept
  // at least 0.1 from 0, the kink, where a finite difference would straddle both slopes.
  LeakyReLU act(0.1f);
  Generator gen(3);
  Tensor x = Tensor::empty({2, 3, 4, 4});
  float* values = x.data();
  for (int64_t i = 0; i < x.numel(); ++i) values[i] = (gen.below(2) ? 1.0f : -1.0f) * gen.uniform(0.1f, 2.0f);
  const GradCheckResult check = check_gradients(act, x);
  std::printf("gradient check of %s: %lld gradients compared, %s\n", act.repr().c_str(),
              static_cast<long long>(check.checked), check.ok() ? "all match" : "mismatches:");
  if (!check.ok()) {
    std::printf("%s", check.describe().c_str());
    return 1;
  }

  // In a model the layer is one more object: shapes, summary and training treat it like a built-in one.
  Model model;
  model.add(std::make_unique<Conv2d>(Conv2dOptions(1, 8, 3).padding(1)));
  model.add(std::make_unique<LeakyReLU>(0.1f));
  model.add(std::make_unique<MaxPool2d>(MaxPool2dOptions(2)));
  model.add(std::make_unique<Conv2d>(Conv2dOptions(8, 16, 3).padding(1)));
  model.add(std::make_unique<LeakyReLU>(0.1f));
  model.add(std::make_unique<MaxPool2d>(MaxPool2dOptions(2)));
  model.add(std::make_unique<Flatten>());
  model.add(std::make_unique<Linear>(LinearOptions(-1, 10)));  // in_features inferred, like LazyLinear
  model.build({1, 28, 28}, /*seed=*/1);
  std::printf("%s\n", model.summary({1, 28, 28}).c_str());

  // Stand-in images (ten classes of squares at ten places) keep this example free of data files.
  const ImageDataset train = examples::stand_in_images(2048, 1), test = examples::stand_in_images(512, 2);
  const Normalization normalization = compute_normalization(train);
  LoaderOptions options;
  options.shuffle = true;
  options.seed = 1;
  options.normalization = normalization;
  DataLoader loader(train, options);
  SGD optimizer(model.parameters(), SGDOptions(0.05).momentum(0.9));
  CrossEntropyLoss loss;
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    loader.set_epoch(epoch);
    double loss_sum = 0;
    for (int64_t b = 0; b < loader.num_batches(); ++b) {
      const Batch batch = loader.batch(b);
      optimizer.zero_grad();
      loss_sum += loss.forward(model.forward(batch.images, Mode::Train), batch.labels).loss;
      model.backward(loss.backward());
      optimizer.step();
    }
    std::printf("epoch %lld: mean batch loss %.4f\n", static_cast<long long>(epoch + 1),
                loss_sum / static_cast<double>(loader.num_batches()));
  }
  const EvalResult result = evaluate(model, test, normalization);
  std::printf("test accuracy %.4f on %lld images\n", result.accuracy, static_cast<long long>(result.count));
  return result.accuracy > 0.5 ? 0 : 1;  // ten classes: chance is 0.1
}
