// MaxPool2d and AvgPool2d on CUDA: threads over outputs (forward) and over input elements (backward, a
// gather: deterministic without atomics), over the shared rules of pool2d_window.h and their fixed-size
// fast paths (pool2d_cuda_fixed.h).
#include <cstdint>

#include <minicnn/cuda/check.h>
#include <minicnn/cuda/context.h>
#include <minicnn/cuda/elementwise.h>
#include <minicnn/cuda/grid.h>
#include <minicnn/pool2d.h>
#include "pool2d_cuda_fixed.h"
#include <minicnn/pool2d_window.h>

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

// Flat thread indices are 32-bit when the group count allows and 64-bit otherwise (or when a test forces
// 64-bit indexing).
bool fits_32bit(int64_t total) {
  return !g_force_64bit && indices_fit_32bit(total);
}

// ---- Kernels. I is the flat index type; K, S > 0 select a specialisation (0: general). On the fixed
// paths a thread handles V consecutive elements of one row (outputs forward, inputs backward) and stores
// them as one vector: a thread with one 4-byte element keeps too few loads in flight to cover the memory
// latency, and the flat index's divisions are paid once per V elements.

template <int V>
struct alignas(4 * V) FloatVec {
  float v[V];
};
template <int V>
struct alignas(4 * V) IndexVec {
  int32_t v[V];
};

template <typename I, int K, int S, int V>
__global__ void max_forward_kernel(const float* __restrict__ x, float* __restrict__ y,
                                   int32_t* __restrict__ indices, Pool2dGeometry g, I groups) {
  const I OWV = static_cast<I>(g.OW / V), OH = static_cast<I>(g.OH);
  const int64_t plane_in = g.H * g.W;
  for (I i = thread_index<I>(); i < groups; i += grid_stride<I>()) {
    const I ow0 = i % OWV * V, t = i / OWV, oh = t % OH, plane = t / OH;
    const float* xp = x + static_cast<int64_t>(plane) * plane_in;  // (H, W) plane of these outputs
    FloatVec<V> v;
    IndexVec<V> at;
    if constexpr (K > 0 && V == 4) {
      max_pool2d_group4_fixed<K, S>(xp, g, oh, ow0, v.v, at.v);
    } else {
#pragma unroll
      for (int j = 0; j < V; ++j) {
        int64_t a;
        if constexpr (K > 0) {
          a = max_pool2d_at_fixed<K, S>(xp, g, oh, ow0 + j, &v.v[j]);
        } else {
          a = max_pool2d_at(xp, g, oh, ow0 + j, &v.v[j]);
        }
        at.v[j] = static_cast<int32_t>(a);
      }
    }
    reinterpret_cast<FloatVec<V>*>(y)[i] = v;
    if (indices != nullptr) reinterpret_cast<IndexVec<V>*>(indices)[i] = at;
  }
}

template <typename I, int K, int S, int V>
__global__ void max_backward_kernel(const float* __restrict__ dy, const int32_t* __restrict__ indices,
                                    float* __restrict__ dx, Pool2dGeometry g, I groups) {
  const I WV = static_cast<I>(g.W / V), H = static_cast<I>(g.H);
  const int64_t plane_out = g.OH * g.OW;
  for (I i = thread_index<I>(); i < groups; i += grid_stride<I>()) {
    const I iw0 = i % WV * V, t = i / WV, ih = t % H, plane = t / H;
    const int64_t off = static_cast<int64_t>(plane) * plane_out;  // this plane's (OH, OW) outputs
    FloatVec<V> d;
    if constexpr (K > 0 && V == 4) {
      max_pool2d_backward_group4_fixed<K, S>(dy + off, indices + off, g, ih, iw0, d.v);
    } else {
#pragma unroll
      for (int j = 0; j < V; ++j) {
        if constexpr (K > 0) {
          d.v[j] = max_pool2d_backward_at_fixed<K, S>(dy + off, indices + off, g, ih, iw0 + j);
        } else {
          d.v[j] = max_pool2d_backward_at(dy + off, indices + off, g, ih, iw0 + j);
        }
      }
    }
    reinterpret_cast<FloatVec<V>*>(dx)[i] = d;
  }
}

