// Conv2d on CUDA: im2col of a chunk of images side by side, one cuBLAS SGEMM per chunk, and a gather col2im.
#include <algorithm>
#include <cstdint>

#include "conv2d_im2col.h"
#include <minicnn/cuda/blas.h>
#include <minicnn/cuda/check.h>
#include <minicnn/cuda/context.h>
#include <minicnn/cuda/elementwise.h>
#include <minicnn/cuda/grid.h>

namespace minicnn::cuda {
namespace {

// Images are processed in chunks whose buffers (column matrix, products) stay under this size.
constexpr int64_t kWorkspaceBytes = int64_t{512} << 20;

template <typename I>
__global__ void im2col_kernel(const float* __restrict__ x, float* __restrict__ col, Conv2dGeometry g, I nn,
                              I total) {
  for (I i = thread_index<I>(); i < total; i += grid_stride<I>()) {
    col[i] = im2col_at<I>(x, g, nn, i);
  }
}

template <typename I>
__global__ void col2im_kernel(const float* __restrict__ dcol, float* __restrict__ dx, Conv2dGeometry g, I nn,
                              I total) {
  for (I i = thread_index<I>(); i < total; i += grid_stride<I>()) {
    dx[i] = col2im_at<I>(dcol, g, nn, i);
  }
}

// y (nn, OC, P) from t (OC, nn*P): y[n, oc, p] = t[oc, n*P + p] + bias[oc] (bias may be null).
__global__ void rows_to_images_kernel(const float* __restrict__ t, const float* __restrict__ bias,
                                      float* __restrict__ y, int64_t nn, int64_t OC, int64_t P) {
  const int64_t total = nn * OC * P;
  for (int64_t i = thread_index<int64_t>(); i < total; i += grid_stride<int64_t>()) {
    const int64_t p = i % P, r = i / P, oc = r % OC, n = r / OC;
    const float v = t[oc * nn * P + n * P + p];
    y[i] = bias != nullptr ? v + bias[oc] : v;
  }
}

// t (OC, nn*P) from dy (nn, OC, P): the inverse permutation.
__global__ void images_to_rows_kernel(const float* __restrict__ dy, float* __restrict__ t, int64_t nn,
                                      int64_t OC, int64_t P) {
  const int64_t total = nn * OC * P;
  for (int64_t i = thread_index<int64_t>(); i < total; i += grid_stride<int64_t>()) {
    const int64_t p = i % P, r = i / P, oc = r % OC, n = r / OC;
    t[oc * nn * P + n * P + p] = dy[i];
  }
}

bool fits_int32(int64_t a, int64_t b) { return indices_fit_32bit(a) && indices_fit_32bit(b); }

void im2col(const float* x, float* col, const Conv2dGeometry& g, int64_t nn) {
  const int64_t total = g.C * g.KH * g.KW * nn * g.OH * g.OW;
  if (fits_int32(total, nn * g.C * g.H * g.W)) {
    im2col_kernel<int32_t><<<blocks_for(total), kThreads, 0, current_stream()>>>(
        x, col, g, static_cast<int32_t>(nn), static_cast<int32_t>(total));
  } else {
    im2col_kernel<int64_t><<<blocks_for(total), kThreads, 0, current_stream()>>>(x, col, g, nn, total);
  }
  MINICNN_CUDA_CHECK_LAUNCH("im2col");
}

void col2im(const float* dcol, float* dx, const Conv2dGeometry& g, int64_t nn) {
  const int64_t total = nn * g.C * g.H * g.W;
  if (fits_int32(total, g.C * g.KH * g.KW * nn * g.OH * g.OW)) {
    col2im_kernel<int32_t><<<blocks_for(total), kThreads, 0, current_stream()>>>(
        dcol, dx, g, static_cast<int32_t>(nn), static_cast<int32_t>(total));
  } else {
    col2im_kernel<int64_t><<<blocks_for(total), kThreads, 0, current_stream()>>>(dcol, dx, g, nn, total);
  }
  MINICNN_CUDA_CHECK_LAUNCH("col2im");
}

int64_t images_per_chunk(const Conv2dGeometry& g, int64_t floats_per_image) {
  return std::clamp<int64_t>(kWorkspaceBytes / std::max<int64_t>(1, floats_per_image * 4), 1,
                             std::max<int64_t>(g.N, 1));
}

Tensor workspace(int64_t floats) {
  return Tensor::empty({floats}, DType::Float32, Device::cuda(current_device()));
}

}  // namespace

void conv2d_forward(const float* x, const float* w, const float* b, float* y, const Conv2dGeometry& g) {
  const int64_t K = g.C * g.KH * g.KW, P = g.OH * g.OW;
  const int64_t chunk = images_per_chunk(g, (K + g.OC) * P);
  Tensor col = workspace(K * chunk * P);   // (K, chunk*P)
  Tensor t = workspace(g.OC * chunk * P);  // (OC, chunk*P)
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t nn = std::min(chunk, g.N - n0);
    im2col(x + n0 * g.C * g.H * g.W, col.data(), g, nn);
    gemm(false, false, g.OC, nn * P, K, 1.0f, w, col.data(), 0.0f, t.data());  // W (OC, K) x col (K, nn*P)
    const int64_t total = nn * g.OC * P;
    rows_to_images_kernel<<<blocks_for(total), kThreads, 0, current_stream()>>>(
        t.data(), b, y + n0 * g.OC * P, nn, g.OC, P);
    MINICNN_CUDA_CHECK_LAUNCH("conv2d rows_to_images");
  }
}

void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                     const Conv2dGeometry& g) {
  const int64_t K = g.C * g.KH * g.KW, P = g.OH * g.OW;
  const int64_t chunk = images_per_chunk(g, (K * (dx != nullptr ? 2 : 1) + g.OC) * P);
  Tensor col = workspace(K * chunk * P);                              // (K, chunk*P)
  Tensor dyt = workspace(g.OC * chunk * P);                           // (OC, chunk*P)
  Tensor dcol = dx != nullptr ? workspace(K * chunk * P) : Tensor();  // (K, chunk*P)
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t nn = std::min(chunk, g.N - n0);
    im2col(x + n0 * g.C * g.H * g.W, col.data(), g, nn);
    const int64_t total = nn * g.OC * P;
    images_to_rows_kernel<<<blocks_for(total), kThreads, 0, current_stream()>>>(dy + n0 * g.OC * P,
                                                                                dyt.data(), nn, g.OC, P);
    MINICNN_CUDA_CHECK_LAUNCH("conv2d images_to_rows");
    gemm(false, true, g.OC, K, nn * P, 1.0f, dyt.data(), col.data(), 1.0f, dw);  // dW += dy^T col^T
    if (db != nullptr) sum_rows_add(dyt.data(), db, g.OC, nn * P);
    if (dx != nullptr) {
      gemm(true, false, K, nn * P, g.OC, 1.0f, w, dyt.data(), 0.0f,
           dcol.data());  // W^T (K, OC) x dy (OC, nn*P)
      col2im(dcol.data(), dx + n0 * g.C * g.H * g.W, g, nn);
    }
  }
}

}  // namespace minicnn::cuda
