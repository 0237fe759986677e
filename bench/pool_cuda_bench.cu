// Pooling on the GPU: minicnn's CUDA kernels against cuDNN's, timed with CUDA events after a warm-up, as
// time per call and effective bandwidth against the device-to-device copy rate measured in the same run.
// bench/pool_torch_cuda.py prints the same table for PyTorch.
//
// Usage: pool_cuda_bench [--mode max|avg] [--iters N]
//
// Effective bandwidth = (bytes read + bytes written) / time, counting what each implementation must
// move: minicnn max forward reads x and writes y and its int32 indices; its backward reads dy and the
// indices and writes dx; cuDNN keeps no indices, so its max forward reads x and writes y, and its max
// backward reads x, y and dy and writes dx; average pooling reads x (dy) and writes y (dx). Input buffers
// rotate over enough copies that the small cases do not sit in L2.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <minicnn/check.h>
#include <minicnn/cuda/check.h>
#include <minicnn/device.h>
#include <minicnn/pool2d.h>

namespace {

using minicnn::AvgDivisor;
using minicnn::IntPair;
using minicnn::Pool2dGeometry;

struct Case {
  int64_t N, C, H, W, K, S, P;
};

// The cases of DESIGN section 7.
const Case kCases[] = {{64, 32, 28, 28, 2, 2, 0},
                       {64, 32, 28, 28, 3, 2, 1},
                       {256, 64, 56, 56, 3, 2, 1},
                       {128, 128, 112, 112, 2, 2, 0},
                       {256, 256, 32, 32, 2, 1, 0}};

struct Buffers {  // one rotation set
  float *x = nullptr, *y = nullptr, *dy = nullptr, *dx = nullptr;
  int32_t* idx = nullptr;
};

float* alloc_floats(int64_t n) {
  void* p = nullptr;
  MINICNN_CUDA_CHECK(cudaMalloc(&p, static_cast<size_t>(n) * 4));
  return static_cast<float*>(p);
}

void fill_random(float* d, int64_t n, unsigned seed) {
  std::vector<float> h(static_cast<size_t>(n));
  unsigned s = seed * 2654435761u + 1;
  for (auto& v : h) {
    s = s * 1664525u + 1013904223u;
    v = static_cast<float>(s >> 8) / 16777216.0f - 0.5f;
  }
  MINICNN_CUDA_CHECK(cudaMemcpy(d, h.data(), h.size() * 4, cudaMemcpyHostToDevice));
}

// Mean milliseconds per call of `f(set)` over `iters` calls after a warm-up, rotating the sets.
template <typename F>
double time_ms(F&& f, int sets, int iters) {
  for (int i = 0; i < std::max(3, sets); ++i) f(i % sets);
  cudaEvent_t start, stop;
  MINICNN_CUDA_CHECK(cudaEventCreate(&start));
  MINICNN_CUDA_CHECK(cudaEventCreate(&stop));
  MINICNN_CUDA_CHECK(cudaEventRecord(start, nullptr));
  for (int i = 0; i < iters; ++i) f(i % sets);
  MINICNN_CUDA_CHECK(cudaEventRecord(stop, nullptr));
  MINICNN_CUDA_CHECK(cudaEventSynchronize(stop));
  float ms = 0.0f;
  MINICNN_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return static_cast<double>(ms) / iters;
}

double copy_rate_gbs() {
  const size_t bytes = size_t{1} << 30;
  void *a = nullptr, *b = nullptr;
  MINICNN_CUDA_CHECK(cudaMalloc(&a, bytes));
  MINICNN_CUDA_CHECK(cudaMalloc(&b, bytes));
  MINICNN_CUDA_CHECK(cudaMemset(a, 1, bytes));
  const double ms = time_ms(
      [&](int) { MINICNN_CUDA_CHECK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, nullptr)); }, 1,
      10);
  cudaFree(a);
  cudaFree(b);
  return 2.0 * static_cast<double>(bytes) / (ms * 1e6);
}

void print_row(const char* impl, const char* pass, const Case& c, double ms, double bytes, double copy_gbs) {
  const double gbs = bytes / (ms * 1e6);
  char shape[64];
  std::snprintf(shape, sizeof shape, "%ldx%ldx%ldx%ld", static_cast<long>(c.N), static_cast<long>(c.C),
                static_cast<long>(c.H), static_cast<long>(c.W));
  std::printf("%-8s %-4s %-18s %2ld %2ld %2ld %11.1f %9.1f %6.1f\n", impl, pass, shape,
              static_cast<long>(c.K), static_cast<long>(c.S), static_cast<long>(c.P), ms * 1e3, gbs,
              100.0 * gbs / copy_gbs);
  std::fflush(stdout);
}

