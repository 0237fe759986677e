// Google Benchmark micro-benchmarks: each layer's forward and backward on the shapes of the presets, and a
// whole training step (forward, loss, backward, optimizer) of mnist-cnn and lenet5 at batch 64.
// Run: build/bench/layers_bench [--benchmark_filter=...]; set MINICNN_THREADS to choose the thread count.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>

#include <minicnn/batchnorm2d.h>
#include <minicnn/conv2d.h>
#include <minicnn/gemm.h>
#include <minicnn/linear.h>
#include <minicnn/loss.h>
#include <minicnn/optimizer_factory.h>
#include <minicnn/pool2d.h>
#include <minicnn/registry.h>
#include <minicnn/relu.h>
#include <minicnn/runtime.h>

using namespace minicnn;

namespace {

int threads() {
  const char* t = std::getenv("MINICNN_THREADS");
  return t ? std::atoi(t) : 0;
}

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = gen.normal();
  return t;
}

// Runs forward (and backward when `backward`) of `layer` on input `shape`, reporting images/s.
void run_layer(benchmark::State& state, Layer& layer, const Shape& shape, bool backward) {
  set_num_threads(threads());
  layer.materialize(shape);
  Generator gen(1);
  layer.reset_parameters(gen);
  const Tensor x = random_tensor(shape, 2);
  Tensor y = layer.forward(x, Mode::Train);
  const Tensor dy = random_tensor(y.shape(), 3);
  for (auto _ : state) {
    if (backward) {
      benchmark::DoNotOptimize(layer.backward(dy));
    } else {
      benchmark::DoNotOptimize(layer.forward(x, Mode::Train));
    }
  }
  state.SetItemsProcessed(state.iterations() * shape[0]);
}

void conv(benchmark::State& state, Conv2dOptions options, Shape shape, bool backward) {
  Conv2d layer(options);
  run_layer(state, layer, shape, backward);
}

// A 3x3, stride 1, padding 1 convolution with a fused ReLU on input (N, C, H, W) to OC channels through
// one CPU algorithm, forward or backward (dx, dW, db): the A/B of im2col against the two Winograds.
void conv_algorithm(benchmark::State& state, Shape in, int64_t OC, bool backward, cpu::ConvAlgorithm algorithm) {
  set_num_threads(threads());
  const Conv2dGeometry g{in[0], in[1], in[2], in[3], OC, in[2], in[3], 3, 3, 1, 1, 1, 1, 1, 1};
  const Tensor x = random_tensor(in, 1), w = random_tensor({OC, in[1], 3, 3}, 2), b = random_tensor({OC}, 3);
  const Tensor dy = random_tensor({g.N, OC, g.OH, g.OW}, 4);
  Tensor y = Tensor::empty(dy.shape()), dx = Tensor::empty(in), dw = Tensor::zeros(w.shape());
  Tensor db = Tensor::zeros(b.shape());
  cpu::conv2d_forward(x.data(), w.data(), b.data(), y.data(), g, true, algorithm);
  for (auto _ : state) {
    if (backward) {
      cpu::conv2d_backward(x.data(), w.data(), dy.data(), y.data(), dx.data(), dw.data(), db.data(), g, algorithm);
    } else {
      cpu::conv2d_forward(x.data(), w.data(), b.data(), y.data(), g, true, algorithm);
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dx.data());
  }
  state.SetItemsProcessed(state.iterations() * g.N);
}

void maxpool(benchmark::State& state, MaxPool2dOptions options, Shape shape, bool backward) {
  MaxPool2d layer(options);
  run_layer(state, layer, shape, backward);
}

void linear(benchmark::State& state, LinearOptions options, Shape shape, bool backward) {
  Linear layer(options);
  run_layer(state, layer, shape, backward);
}

void batchnorm(benchmark::State& state, BatchNorm2dOptions options, Shape shape, bool backward) {
  BatchNorm2d layer(options);
  run_layer(state, layer, shape, backward);
}

void relu_bench(benchmark::State& state, Shape shape, bool backward) {
  ReLU relu;
  run_layer(state, relu, shape, backward);
}