template <typename I, int K, int S, int V>
__global__ void avg_forward_kernel(const float* __restrict__ x, float* __restrict__ y, Pool2dGeometry g,
                                   AvgDivisor div, I groups) {
  const I OWV = static_cast<I>(g.OW / V), OH = static_cast<I>(g.OH);
  const int64_t plane_in = g.H * g.W;
  for (I i = thread_index<I>(); i < groups; i += grid_stride<I>()) {
    const I ow0 = i % OWV * V, t = i / OWV, oh = t % OH, plane = t / OH;
    const float* xp = x + static_cast<int64_t>(plane) * plane_in;
    FloatVec<V> v;
    if constexpr (K > 0 && V == 4) {
      avg_pool2d_group4_fixed<K, S>(xp, g, div, oh, ow0, v.v);
    } else {
#pragma unroll
      for (int j = 0; j < V; ++j) {
        if constexpr (K > 0) {
          v.v[j] = avg_pool2d_at_fixed<K, S>(xp, g, div, oh, ow0 + j);
        } else {
          v.v[j] = avg_pool2d_at(xp, g, div, oh, ow0 + j);
        }
      }
    }
    reinterpret_cast<FloatVec<V>*>(y)[i] = v;
  }
}

template <typename I, int K, int S, int V>
__global__ void avg_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, Pool2dGeometry g,
                                    AvgDivisor div, I groups) {
  const I WV = static_cast<I>(g.W / V), H = static_cast<I>(g.H);
  const int64_t plane_out = g.OH * g.OW;
  for (I i = thread_index<I>(); i < groups; i += grid_stride<I>()) {
    const I iw0 = i % WV * V, t = i / WV, ih = t % H, plane = t / H;
    const int64_t off = static_cast<int64_t>(plane) * plane_out;
    FloatVec<V> d;
    if constexpr (K > 0 && V == 4) {
      avg_pool2d_backward_group4_fixed<K, S>(dy + off, g, div, ih, iw0, d.v);
    } else {
#pragma unroll
      for (int j = 0; j < V; ++j) {
        if constexpr (K > 0) {
          d.v[j] = avg_pool2d_backward_at_fixed<K, S>(dy + off, g, div, ih, iw0 + j);
        } else {
          d.v[j] = avg_pool2d_backward_at(dy + off, g, div, ih, iw0 + j);
        }
      }
    }
    reinterpret_cast<FloatVec<V>*>(dx)[i] = d;
  }
}

// ---- Dispatch: the specialisation and the vector width as compile-time constants of one tag type.

template <int K, int S, int V>
struct Variant {
  static constexpr int kK = K, kS = S, kV = V;
};

bool aligned16(const void* p) {
  return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// Calls launch(Variant<K, S, V>{}) for g's path; V is 4 when `row` (the length of the rows a thread's
// elements lie in) is a multiple of 4 and the buffers the kernel accesses as vectors are 16-byte aligned
// (`aligned`), else 1.
template <typename Launch>
void dispatch(const Pool2dGeometry& g, int64_t row, bool aligned, Launch&& launch) {
  const bool vec = row % 4 == 0 && aligned;
  switch (path_of(g)) {
    case Path::K2S2:
      return vec ? launch(Variant<2, 2, 4>{}) : launch(Variant<2, 2, 1>{});
    case Path::K3S2:
      return vec ? launch(Variant<3, 2, 4>{}) : launch(Variant<3, 2, 1>{});
    case Path::K2S1:
      return vec ? launch(Variant<2, 1, 4>{}) : launch(Variant<2, 1, 1>{});
    case Path::K3S1:
      return vec ? launch(Variant<3, 1, 4>{}) : launch(Variant<3, 1, 1>{});
    case Path::General:
      return launch(Variant<0, 0, 1>{});
  }
}

// Launches a kernel over `groups` groups on the current stream: k32 (its uint32_t instance) when the group
// count allows 32-bit indices, else k64.
template <typename K32, typename K64, typename... Args>
void launch_groups(K32 k32, K64 k64, int64_t groups, const Args&... args) {
  if (fits_32bit(groups)) {
    k32<<<blocks_for(groups), kThreads, 0, current_stream()>>>(args..., static_cast<uint32_t>(groups));
  } else {
    k64<<<blocks_for(groups), kThreads, 0, current_stream()>>>(args..., static_cast<uint64_t>(groups));
  }
}

}  // namespace

