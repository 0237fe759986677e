// MaxPool2d and AvgPool2d on CUDA: one thread per output (forward) and one per input element (backward,
// a gather: deterministic without atomics), over the shared functions of pool2d_window.h.
#include <cstdint>

#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/elementwise.h"
#include "cuda/grid.h"
#include "pool2d.h"

namespace minicnn::cuda {
namespace {

bool g_force_64bit = false;

// Which specialisation a geometry can use: square 2x2 or 3x3 windows with stride 2 (the layers of classic
// CNNs) or stride 1 (overlapping windows), dilation 1, get unrolled 32-bit loops; everything else takes
// the general path.
enum class Path { General, K2S2, K3S2, K2S1, K3S1 };

Path path_of(const Pool2dGeometry& g) {
  if (g.DH != 1 || g.DW != 1 || g.KH != g.KW || g.SH != g.SW || !pool2d_fits_int32(g)) return Path::General;
  if (g.KH == 2 && g.SH == 2) return Path::K2S2;
  if (g.KH == 3 && g.SH == 2) return Path::K3S2;
  if (g.KH == 2 && g.SH == 1) return Path::K2S1;
  if (g.KH == 3 && g.SH == 1) return Path::K3S1;
  return Path::General;
}

// Flat thread indices are 32-bit when the element count allows and 64-bit otherwise (or when a test
// forces 64-bit indexing).
bool fits_32bit(int64_t total) { return !g_force_64bit && indices_fit_32bit(total); }

// ---- Kernels. I is the flat index type; K, S > 0 select a specialisation (0: general).

template <typename I, int K, int S>
__global__ void max_forward_kernel(const float* __restrict__ x, float* __restrict__ y,
                                   int32_t* __restrict__ indices, Pool2dGeometry g, I total) {
  const I OW = static_cast<I>(g.OW), OH = static_cast<I>(g.OH);
  const int64_t plane_in = g.H * g.W;
  for (I i = thread_index<I>(); i < total; i += grid_stride<I>()) {
    const I ow = i % OW, t = i / OW, oh = t % OH, plane = t / OH;
    const float* xp = x + static_cast<int64_t>(plane) * plane_in;  // (H, W) plane of this output
    float v;
    int64_t at;
    if constexpr (K > 0) {
      at = max_pool2d_at_fixed<K, S>(xp, g, oh, ow, &v);
    } else {
      at = max_pool2d_at(xp, g, oh, ow, &v);
    }
    y[i] = v;
    if (indices != nullptr) indices[i] = static_cast<int32_t>(at);
  }
}

template <typename I, int K, int S>
__global__ void max_backward_kernel(const float* __restrict__ dy, const int32_t* __restrict__ indices,
                                    float* __restrict__ dx, Pool2dGeometry g, I total) {
  const I W = static_cast<I>(g.W), H = static_cast<I>(g.H);
  const int64_t plane_out = g.OH * g.OW;
  for (I i = thread_index<I>(); i < total; i += grid_stride<I>()) {
    const I iw = i % W, t = i / W, ih = t % H, plane = t / H;
    const int64_t off = static_cast<int64_t>(plane) * plane_out;  // this plane's (OH, OW) outputs
    if constexpr (K > 0) {
      dx[i] = max_pool2d_backward_at_fixed<K, S>(dy + off, indices + off, g, ih, iw);
    } else {
      dx[i] = max_pool2d_backward_at(dy + off, indices + off, g, ih, iw);
    }
  }
}

template <typename I, int K, int S>
__global__ void avg_forward_kernel(const float* __restrict__ x, float* __restrict__ y, Pool2dGeometry g,
                                   AvgDivisor d, I total) {
  const I OW = static_cast<I>(g.OW), OH = static_cast<I>(g.OH);
  const int64_t plane_in = g.H * g.W;
  for (I i = thread_index<I>(); i < total; i += grid_stride<I>()) {
    const I ow = i % OW, t = i / OW, oh = t % OH, plane = t / OH;
    const float* xp = x + static_cast<int64_t>(plane) * plane_in;
    if constexpr (K > 0) {
      y[i] = avg_pool2d_at_fixed<K, S>(xp, g, d, oh, ow);
    } else {
      y[i] = avg_pool2d_at(xp, g, d, oh, ow);
    }
  }
}

template <typename I, int K, int S>
__global__ void avg_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, Pool2dGeometry g,
                                    AvgDivisor d, I total) {
  const I W = static_cast<I>(g.W), H = static_cast<I>(g.H);
  const int64_t plane_out = g.OH * g.OW;
  for (I i = thread_index<I>(); i < total; i += grid_stride<I>()) {
    const I iw = i % W, t = i / W, ih = t % H, plane = t / H;
    const int64_t off = static_cast<int64_t>(plane) * plane_out;
    if constexpr (K > 0) {
      dx[i] = avg_pool2d_backward_at_fixed<K, S>(dy + off, g, d, ih, iw);
    } else {
      dx[i] = avg_pool2d_backward_at(dy + off, g, d, ih, iw);
    }
  }
}

// ---- Launchers: pick the index width and the specialisation, launch on the current stream.

template <typename I>
void launch_max_forward(const float* x, float* y, int32_t* indices, const Pool2dGeometry& g, int64_t total) {
  const unsigned blocks = blocks_for(total);
  CUstream_st* s = current_stream();
  switch (path_of(g)) {
    case Path::K2S2:
      max_forward_kernel<I, 2, 2><<<blocks, kThreads, 0, s>>>(x, y, indices, g, static_cast<I>(total));
      break;
    case Path::K3S2:
      max_forward_kernel<I, 3, 2><<<blocks, kThreads, 0, s>>>(x, y, indices, g, static_cast<I>(total));
      break;
    case Path::K2S1:
      max_forward_kernel<I, 2, 1><<<blocks, kThreads, 0, s>>>(x, y, indices, g, static_cast<I>(total));
      break;
    case Path::K3S1:
      max_forward_kernel<I, 3, 1><<<blocks, kThreads, 0, s>>>(x, y, indices, g, static_cast<I>(total));
      break;
    case Path::General:
      max_forward_kernel<I, 0, 0><<<blocks, kThreads, 0, s>>>(x, y, indices, g, static_cast<I>(total));
      break;
  }
  MINICNN_CUDA_CHECK_LAUNCH("max_pool2d_forward");
}

template <typename I>
void launch_max_backward(const float* dy, const int32_t* indices, float* dx, const Pool2dGeometry& g,
                         int64_t total) {
  const unsigned blocks = blocks_for(total);
  CUstream_st* s = current_stream();
  switch (path_of(g)) {
    case Path::K2S2:
      max_backward_kernel<I, 2, 2><<<blocks, kThreads, 0, s>>>(dy, indices, dx, g, static_cast<I>(total));
      break;
    case Path::K3S2:
      max_backward_kernel<I, 3, 2><<<blocks, kThreads, 0, s>>>(dy, indices, dx, g, static_cast<I>(total));
      break;
    case Path::K2S1:
      max_backward_kernel<I, 2, 1><<<blocks, kThreads, 0, s>>>(dy, indices, dx, g, static_cast<I>(total));
      break;
    case Path::K3S1:
      max_backward_kernel<I, 3, 1><<<blocks, kThreads, 0, s>>>(dy, indices, dx, g, static_cast<I>(total));
      break;
    case Path::General:
      max_backward_kernel<I, 0, 0><<<blocks, kThreads, 0, s>>>(dy, indices, dx, g, static_cast<I>(total));
      break;
  }
  MINICNN_CUDA_CHECK_LAUNCH("max_pool2d_backward");
}

template <typename I>
void launch_avg_forward(const float* x, float* y, const Pool2dGeometry& g, AvgDivisor d, int64_t total) {
  const unsigned blocks = blocks_for(total);
  CUstream_st* s = current_stream();
  switch (path_of(g)) {
    case Path::K2S2:
      avg_forward_kernel<I, 2, 2><<<blocks, kThreads, 0, s>>>(x, y, g, d, static_cast<I>(total));
      break;
    case Path::K3S2:
      avg_forward_kernel<I, 3, 2><<<blocks, kThreads, 0, s>>>(x, y, g, d, static_cast<I>(total));
      break;
    case Path::K2S1:
      avg_forward_kernel<I, 2, 1><<<blocks, kThreads, 0, s>>>(x, y, g, d, static_cast<I>(total));
      break;
    case Path::K3S1:
      avg_forward_kernel<I, 3, 1><<<blocks, kThreads, 0, s>>>(x, y, g, d, static_cast<I>(total));
      break;
    case Path::General:
      avg_forward_kernel<I, 0, 0><<<blocks, kThreads, 0, s>>>(x, y, g, d, static_cast<I>(total));
      break;
  }
  MINICNN_CUDA_CHECK_LAUNCH("avg_pool2d_forward");
}

template <typename I>
void launch_avg_backward(const float* dy, float* dx, const Pool2dGeometry& g, AvgDivisor d, int64_t total) {
  const unsigned blocks = blocks_for(total);
  CUstream_st* s = current_stream();
  switch (path_of(g)) {
    case Path::K2S2:
      avg_backward_kernel<I, 2, 2><<<blocks, kThreads, 0, s>>>(dy, dx, g, d, static_cast<I>(total));
      break;
    case Path::K3S2:
      avg_backward_kernel<I, 3, 2><<<blocks, kThreads, 0, s>>>(dy, dx, g, d, static_cast<I>(total));
      break;
    case Path::K2S1:
      avg_backward_kernel<I, 2, 1><<<blocks, kThreads, 0, s>>>(dy, dx, g, d, static_cast<I>(total));
      break;
    case Path::K3S1:
      avg_backward_kernel<I, 3, 1><<<blocks, kThreads, 0, s>>>(dy, dx, g, d, static_cast<I>(total));
      break;
    case Path::General:
      avg_backward_kernel<I, 0, 0><<<blocks, kThreads, 0, s>>>(dy, dx, g, d, static_cast<I>(total));
      break;
  }
  MINICNN_CUDA_CHECK_LAUNCH("avg_pool2d_backward");
}

}  // namespace