void train_step(benchmark::State& state, const char* preset) {
  set_num_threads(threads());
  const int64_t batch = 64;
  Model model = parse_model(preset);
  model.build({1, 28, 28}, 1);
  Recipe recipe;
  recipe.optimizer = OptimizerKind::SGD;
  auto opt = make_optimizer(recipe, model);
  CrossEntropyLoss loss;
  const Tensor x = random_tensor({batch, 1, 28, 28}, 4);
  Tensor targets = Tensor::empty({batch}, DType::Int32);
  for (int64_t i = 0; i < batch; ++i) targets.data_i32()[i] = static_cast<int32_t>(i % 10);
  for (auto _ : state) {
    const LossResult r = loss.forward(model.forward(x, Mode::Train), targets);
    opt->zero_grad();
    model.backward(loss.backward());
    opt->step();
    benchmark::DoNotOptimize(r.loss);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void eval_batch(benchmark::State& state, const char* preset) {
  set_num_threads(threads());
  const int64_t batch = 128;
  Model model = parse_model(preset);
  model.build({1, 28, 28}, 1);
  const Tensor x = random_tensor({batch, 1, 28, 28}, 4);
  for (auto _ : state) benchmark::DoNotOptimize(model.forward(x, Mode::Eval));
  state.SetItemsProcessed(state.iterations() * batch);
}

// C (M, N) = A (M, K) op(B) + beta * C through cpu::gemm on the current thread count, with B stored
// (K, N), or (N, K) when `trans_b`; reports GFLOP/s and the GEMM's backend.
void run_gemm(benchmark::State& state, int64_t M, int64_t N, int64_t K, bool trans_b, float beta) {
  const Tensor a = random_tensor({M, K}, 1), b = random_tensor(trans_b ? Shape{N, K} : Shape{K, N}, 2);
  Tensor c = Tensor::zeros({M, N});
  for (auto _ : state) {
    cpu::gemm(false, trans_b, M, N, K, 1.0f, a.data(), K, b.data(), trans_b ? K : N, beta, c.data(), N);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * M * N * K * static_cast<double>(state.iterations()),
                                                 benchmark::Counter::kIsRate);
  state.SetLabel(cpu::gemm_backend());
}

// The machine's practical single-precision peak: cpu::gemm (the build's GEMM) of 1024^3 on the same threads.
void sgemm_1024(benchmark::State& state) {
  set_num_threads(threads());
  run_gemm(state, 1024, 1024, 1024, false, 0.0f);
}

// One thread's GEMM as the convolution calls it per image (always on one thread there): C (M, N) +=
// A (M, K) B^T with B stored (N, K), the weight-gradient product.
void gemm_dw(benchmark::State& state, int64_t M, int64_t N, int64_t K) {
  set_num_threads(1);
  run_gemm(state, M, N, K, true, 1.0f);
}

}  // namespace

BENCHMARK(sgemm_1024)->Unit(benchmark::kMillisecond);
// Conv2d's weight gradient per image as dW (OC, CKK) and as dW^T (CKK, OC): which is faster decides
// Conv2d's layout (conv2d.cpp, transposed_dw).
BENCHMARK_CAPTURE(gemm_dw, mnist_conv1_dw, 32, 9, 784);
BENCHMARK_CAPTURE(gemm_dw, mnist_conv1_dwT, 9, 32, 784);
BENCHMARK_CAPTURE(gemm_dw, mnist_conv2_dw, 64, 288, 196);
BENCHMARK_CAPTURE(gemm_dw, mnist_conv2_dwT, 288, 64, 196);
BENCHMARK_CAPTURE(gemm_dw, lenet_conv1_dw, 6, 25, 784);
BENCHMARK_CAPTURE(gemm_dw, lenet_conv1_dwT, 25, 6, 784);
BENCHMARK_CAPTURE(gemm_dw, lenet_conv2_dw, 16, 150, 100);
BENCHMARK_CAPTURE(gemm_dw, lenet_conv2_dwT, 150, 16, 100);
BENCHMARK_CAPTURE(gemm_dw, cifar_conv2_dw, 32, 288, 1024);
BENCHMARK_CAPTURE(gemm_dw, cifar_conv2_dwT, 288, 32, 1024);

// mnist-cnn's layers at batch 64.
BENCHMARK_CAPTURE(conv, mnist_conv1_fwd, Conv2dOptions(1, 32, 3).padding(1), Shape{64, 1, 28, 28}, false);
BENCHMARK_CAPTURE(conv, mnist_conv1_bwd, Conv2dOptions(1, 32, 3).padding(1), Shape{64, 1, 28, 28}, true);
BENCHMARK_CAPTURE(conv, mnist_conv2_fwd, Conv2dOptions(32, 64, 3).padding(1), Shape{64, 32, 14, 14}, false);
BENCHMARK_CAPTURE(conv, mnist_conv2_bwd, Conv2dOptions(32, 64, 3).padding(1), Shape{64, 32, 14, 14}, true);
BENCHMARK_CAPTURE(conv_algorithm, mnist_conv2_fwd_im2col, Shape{64, 32, 14, 14}, 64, false, cpu::ConvAlgorithm::Im2col);
BENCHMARK_CAPTURE(conv_algorithm, mnist_conv2_fwd_winograd, Shape{64, 32, 14, 14}, 64, false, cpu::ConvAlgorithm::Winograd);
BENCHMARK_CAPTURE(conv_algorithm, mnist_conv2_fwd_onednn, Shape{64, 32, 14, 14}, 64, false,
                  cpu::ConvAlgorithm::OnednnWinograd);
BENCHMARK_CAPTURE(conv_algorithm, mnist_conv2_bwd_im2col, Shape{64, 32, 14, 14}, 64, true, cpu::ConvAlgorithm::Im2col);
BENCHMARK_CAPTURE(conv_algorithm, mnist_conv2_bwd_winograd, Shape{64, 32, 14, 14}, 64, true, cpu::ConvAlgorithm::Winograd);
BENCHMARK_CAPTURE(conv_algorithm, mnist_conv2_bwd_onednn, Shape{64, 32, 14, 14}, 64, true,
                  cpu::ConvAlgorithm::OnednnWinograd);
BENCHMARK_CAPTURE(maxpool, mnist_pool1_fwd, MaxPool2dOptions(2), Shape{64, 32, 28, 28}, false);
BENCHMARK_CAPTURE(maxpool, mnist_pool1_bwd, MaxPool2dOptions(2), Shape{64, 32, 28, 28}, true);
BENCHMARK_CAPTURE(relu_bench, mnist_relu1_fwd, Shape{64, 32, 28, 28}, false);
BENCHMARK_CAPTURE(relu_bench, mnist_relu1_bwd, Shape{64, 32, 28, 28}, true);
BENCHMARK_CAPTURE(linear, mnist_fc1_fwd, LinearOptions(3136, 128), Shape{64, 3136}, false);
BENCHMARK_CAPTURE(linear, mnist_fc1_bwd, LinearOptions(3136, 128), Shape{64, 3136}, true);
// lenet5's convolutions.
BENCHMARK_CAPTURE(conv, lenet_conv1_fwd, Conv2dOptions(1, 6, 5).padding(2), Shape{64, 1, 28, 28}, false);
BENCHMARK_CAPTURE(conv, lenet_conv1_bwd, Conv2dOptions(1, 6, 5).padding(2), Shape{64, 1, 28, 28}, true);
BENCHMARK_CAPTURE(conv, lenet_conv2_fwd, Conv2dOptions(6, 16, 5), Shape{64, 6, 14, 14}, false);
BENCHMARK_CAPTURE(conv, lenet_conv2_bwd, Conv2dOptions(6, 16, 5), Shape{64, 6, 14, 14}, true);
// cifar-cnn's widest convolution and BatchNorm at batch 128.
BENCHMARK_CAPTURE(conv, cifar_conv2_fwd, Conv2dOptions(32, 32, 3).padding(1), Shape{128, 32, 32, 32}, false);
BENCHMARK_CAPTURE(conv, cifar_conv2_bwd, Conv2dOptions(32, 32, 3).padding(1), Shape{128, 32, 32, 32}, true);
BENCHMARK_CAPTURE(conv_algorithm, cifar_conv2_fwd_im2col, Shape{128, 32, 32, 32}, 32, false, cpu::ConvAlgorithm::Im2col);
BENCHMARK_CAPTURE(conv_algorithm, cifar_conv2_fwd_winograd, Shape{128, 32, 32, 32}, 32, false, cpu::ConvAlgorithm::Winograd);
BENCHMARK_CAPTURE(conv_algorithm, cifar_conv2_fwd_onednn, Shape{128, 32, 32, 32}, 32, false,
                  cpu::ConvAlgorithm::OnednnWinograd);
BENCHMARK_CAPTURE(conv_algorithm, cifar_conv2_bwd_im2col, Shape{128, 32, 32, 32}, 32, true, cpu::ConvAlgorithm::Im2col);
BENCHMARK_CAPTURE(conv_algorithm, cifar_conv2_bwd_winograd, Shape{128, 32, 32, 32}, 32, true, cpu::ConvAlgorithm::Winograd);
BENCHMARK_CAPTURE(conv_algorithm, cifar_conv2_bwd_onednn, Shape{128, 32, 32, 32}, 32, true,
                  cpu::ConvAlgorithm::OnednnWinograd);
BENCHMARK_CAPTURE(conv_algorithm, cifar_conv3_fwd_im2col, Shape{128, 32, 16, 16}, 64, false, cpu::ConvAlgorithm::Im2col);
BENCHMARK_CAPTURE(conv_algorithm, cifar_conv3_fwd_winograd, Shape{128, 32, 16, 16}, 64, false, cpu::ConvAlgorithm::Winograd);
BENCHMARK_CAPTURE(conv_algorithm, cifar_conv3_fwd_onednn, Shape{128, 32, 16, 16}, 64, false,
                  cpu::ConvAlgorithm::OnednnWinograd);
BENCHMARK_CAPTURE(conv_algorithm, cifar_conv3_bwd_im2col, Shape{128, 32, 16, 16}, 64, true, cpu::ConvAlgorithm::Im2col);
BENCHMARK_CAPTURE(conv_algorithm, cifar_conv3_bwd_winograd, Shape{128, 32, 16, 16}, 64, true, cpu::ConvAlgorithm::Winograd);
BENCHMARK_CAPTURE(conv_algorithm, cifar_conv3_bwd_onednn, Shape{128, 32, 16, 16}, 64, true,
                  cpu::ConvAlgorithm::OnednnWinograd);
// airbench94's 256-channel layers at batch 256 (the 64->256 one at its 15x15 maps, a 256->256 one at 7x7).
BENCHMARK_CAPTURE(conv_algorithm, airbench_conv3_fwd_winograd, Shape{256, 64, 15, 15}, 256, false,
                  cpu::ConvAlgorithm::Winograd);
BENCHMARK_CAPTURE(conv_algorithm, airbench_conv3_fwd_onednn, Shape{256, 64, 15, 15}, 256, false,
                  cpu::ConvAlgorithm::OnednnWinograd);
BENCHMARK_CAPTURE(conv_algorithm, airbench_conv3_bwd_winograd, Shape{256, 64, 15, 15}, 256, true,
                  cpu::ConvAlgorithm::Winograd);
BENCHMARK_CAPTURE(conv_algorithm, airbench_conv3_bwd_onednn, Shape{256, 64, 15, 15}, 256, true,
                  cpu::ConvAlgorithm::OnednnWinograd);
BENCHMARK_CAPTURE(conv_algorithm, airbench_conv4_fwd_winograd, Shape{256, 256, 7, 7}, 256, false,
                  cpu::ConvAlgorithm::Winograd);
BENCHMARK_CAPTURE(conv_algorithm, airbench_conv4_fwd_onednn, Shape{256, 256, 7, 7}, 256, false,
                  cpu::ConvAlgorithm::OnednnWinograd);
BENCHMARK_CAPTURE(conv_algorithm, airbench_conv4_bwd_winograd, Shape{256, 256, 7, 7}, 256, true,
                  cpu::ConvAlgorithm::Winograd);
BENCHMARK_CAPTURE(conv_algorithm, airbench_conv4_bwd_onednn, Shape{256, 256, 7, 7}, 256, true,
                  cpu::ConvAlgorithm::OnednnWinograd);
BENCHMARK_CAPTURE(batchnorm, cifar_bn_fwd, BatchNorm2dOptions(32), Shape{128, 32, 32, 32}, false);
BENCHMARK_CAPTURE(batchnorm, cifar_bn_bwd, BatchNorm2dOptions(32), Shape{128, 32, 32, 32}, true);
// Whole steps.
BENCHMARK_CAPTURE(train_step, mnist_cnn, "mnist-cnn")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(train_step, lenet5, "lenet5")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(eval_batch, mnist_cnn, "mnist-cnn")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(eval_batch, lenet5, "lenet5")->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
