// The cuDNN path of Conv2d: descriptors and algorithms chosen once per geometry by cuDNN's own search
// (cudnnFind*), then cudnnConvolutionForward, BackwardData and BackwardFilter.
#include <cudnn.h>

#include <algorithm>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include <minicnn/conv2d.h>
#include <minicnn/cuda/check.h>
#include <minicnn/cuda/context.h>
#include <minicnn/device.h>
#include "cudnn_tensor.h"

namespace minicnn::cudnn {
namespace {

// The first of cuDNN's results (sorted fastest first) that succeeded and, unless TF32 is allowed, computes in
// float32 (no tensor-core math, which would round the inputs to TF32 or half), preferring a deterministic
// one: same-bits reruns need those. None at all is an error rather than a silent change of arithmetic.
template <typename Perf>
Perf pick(const std::vector<Perf>& results, int count, bool tf32, const char* what) {
  const Perf* fallback = nullptr;
  for (int i = 0; i < count; ++i) {
    const Perf& p = results[static_cast<size_t>(i)];
    if (p.status != CUDNN_STATUS_SUCCESS) continue;
    const bool tensor_cores =
        p.mathType == CUDNN_TENSOR_OP_MATH || p.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
    if (tensor_cores && !tf32) continue;
    if (p.determinism == CUDNN_DETERMINISTIC) return p;
    if (fallback == nullptr) fallback = &p;
  }
  MINICNN_CHECK(fallback != nullptr, "Conv2d: cuDNN found no ", what, " algorithm for this convolution",
                tf32 ? "" : " in float32 (TF32 off)", "; use impl=native");
  return *fallback;
}

// Everything cuDNN needs for one geometry: descriptors, the three algorithms and their workspace.
class ConvPlan {
 public:
  ConvPlan(const Conv2dGeometry& g, bool tf32)
      : x_("Conv2d", g.N, g.C, g.H, g.W),
        y_("Conv2d", g.N, g.OC, g.OH, g.OW),
        bias_("Conv2d", 1, g.OC, 1, 1) {
    MINICNN_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w_));
    MINICNN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW,
                                                   static_cast<int>(g.OC), static_cast<int>(g.C),
                                                   static_cast<int>(g.KH), static_cast<int>(g.KW)));
    MINICNN_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv_));
    // torch.nn.Conv2d is a cross-correlation, as cuDNN's CUDNN_CROSS_CORRELATION.
    MINICNN_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
        conv_, static_cast<int>(g.PH), static_cast<int>(g.PW), static_cast<int>(g.SH), static_cast<int>(g.SW),
        static_cast<int>(g.DH), static_cast<int>(g.DW), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    // CUDNN_DEFAULT_MATH lets cuDNN use TF32 tensor cores for float data on Ampere and later; FMA_MATH keeps
    // float32 arithmetic.
    MINICNN_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_, tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
    int n = 0, c = 0, h = 0, w = 0;
    MINICNN_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(conv_, x_.get(), w_, &n, &c, &h, &w));
    MINICNN_CHECK(h == g.OH && w == g.OW, "Conv2d: cuDNN computes a ", h, "x", w,
                  " output where minicnn computes ", g.OH, "x", g.OW, "; use impl=native");
    find_algorithms(tf32);
  }
  ~ConvPlan() {
    cudnnDestroyConvolutionDescriptor(conv_);
    cudnnDestroyFilterDescriptor(w_);
  }
  ConvPlan(const ConvPlan&) = delete;
  ConvPlan& operator=(const ConvPlan&) = delete;

  void forward(const float* x, const float* w, const float* b, float* y) const {
    const float one = 1.0f, zero = 0.0f;
    Tensor ws = workspace();
    MINICNN_CUDNN_CHECK(cudnnConvolutionForward(cuda::cudnn_handle(), &one, x_.get(), x, w_, w, conv_, fwd_,
                                                ws_ptr(ws), workspace_bytes_, &zero, y_.get(), y));
    if (b != nullptr)
      MINICNN_CUDNN_CHECK(cudnnAddTensor(cuda::cudnn_handle(), &one, bias_.get(), b, &one, y_.get(), y));
  }

  void backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db) const {
    const float one = 1.0f, zero = 0.0f;
    Tensor ws = workspace();
    // beta = 1: backward adds into the parameter gradients (the layer contract).
    MINICNN_CUDNN_CHECK(cudnnConvolutionBackwardFilter(cuda::cudnn_handle(), &one, x_.get(), x, y_.get(), dy,
                                                       conv_, bwd_filter_, ws_ptr(ws), workspace_bytes_, &one,
                                                       w_, dw));
    if (db != nullptr) {
      MINICNN_CUDNN_CHECK(
          cudnnConvolutionBackwardBias(cuda::cudnn_handle(), &one, y_.get(), dy, &one, bias_.get(), db));
    }
    if (dx != nullptr) {
      MINICNN_CUDNN_CHECK(cudnnConvolutionBackwardData(cuda::cudnn_handle(), &one, w_, w, y_.get(), dy, conv_,
                                                       bwd_data_, ws_ptr(ws), workspace_bytes_, &zero,
                                                       x_.get(), dx));
    }
  }

 private:
  // cudnnFind* times every algorithm on buffers of its own, once per geometry.
  void find_algorithms(bool tf32) {
    cudnnHandle_t h = cuda::cudnn_handle();
    int count = 0;
    std::vector<cudnnConvolutionFwdAlgoPerf_t> fwd(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
    MINICNN_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(
        h, x_.get(), w_, conv_, y_.get(), static_cast<int>(fwd.size()), &count, fwd.data()));
    const auto f = pick(fwd, count, tf32, "forward");
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> data(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
    MINICNN_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(
        h, w_, y_.get(), conv_, x_.get(), static_cast<int>(data.size()), &count, data.data()));
    const auto d = pick(data, count, tf32, "backward data");
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> filter(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
    MINICNN_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(
        h, x_.get(), y_.get(), conv_, w_, static_cast<int>(filter.size()), &count, filter.data()));
    const auto k = pick(filter, count, tf32, "backward filter");
    fwd_ = f.algo;
    bwd_data_ = d.algo;
    bwd_filter_ = k.algo;
    workspace_bytes_ = std::max({f.memory, d.memory, k.memory});
  }

  Tensor workspace() const {
    if (workspace_bytes_ == 0) return Tensor();
    const int64_t floats = static_cast<int64_t>((workspace_bytes_ + sizeof(float) - 1) / sizeof(float));
    return Tensor::empty({floats}, DType::Float32, Device::cuda(cuda::current_device()));
  }
  static void* ws_ptr(Tensor& ws) { return ws.defined() ? ws.data() : nullptr; }

  TensorDesc x_, y_, bias_;
  cudnnFilterDescriptor_t w_ = nullptr;
  cudnnConvolutionDescriptor_t conv_ = nullptr;
  cudnnConvolutionFwdAlgo_t fwd_{};
  cudnnConvolutionBwdDataAlgo_t bwd_data_{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_{};
  size_t workspace_bytes_ = 0;
};