void max_pool2d_forward(const float* x, float* y, int32_t* indices, const Pool2dGeometry& g) {
  const int64_t total = g.N * g.C * g.OH * g.OW;
  if (total == 0) return;
  // The 4-wide groups also read x in aligned chunks (Group4Tile).
  const bool chunked = g.W % 4 == 0 && aligned16(x) && aligned16(y) && aligned16(indices);
  dispatch(g, g.OW, chunked, [&](auto v) {
    using Vt = decltype(v);
    launch_groups(max_forward_kernel<uint32_t, Vt::kK, Vt::kS, Vt::kV>,
                  max_forward_kernel<uint64_t, Vt::kK, Vt::kS, Vt::kV>, total / Vt::kV, x, y, indices, g);
  });
  MINICNN_CUDA_CHECK_LAUNCH("max_pool2d_forward");
}

void max_pool2d_backward(const float* dy, const int32_t* indices, float* dx, const Pool2dGeometry& g) {
  const int64_t total = g.N * g.C * g.H * g.W;
  if (total == 0) return;
  dispatch(g, g.W, aligned16(dx), [&](auto v) {
    using Vt = decltype(v);
    launch_groups(max_backward_kernel<uint32_t, Vt::kK, Vt::kS, Vt::kV>,
                  max_backward_kernel<uint64_t, Vt::kK, Vt::kS, Vt::kV>, total / Vt::kV, dy, indices, dx, g);
  });
  MINICNN_CUDA_CHECK_LAUNCH("max_pool2d_backward");
}

void avg_pool2d_forward(const float* x, float* y, const Pool2dGeometry& g, AvgDivisor d) {
  const int64_t total = g.N * g.C * g.OH * g.OW;
  if (total == 0) return;
  dispatch(g, g.OW, g.W % 4 == 0 && aligned16(x) && aligned16(y), [&](auto v) {  // chunked, as max
    using Vt = decltype(v);
    launch_groups(avg_forward_kernel<uint32_t, Vt::kK, Vt::kS, Vt::kV>,
                  avg_forward_kernel<uint64_t, Vt::kK, Vt::kS, Vt::kV>, total / Vt::kV, x, y, g, d);
  });
  MINICNN_CUDA_CHECK_LAUNCH("avg_pool2d_forward");
}

void avg_pool2d_backward(const float* dy, float* dx, const Pool2dGeometry& g, AvgDivisor d) {
  const int64_t total = g.N * g.C * g.H * g.W;
  if (total == 0) return;
  dispatch(g, g.W, aligned16(dx), [&](auto v) {
    using Vt = decltype(v);
    launch_groups(avg_backward_kernel<uint32_t, Vt::kK, Vt::kS, Vt::kV>,
                  avg_backward_kernel<uint64_t, Vt::kK, Vt::kS, Vt::kV>, total / Vt::kV, dy, dx, g, d);
  });
  MINICNN_CUDA_CHECK_LAUNCH("avg_pool2d_backward");
}

void force_64bit_indexing_for_testing(bool on) {
  g_force_64bit = on;
}

}  // namespace minicnn::cuda
