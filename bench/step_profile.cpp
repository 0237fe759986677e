// Where a training step of a preset spends its time: each layer's forward and backward (median over steps),
// the convolutions' arithmetic rate, and the CPU GEMM's rate on the same threads as the practical peak.
// Run: build/bench/step_profile [preset] [batch] [steps]   (default airbench94 1024 5; MINICNN_THREADS picks
// the threads). Inputs are random; the model is built and initialised as the trainer does, on the CPU.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <minicnn/conv2d.h>
#include <minicnn/gemm.h>
#include <minicnn/loss.h>
#include <minicnn/registry.h>
#include <minicnn/runtime.h>

using namespace minicnn;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Multiply-adds of a convolution's forward for one image, counted as a direct convolution's.
double conv_macs(const Layer& layer, const Shape& out) {
  const auto* conv = dynamic_cast<const Conv2d*>(&layer);
  if (!conv) return 0;
  const Conv2dOptions& o = conv->options();
  return static_cast<double>(out[1] * out[2] * out[3]) * static_cast<double>(o.in_channels_) *
         static_cast<double>(o.kernel_size_.h * o.kernel_size_.w);
}

double gemm_gflops() {
  const int64_t n = 1024;
  std::vector<float> a(static_cast<size_t>(n * n), 0.5f), b(a), c(a);
  cpu::gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  std::vector<double> t;
  for (int r = 0; r < 5; ++r) {
    const auto start = Clock::now();
    cpu::gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    t.push_back(seconds_since(start));
  }
  return 2.0 * static_cast<double>(n * n * n) / median(t) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string name = argc > 1 ? argv[1] : "airbench94";
  const int64_t batch = argc > 2 ? std::atoll(argv[2]) : 1024;
  const int steps = argc > 3 ? std::atoi(argv[3]) : 5;
  const char* threads = std::getenv("MINICNN_THREADS");
  set_num_threads(threads ? std::atoi(threads) : 0);
  const FlushDenormals flush;
  const Preset* preset = find_preset(name);
  if (!preset) {
    std::fprintf(stderr, "step_profile: '%s' is not a preset\n", name.c_str());
    return 2;
  }
  Model model = parse_model(preset->spec);
  model.build(preset->input_chw, 1);
  Generator gen(2);
  Tensor x = Tensor::empty({batch, preset->input_chw[0], preset->input_chw[1], preset->input_chw[2]});
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = gen.normal();
  Tensor y = Tensor::empty({batch}, DType::Int32);
  for (int64_t i = 0; i < batch; ++i) y.data_i32()[i] = static_cast<int32_t>(gen.below(10));
  CrossEntropyLoss loss;
  const size_t L = model.size();
  std::vector<std::vector<double>> fwd(L), bwd(L);
  std::vector<double> step_times;
  std::vector<Shape> out_shapes(L);
  for (int s = 0; s < steps + 1; ++s) {  // the first step warms caches and the allocator; it is not counted
    const auto step_start = Clock::now();
    Tensor h = x;
    for (size_t i = 0; i < L; ++i) {
      const auto t = Clock::now();
      h = model.layer(i).forward(h, Mode::Train);
      if (s > 0) fwd[i].push_back(seconds_since(t));
      out_shapes[i] = h.shape();
    }
    loss.forward(h, y);
    for (Parameter* p : model.parameters()) p->grad.zero_();
    Tensor g = loss.backward();
    for (size_t i = L; i-- > 0;) {
      const auto t = Clock::now();
      g = model.layer(i).backward(g);
      if (s > 0) bwd[i].push_back(seconds_since(t));
    }
    if (s > 0) step_times.push_back(seconds_since(step_start));
  }
  const double peak = gemm_gflops();
  const double step = median(step_times);
  std::printf("%s, batch %lld, %d threads: step %.3f s (%.0f images/s); CPU GEMM 1024^3 %.0f GFLOP/s\n",
              name.c_str(), static_cast<long long>(batch), num_threads(), step,
              static_cast<double>(batch) / step, peak);
  std::printf("%-4s %-12s %-20s %10s %10s %8s %14s\n", "#", "layer", "output", "fwd ms", "bwd ms", "share",
              "conv GFLOP/s");
  double total = 0;
  for (size_t i = 0; i < L; ++i) total += median(fwd[i]) + median(bwd[i]);
  for (size_t i = 0; i < L; ++i) {
    const double f = median(fwd[i]), b = median(bwd[i]);
    const double macs = conv_macs(model.layer(i), out_shapes[i]) * static_cast<double>(batch);
    // Forward, weight gradient and input gradient: 3 products of the forward's size (2 FLOPs each).
    const std::string rate = macs > 0 ? std::to_string(static_cast<int>(2 * 3 * macs / (f + b) / 1e9)) : "";
    std::printf("%-4zu %-12s %-20s %10.1f %10.1f %7.1f%% %14s\n", i, model.layer(i).type_name().c_str(),
                out_shapes[i].str().c_str(), f * 1e3, b * 1e3, 100 * (f + b) / total, rate.c_str());
  }
  std::printf("layers %.3f s of the step's %.3f s (the rest: loss, gradient zeroing)\n", total, step);
  return 0;
}