void max_pool2d_forward(const float* x, float* y, int32_t* indices, const Pool2dGeometry& g) {
  const int64_t total = g.N * g.C * g.OH * g.OW;
  if (total == 0) return;
  if (fits_32bit(total)) {
    launch_max_forward<uint32_t>(x, y, indices, g, total);
  } else {
    launch_max_forward<uint64_t>(x, y, indices, g, total);
  }
}

void max_pool2d_backward(const float* dy, const int32_t* indices, float* dx, const Pool2dGeometry& g) {
  const int64_t total = g.N * g.C * g.H * g.W;
  if (total == 0) return;
  if (fits_32bit(total)) {
    launch_max_backward<uint32_t>(dy, indices, dx, g, total);
  } else {
    launch_max_backward<uint64_t>(dy, indices, dx, g, total);
  }
}

void avg_pool2d_forward(const float* x, float* y, const Pool2dGeometry& g, AvgDivisor d) {
  const int64_t total = g.N * g.C * g.OH * g.OW;
  if (total == 0) return;
  if (fits_32bit(total)) {
    launch_avg_forward<uint32_t>(x, y, g, d, total);
  } else {
    launch_avg_forward<uint64_t>(x, y, g, d, total);
  }
}

void avg_pool2d_backward(const float* dy, float* dx, const Pool2dGeometry& g, AvgDivisor d) {
  const int64_t total = g.N * g.C * g.H * g.W;
  if (total == 0) return;
  if (fits_32bit(total)) {
    launch_avg_backward<uint32_t>(dy, dx, g, d, total);
  } else {
    launch_avg_backward<uint64_t>(dy, dx, g, d, total);
  }
}

void force_64bit_indexing_for_testing(bool on) {
  g_force_64bit = on;
}

}  // namespace minicnn::cuda