int run(bool max_mode, int iters) {
  if (minicnn::cuda_device_count() == 0) {
    try {
      minicnn::require_device(minicnn::Device::cuda(0), "pool_cuda_bench");
    } catch (const minicnn::Error& e) {
      std::fprintf(stderr, "%s\n", e.what());
    }
    return 1;
  }
  cudaDeviceProp prop{};
  MINICNN_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  const double l2 = static_cast<double>(prop.l2CacheSize);
  const double copy_gbs = copy_rate_gbs();
  std::printf("# device: %s, %d SMs, L2 %.0f MiB; mode %s; minicnn and cuDNN (%s)\n", prop.name,
              prop.multiProcessorCount, l2 / (1 << 20), max_mode ? "max" : "avg",
              minicnn::cudnn_built() ? "built" : "not built");
  std::printf("# d2d copy: %.1f GB/s (bytes read + written, 1 GiB buffer)\n", copy_gbs);
  std::printf("%-8s %-4s %-18s %2s %2s %2s %11s %9s %6s\n", "impl", "pass", "shape", "k", "s", "p", "time_us",
              "GB/s", "%copy");
  for (const Case& c : kCases) {
    const Pool2dGeometry g = minicnn::pool2d_geometry(
        max_mode ? "MaxPool2d" : "AvgPool2d", minicnn::Shape{c.N, c.C, c.H, c.W},
        minicnn::Pool2dArgs{IntPair(c.K), IntPair(c.S), IntPair(c.P), IntPair(1), false});
    const int64_t in = g.N * g.C * g.H * g.W, out = g.N * g.C * g.OH * g.OW;
    const int sets = static_cast<int>(std::clamp(3.0 * l2 / (4.0 * (in + out)) + 1.0, 1.0, 16.0));
    std::vector<Buffers> b(static_cast<size_t>(sets));
    for (int i = 0; i < sets; ++i) {
      b[i].x = alloc_floats(in);
      b[i].y = alloc_floats(out);
      b[i].dy = alloc_floats(out);
      b[i].dx = alloc_floats(in);
      b[i].idx = reinterpret_cast<int32_t*>(alloc_floats(out));
      fill_random(b[i].x, in, static_cast<unsigned>(i));
      fill_random(b[i].dy, out, static_cast<unsigned>(i + 100));
    }
    const double fin = 4.0 * static_cast<double>(in), fout = 4.0 * static_cast<double>(out);
    const AvgDivisor div{true, 0};
    if (max_mode) {
      double ms = time_ms([&](int s) { minicnn::cuda::max_pool2d_forward(b[s].x, b[s].y, b[s].idx, g); },
                          sets, iters);
      print_row("minicnn", "fwd", c, ms, fin + 2 * fout, copy_gbs);
      ms = time_ms([&](int s) { minicnn::cuda::max_pool2d_backward(b[s].dy, b[s].idx, b[s].dx, g); }, sets,
                   iters);
      print_row("minicnn", "bwd", c, ms, 2 * fout + fin, copy_gbs);
#if MINICNN_CUDNN
      ms = time_ms([&](int s) { minicnn::cudnn::max_pool2d_forward(b[s].x, b[s].y, g); }, sets, iters);
      print_row("cudnn", "fwd", c, ms, fin + fout, copy_gbs);
      ms = time_ms([&](int s) { minicnn::cudnn::max_pool2d_backward(b[s].x, b[s].y, b[s].dy, b[s].dx, g); },
                   sets, iters);
      print_row("cudnn", "bwd", c, ms, 2 * fin + 2 * fout, copy_gbs);
#endif
    } else {
      double ms =
          time_ms([&](int s) { minicnn::cuda::avg_pool2d_forward(b[s].x, b[s].y, g, div); }, sets, iters);
      print_row("minicnn", "fwd", c, ms, fin + fout, copy_gbs);
      ms = time_ms([&](int s) { minicnn::cuda::avg_pool2d_backward(b[s].dy, b[s].dx, g, div); }, sets, iters);
      print_row("minicnn", "bwd", c, ms, fout + fin, copy_gbs);
#if MINICNN_CUDNN
      ms = time_ms([&](int s) { minicnn::cudnn::avg_pool2d_forward(b[s].x, b[s].y, g, div); }, sets, iters);
      print_row("cudnn", "fwd", c, ms, fin + fout, copy_gbs);
      ms = time_ms(
          [&](int s) { minicnn::cudnn::avg_pool2d_backward(b[s].x, b[s].y, b[s].dy, b[s].dx, g, div); }, sets,
          iters);
      print_row("cudnn", "bwd", c, ms, fout + fin, copy_gbs);
#endif
    }
    for (Buffers& s : b) {
      cudaFree(s.x);
      cudaFree(s.y);
      cudaFree(s.dy);
      cudaFree(s.dx);
      cudaFree(s.idx);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool max_mode = true;
  int iters = 50;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--mode" && i + 1 < argc) {
      const std::string m = argv[++i];
      if (m != "max" && m != "avg") {
        std::fprintf(stderr, "pool_cuda_bench: --mode expects max or avg, but got '%s'\n", m.c_str());
        return 2;
      }
      max_mode = m == "max";
    } else if (a == "--iters" && i + 1 < argc) {
      iters = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: pool_cuda_bench [--mode max|avg] [--iters N]\n");
      return 2;
    }
  }
  try {
    return run(max_mode, iters);
  } catch (const minicnn::Error& e) {
    std::fprintf(stderr, "pool_cuda_bench: %s\n", e.what());
    return 1;
  }
}
