// AdaptiveMaxPool2d, AdaptiveAvgPool2d and MaxUnpool2d on CUDA: one thread per output (forward) or per input
// element (backward, a gather over the covering windows), running the CPU's rules of pool2d_window.h.
#include <cstdint>

#include <minicnn/cuda/check.h>
#include <minicnn/cuda/context.h>
#include <minicnn/cuda/elementwise.h>
#include <minicnn/cuda/grid.h>
#include <minicnn/cuda/memory.h>
#include <minicnn/pool2d.h>
#include <minicnn/pool2d_window.h>

namespace minicnn::cuda {
namespace {

// Outputs (N*C*OH*OW) in flat order: plane, then oh, then ow.
__global__ void adaptive_max_forward_kernel(const float* __restrict__ x, float* __restrict__ y,
                                            int32_t* __restrict__ indices, Pool2dGeometry g) {
  const int64_t total = g.N * g.C * g.OH * g.OW;
  for (int64_t o = thread_index<int64_t>(); o < total; o += grid_stride<int64_t>()) {
    const int64_t ow = o % g.OW, oh = (o / g.OW) % g.OH, plane = o / (g.OW * g.OH);
    indices[o] = static_cast<int32_t>(adaptive_max_pool2d_at(x + plane * g.H * g.W, g, oh, ow, &y[o]));
  }
}

__global__ void adaptive_avg_forward_kernel(const float* __restrict__ x, float* __restrict__ y,
                                            Pool2dGeometry g) {
  const int64_t total = g.N * g.C * g.OH * g.OW;
  for (int64_t o = thread_index<int64_t>(); o < total; o += grid_stride<int64_t>()) {
    const int64_t ow = o % g.OW, oh = (o / g.OW) % g.OH, plane = o / (g.OW * g.OH);
    y[o] = adaptive_avg_pool2d_at(x + plane * g.H * g.W, g, oh, ow);
  }
}

// Inputs (N*C*H*W) in flat order.
__global__ void adaptive_max_backward_kernel(const float* __restrict__ dy,
                                             const int32_t* __restrict__ indices, float* __restrict__ dx,
                                             Pool2dGeometry g) {
  const int64_t total = g.N * g.C * g.H * g.W, plane_out = g.OH * g.OW;
  for (int64_t i = thread_index<int64_t>(); i < total; i += grid_stride<int64_t>()) {
    const int64_t iw = i % g.W, ih = (i / g.W) % g.H, plane = i / (g.W * g.H);
    dx[i] = adaptive_max_pool2d_backward_at(dy + plane * plane_out, indices + plane * plane_out, g, ih, iw);
  }
}

__global__ void adaptive_avg_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx,
                                             Pool2dGeometry g) {
  const int64_t total = g.N * g.C * g.H * g.W, plane_out = g.OH * g.OW;
  for (int64_t i = thread_index<int64_t>(); i < total; i += grid_stride<int64_t>()) {
    const int64_t iw = i % g.W, ih = (i / g.W) % g.H, plane = i / (g.W * g.H);
    dx[i] = adaptive_avg_pool2d_backward_at(dy + plane * plane_out, g, ih, iw);
  }
}

// status[0] becomes 1 and status[1] one of the invalid indices when an index lies outside the plane.
__global__ void max_unpool_forward_kernel(const float* __restrict__ x, const int32_t* __restrict__ indices,
                                          float* __restrict__ y, int64_t planes, int64_t plane_in,
                                          int64_t plane_out, int32_t* __restrict__ status) {
  const int64_t total = planes * plane_in;
  for (int64_t i = thread_index<int64_t>(); i < total; i += grid_stride<int64_t>()) {
    const int32_t at = indices[i];
    if (at < 0 || at >= plane_out) {
      status[1] = at;
      status[0] = 1;
      continue;
    }
    y[(i / plane_in) * plane_out + at] = x[i];
  }
}

__global__ void max_unpool_backward_kernel(const float* __restrict__ dy, const int32_t* __restrict__ indices,
                                           float* __restrict__ dx, int64_t planes, int64_t plane_in,
                                           int64_t plane_out) {
  const int64_t total = planes * plane_in;
  for (int64_t i = thread_index<int64_t>(); i < total; i += grid_stride<int64_t>()) {
    dx[i] = dy[(i / plane_in) * plane_out + indices[i]];
  }
}

}  // namespace

void adaptive_max_pool2d_forward(const float* x, float* y, int32_t* indices, const Pool2dGeometry& g) {
  const int64_t total = g.N * g.C * g.OH * g.OW;
  if (total == 0) return;
  adaptive_max_forward_kernel<<<blocks_for(total), kThreads, 0, current_stream()>>>(x, y, indices, g);
  MINICNN_CUDA_CHECK_LAUNCH("adaptive_max_pool2d_forward");
}

void adaptive_max_pool2d_backward(const float* dy, const int32_t* indices, float* dx,
                                  const Pool2dGeometry& g) {
  const int64_t total = g.N * g.C * g.H * g.W;
  if (total == 0) return;
  adaptive_max_backward_kernel<<<blocks_for(total), kThreads, 0, current_stream()>>>(dy, indices, dx, g);
  MINICNN_CUDA_CHECK_LAUNCH("adaptive_max_pool2d_backward");
}

void adaptive_avg_pool2d_forward(const float* x, float* y, const Pool2dGeometry& g) {
  const int64_t total = g.N * g.C * g.OH * g.OW;
  if (total == 0) return;
  adaptive_avg_forward_kernel<<<blocks_for(total), kThreads, 0, current_stream()>>>(x, y, g);
  MINICNN_CUDA_CHECK_LAUNCH("adaptive_avg_pool2d_forward");
}

void adaptive_avg_pool2d_backward(const float* dy, float* dx, const Pool2dGeometry& g) {
  const int64_t total = g.N * g.C * g.H * g.W;
  if (total == 0) return;
  adaptive_avg_backward_kernel<<<blocks_for(total), kThreads, 0, current_stream()>>>(dy, dx, g);
  MINICNN_CUDA_CHECK_LAUNCH("adaptive_avg_pool2d_backward");
}

bool max_unpool2d_forward(const float* x, const int32_t* indices, float* y, int64_t planes, int64_t plane_in,
                          int64_t plane_out, int32_t* invalid) {
  const int64_t total = planes * plane_in;
  if (total == 0) return true;
  Tensor status = Tensor::zeros({2}, DType::Int32, Device::cuda(current_device()));
  max_unpool_forward_kernel<<<blocks_for(total), kThreads, 0, current_stream()>>>(
      x, indices, y, planes, plane_in, plane_out, status.data_i32());
  MINICNN_CUDA_CHECK_LAUNCH("max_unpool2d_forward");
  int32_t host[2];
  copy_bytes(host, false, status.data_i32(), true, sizeof host);
  *invalid = host[1];
  return host[0] == 0;
}

void max_unpool2d_backward(const float* dy, const int32_t* indices, float* dx, int64_t planes,
                           int64_t plane_in, int64_t plane_out) {
  const int64_t total = planes * plane_in;
  if (total == 0) return;
  max_unpool_backward_kernel<<<blocks_for(total), kThreads, 0, current_stream()>>>(dy, indices, dx, planes,
                                                                                   plane_in, plane_out);
  MINICNN_CUDA_CHECK_LAUNCH("max_unpool2d_backward");
}

}  // namespace minicnn::cuda
