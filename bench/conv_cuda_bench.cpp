// Conv2d on CUDA: minicnn's im2col + cuBLAS path against cuDNN's (impl=cudnn), forward and backward, on the
// convolutions of the presets at their recipes' batch sizes, float32 (TF32 off unless --allow-tf32).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <minicnn/conv2d.h>
#include <minicnn/cuda/context.h>
#include <minicnn/device.h>
#include <minicnn/random.h>

namespace {

using namespace minicnn;

struct Case {
  const char* name;
  Conv2dOptions options;
  Shape x;
};

// The mean time of `reps` calls after `warmup` untimed ones, in milliseconds.
template <typename F>
double time_ms(F&& f, int warmup = 3, int reps = 20) {
  for (int i = 0; i < warmup; ++i) f();
  cuda::synchronize();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) f();
  cuda::synchronize();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / reps;
}

Tensor random_on_gpu(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = gen.uniform(-1, 1);
  return t.to(Device::cuda());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace minicnn;
  if (argc > 1 && std::strcmp(argv[1], "--allow-tf32") == 0) set_allow_tf32(true);
  try {
    require_device(Device::cuda(), "conv_cuda_bench");
    const std::vector<Case> cases = {
        {"mnist-cnn 1->32 28x28 b64", Conv2dOptions(1, 32, 3).padding(1), {64, 1, 28, 28}},
        {"mnist-cnn 32->64 14x14 b64", Conv2dOptions(32, 64, 3).padding(1), {64, 32, 14, 14}},
        {"cifar-cnn 3->32 32x32 b128", Conv2dOptions(3, 32, 3).padding(1), {128, 3, 32, 32}},
        {"cifar-cnn 32->32 32x32 b128", Conv2dOptions(32, 32, 3).padding(1), {128, 32, 32, 32}},
        {"cifar-cnn 64->64 16x16 b128", Conv2dOptions(64, 64, 3).padding(1), {128, 64, 16, 16}},
        {"airbench94 3->24 k2 32x32 b1024", Conv2dOptions(3, 24, 2), {1024, 3, 32, 32}},
        {"airbench94 24->64 31x31 b1024",
         Conv2dOptions(24, 64, 3).padding(1).bias(false),
         {1024, 24, 31, 31}},
        {"airbench94 64->256 15x15 b1024",
         Conv2dOptions(64, 256, 3).padding(1).bias(false),
         {1024, 64, 15, 15}},
        {"airbench94 256->256 7x7 b1024",
         Conv2dOptions(256, 256, 3).padding(1).bias(false),
         {1024, 256, 7, 7}},
        {"airbench94 256->256 3x3 b1024",
         Conv2dOptions(256, 256, 3).padding(1).bias(false),
         {1024, 256, 3, 3}},
    };
    std::printf("conv_cuda_bench: TF32 %s; ms per call (mean of 20)\n", allow_tf32() ? "allowed" : "off");
    std::printf("%-34s %12s %12s %12s %12s\n", "layer", "native fwd", "native bwd", "cudnn fwd", "cudnn bwd");
    uint64_t seed = 1;
    for (const Case& c : cases) {
      double ms[2][2];
      for (int k = 0; k < 2; ++k) {
        Conv2d conv(Conv2dOptions(c.options).impl(k == 0 ? ConvImpl::Native : ConvImpl::Cudnn));
        Generator gen(seed);
        conv.reset_parameters(gen);
        conv.to(Device::cuda());
        const Tensor x = random_on_gpu(c.x, seed + 1);
        const Tensor y = conv.forward(x, Mode::Train);
        const Tensor dy = random_on_gpu(y.shape(), seed + 2);
        ms[k][0] = time_ms([&] { conv.forward(x, Mode::Train); });
        ms[k][1] = time_ms([&] { conv.backward(dy); });
      }
      std::printf("%-34s %12.3f %12.3f %12.3f %12.3f\n", c.name, ms[0][0], ms[0][1], ms[1][0], ms[1][1]);
      seed += 3;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "conv_cuda_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