using PlanKey = std::tuple<int, bool, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                           int64_t, int64_t, int64_t, int64_t, int64_t>;

// The plan of geometry `g` on the current device and TF32 setting: found on first use, then cached for
// the thread (cuDNN handles are per thread too). Like the handles, plans are never destroyed: at process
// exit the CUDA runtime may already be gone.
const ConvPlan& plan_for(const Conv2dGeometry& g) {
  thread_local auto& plans = *new std::map<PlanKey, std::unique_ptr<ConvPlan>>;
  const bool tf32 = allow_tf32();
  const PlanKey key{
      cuda::current_device(), tf32, g.N, g.C, g.H, g.W, g.OC, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW};
  std::unique_ptr<ConvPlan>& plan = plans[key];
  if (plan == nullptr) plan = std::make_unique<ConvPlan>(g, tf32);
  return *plan;
}

}  // namespace

// An empty batch has nothing to compute or add (cuDNN refuses a descriptor with N = 0).
void conv2d_forward(const float* x, const float* w, const float* b, float* y, const Conv2dGeometry& g) {
  if (g.N == 0) return;
  plan_for(g).forward(x, w, b, y);
}

void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                     const Conv2dGeometry& g) {
  if (g.N == 0) return;
  plan_for(g).backward(x, w, dy, dx, dw, db);
}

}  // namespace minicnn::cudnn
