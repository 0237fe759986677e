// CPU pooling benchmark: MaxPool2d/AvgPool2d forward and backward through the layer API, and a plain
// two-thread copy of a buffer the size of the input (timed in turns with the max forward), one JSON line per
// measurement (bench/pool_vs_torch.py runs it beside PyTorch and prints the table).
//
// Usage: pool_cpu_bench [--threads N] [--min-seconds S] [N,C,H,W:K:S:P ...]
#include <omp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <minicnn/check.h>
#include <minicnn/pool2d.h>
#include <minicnn/random.h>
#include <minicnn/runtime.h>

using namespace minicnn;

namespace {

struct Case {
  int64_t N, C, H, W, K, S, P;
};

// Median milliseconds of each of `fs` over rounds lasting at least `min_seconds` in all, after 3 warm-up
// rounds; a round calls every function once, in turn, so that functions measured together see the same
// state of the machine (its memory bandwidth moves by up to 2x within seconds).
template <typename... F>
std::array<double, sizeof...(F)> median_ms(double min_seconds, F&&... fs) {
  for (int i = 0; i < 3; ++i) (fs(), ...);
  std::array<std::vector<double>, sizeof...(F)> times;
  auto time = [](auto& f, std::vector<double>& out) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    out.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  };
  const auto start = std::chrono::steady_clock::now();
  while (times[0].size() < 7 ||
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < min_seconds) {
    size_t k = 0;
    (time(fs, times[k++]), ...);
  }
  std::array<double, sizeof...(F)> medians{};
  for (size_t k = 0; k < times.size(); ++k) {
    std::nth_element(times[k].begin(), times[k].begin() + times[k].size() / 2, times[k].end());
    medians[k] = times[k][times[k].size() / 2];
  }
  return medians;
}

void report(const Case& c, const char* op, double ms, double bytes) {
  std::printf("{\"shape\": [%lld, %lld, %lld, %lld], \"k\": %lld, \"s\": %lld, \"p\": %lld, \"op\": \"%s\", "
              "\"ms\": %.5f, \"bytes\": %.0f}\n",
              static_cast<long long>(c.N), static_cast<long long>(c.C), static_cast<long long>(c.H),
              static_cast<long long>(c.W), static_cast<long long>(c.K), static_cast<long long>(c.S),
              static_cast<long long>(c.P), op, ms, bytes);
  std::fflush(stdout);
}

void run(const Case& c, double min_seconds) {
  Generator gen(1);
  Tensor x = Tensor::empty({c.N, c.C, c.H, c.W});
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = gen.normal();
  const double in_bytes = static_cast<double>(x.nbytes());

  MaxPool2d max(MaxPool2dOptions(c.K).stride(c.S).padding(c.P));
  Tensor y = max.forward(x, Mode::Train);
  const double out_bytes = static_cast<double>(y.nbytes());
  Tensor dy = Tensor::empty(y.shape());
  for (int64_t i = 0; i < dy.numel(); ++i) dy.data()[i] = gen.normal();
  // A plain copy of a buffer the size of the input, split over the same threads.
  Tensor dst = Tensor::empty(x.shape());
  const char* src = static_cast<const char*>(x.raw_data());
  char* out = static_cast<char*>(dst.raw_data());
  const size_t n = x.nbytes();
  auto copy = [&] {
#pragma omp parallel
    {
      const size_t t = static_cast<size_t>(omp_get_thread_num()),
                   T = static_cast<size_t>(omp_get_num_threads());
      const size_t chunk = (n / T + 63) / 64 * 64, b = std::min(n, t * chunk), e = std::min(n, b + chunk);
      std::memcpy(out + b, src + b, e - b);
    }
  };
  // Max forward reads x, writes y and int32 indices; it and the copy it is compared with take turns.
  const auto [max_fwd_ms, copy_ms] = median_ms(
      min_seconds, [&] { max.forward(x, Mode::Train); }, copy);
  report(c, "max_fwd", max_fwd_ms, in_bytes + 2 * out_bytes);
  // Backward reads dy and indices, writes dx.
  report(c, "max_bwd", median_ms(min_seconds, [&] { max.backward(dy); })[0], 2 * out_bytes + in_bytes);

  AvgPool2d avg(AvgPool2dOptions(c.K).stride(c.S).padding(c.P));
  avg.forward(x, Mode::Train);
  report(c, "avg_fwd", median_ms(min_seconds, [&] { avg.forward(x, Mode::Train); })[0], in_bytes + out_bytes);
  report(c, "avg_bwd", median_ms(min_seconds, [&] { avg.backward(dy); })[0], out_bytes + in_bytes);
  report(c, "copy", copy_ms, 2 * in_bytes);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  double min_seconds = 0.5;
  std::vector<Case> cases;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      threads = std::stoi(argv[++i]);
    } else if (a == "--min-seconds" && i + 1 < argc) {
      min_seconds = std::stod(argv[++i]);
    } else {
      Case c{};
      if (std::sscanf(a.c_str(), "%ld,%ld,%ld,%ld:%ld:%ld:%ld", &c.N, &c.C, &c.H, &c.W, &c.K, &c.S, &c.P) != 7) {
        std::fprintf(stderr, "pool_cpu_bench: expected N,C,H,W:K:S:P, but got '%s'\n", a.c_str());
        return 2;
      }
      cases.push_back(c);
    }
  }
  if (cases.empty()) {
    cases = {{64, 32, 28, 28, 2, 2, 0}, {64, 32, 28, 28, 3, 2, 1}, {64, 32, 28, 28, 2, 1, 0},
             {32, 64, 56, 56, 3, 2, 1}, {128, 16, 32, 32, 2, 2, 0}, {8, 64, 112, 112, 3, 2, 1}};
  }
  try {
    set_num_threads(threads);
    for (const Case& c : cases) run(c, min_seconds);
  } catch (const Error& e) {
    std::fprintf(stderr, "pool_cpu_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
