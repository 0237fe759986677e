// The cuDNN comparison path of MaxPool2d and AvgPool2d: cuDNN's legacy cudnnPoolingForward/Backward.
#include <cudnn.h>

#include <minicnn/cuda/check.h>
#include <minicnn/cuda/context.h>
#include <minicnn/pool2d.h>
#include "cudnn_tensor.h"

namespace minicnn::cudnn {
namespace {

// The pooling descriptor of geometry `g`, plus the input and output descriptors; checks that cuDNN's
// output size agrees with ours (it computes floor((H + 2P - K) / S) + 1, the same rule without ceil_mode).
class PoolingCall {
 public:
  PoolingCall(const char* op, const Pool2dGeometry& g, cudnnPoolingMode_t mode)
      : x_(op, g.N, g.C, g.H, g.W), y_(op, g.N, g.C, g.OH, g.OW) {
    MINICNN_ASSERT(g.DH == 1 && g.DW == 1, "cuDNN pooling called with dilation");
    MINICNN_CUDNN_CHECK(cudnnCreatePoolingDescriptor(&pool_));
    MINICNN_CUDNN_CHECK(cudnnSetPooling2dDescriptor(
        pool_, mode, CUDNN_PROPAGATE_NAN, static_cast<int>(g.KH), static_cast<int>(g.KW),
        static_cast<int>(g.PH), static_cast<int>(g.PW), static_cast<int>(g.SH), static_cast<int>(g.SW)));
    int n = 0, c = 0, h = 0, w = 0;
    MINICNN_CUDNN_CHECK(cudnnGetPooling2dForwardOutputDim(pool_, x_.get(), &n, &c, &h, &w));
    MINICNN_CHECK(h == g.OH && w == g.OW, op, ": cuDNN computes a ", h, "x", w,
                  " output where minicnn computes ", g.OH, "x", g.OW, "; use impl=native");
  }
  ~PoolingCall() { cudnnDestroyPoolingDescriptor(pool_); }
  PoolingCall(const PoolingCall&) = delete;
  PoolingCall& operator=(const PoolingCall&) = delete;

  void forward(const float* x, float* y) const {
    const float alpha = 1.0f, beta = 0.0f;
    MINICNN_CUDNN_CHECK(
        cudnnPoolingForward(cuda::cudnn_handle(), pool_, &alpha, x_.get(), x, &beta, y_.get(), y));
  }
  void backward(const float* x, const float* y, const float* dy, float* dx) const {
    const float alpha = 1.0f, beta = 0.0f;
    MINICNN_CUDNN_CHECK(cudnnPoolingBackward(cuda::cudnn_handle(), pool_, &alpha, y_.get(), y, y_.get(), dy,
                                             x_.get(), x, &beta, x_.get(), dx));
  }

 private:
  TensorDesc x_, y_;
  cudnnPoolingDescriptor_t pool_ = nullptr;
};

cudnnPoolingMode_t avg_mode(AvgDivisor d) {
  MINICNN_ASSERT(d.divisor_override == 0, "cuDNN pooling called with divisor_override");
  return d.count_include_pad ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                             : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
}

}  // namespace

void max_pool2d_forward(const float* x, float* y, const Pool2dGeometry& g) {
  if (g.N * g.C == 0) return;
  PoolingCall("MaxPool2d", g, CUDNN_POOLING_MAX_DETERMINISTIC).forward(x, y);
}

void max_pool2d_backward(const float* x, const float* y, const float* dy, float* dx,
                         const Pool2dGeometry& g) {
  if (g.N * g.C == 0) return;
  PoolingCall("MaxPool2d", g, CUDNN_POOLING_MAX_DETERMINISTIC).backward(x, y, dy, dx);
}

void avg_pool2d_forward(const float* x, float* y, const Pool2dGeometry& g, AvgDivisor d) {
  if (g.N * g.C == 0) return;
  PoolingCall("AvgPool2d", g, avg_mode(d)).forward(x, y);
}

void avg_pool2d_backward(const float* x, const float* y, const float* dy, float* dx, const Pool2dGeometry& g,
                         AvgDivisor d) {
  if (g.N * g.C == 0) return;
  PoolingCall("AvgPool2d", g, avg_mode(d)).backward(x, y, dy, dx);
}

}  // namespace minicnn::cudnn
