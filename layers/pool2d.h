// MaxPool2d, AvgPool2d, their adaptive forms and MaxUnpool2d; one geometry function for every backend.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <utility>

#include <minicnn/layer.h>
#include <minicnn/pool2d_geometry.h>
#include <minicnn/window.h>

namespace minicnn {

/// Which kernels run a pooling layer on a CUDA tensor: minicnn's own, or cuDNN's (comparison path).
enum class PoolImpl { Native, Cudnn };
PoolImpl parse_pool_impl(const std::string& text);
const char* pool_impl_name(PoolImpl impl);

/// The options every pooling geometry shares. stride defaults to kernel_size.
struct Pool2dArgs {
  IntPair kernel_size;
  std::optional<IntPair> stride;
  IntPair padding{0};
  IntPair dilation{1};
  bool ceil_mode = false;
};

/// Validates `a` against input shape `x` ((C, H, W) or (N, C, H, W)) and returns the geometry, with
/// output size floor((H + 2P - D(K-1) - 1) / S) + 1 (with ceil_mode rounded up, then a last window that
/// would start in the bottom/right padding dropped: window_output_size). Throws Error worded like torch's,
/// starting with `op`.
Pool2dGeometry pool2d_geometry(const char* op, const Shape& x, const Pool2dArgs& a);
/// The output shape for geometry `g`, unbatched when the input was.
Shape pool2d_output_shape(const Shape& x, const Pool2dGeometry& g);

/// Options for MaxPool2d; names and defaults follow torch.nn.MaxPool2d.
/// Example: MaxPool2d pool(MaxPool2dOptions(3).stride(2).padding(1));
struct MaxPool2dOptions {
  MaxPool2dOptions(IntPair kernel_size) { args_.kernel_size = kernel_size; }  // NOLINT
  MaxPool2dOptions& stride(IntPair s) { args_.stride = s; return *this; }
  MaxPool2dOptions& padding(IntPair p) { args_.padding = p; return *this; }
  MaxPool2dOptions& dilation(IntPair d) { args_.dilation = d; return *this; }
  MaxPool2dOptions& ceil_mode(bool c) { args_.ceil_mode = c; return *this; }
  MaxPool2dOptions& return_indices(bool r) { return_indices_ = r; return *this; }
  MaxPool2dOptions& impl(PoolImpl i) { impl_ = i; return *this; }
  Pool2dArgs args_;
  bool return_indices_ = false;
  PoolImpl impl_ = PoolImpl::Native;
};

/// Max pooling that stores int32 argmax indices (flat h*W + w within each (n, c) plane, as torch's
/// return_indices) and routes gradients through them. Padding is -inf; the first maximum wins ties;
/// NaN propagates and the last NaN's index wins; a window with no valid element gives -inf, index -1.
/// Example: MaxPool2d pool(MaxPool2dOptions(2)); auto [y, idx] = pool.forward_with_indices(x);
class MaxPool2d : public Layer {
 public:
  explicit MaxPool2d(MaxPool2dOptions options);
  std::string type_name() const override { return "MaxPool2d"; }
  std::string repr() const override;
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  bool supports(Device) const override { return true; }
  std::optional<Window2d> window() const override;

  /// Forward that always computes the indices (torch's return_indices=True).
  std::pair<Tensor, Tensor> forward_with_indices(const Tensor& x);
  /// The int32 indices of the last Train-mode forward (or forward_with_indices), shaped like its output.
  const Tensor& indices() const { return indices_; }
  const MaxPool2dOptions& options() const { return options_; }
  void set_impl(PoolImpl impl) { options_.impl_ = impl; }

 private:
  Tensor run_forward(const Tensor& x, bool keep_indices);

  MaxPool2dOptions options_;
  Pool2dGeometry geometry_{};
  Shape input_shape_;
  Tensor indices_;  // (N, C, OH, OW) int32
  Tensor cudnn_x_, cudnn_y_;  // impl=cudnn only: cuDNN's backward needs the input and the output
};

/// Options for AvgPool2d; names and defaults follow torch.nn.AvgPool2d.
/// Example: AvgPool2d pool(AvgPool2dOptions(3).stride(2).padding(1).count_include_pad(false));
struct AvgPool2dOptions {
  AvgPool2dOptions(IntPair kernel_size) { args_.kernel_size = kernel_size; }  // NOLINT
  AvgPool2dOptions& stride(IntPair s) { args_.stride = s; return *this; }
  AvgPool2dOptions& padding(IntPair p) { args_.padding = p; return *this; }
  AvgPool2dOptions& ceil_mode(bool c) { args_.ceil_mode = c; return *this; }
  AvgPool2dOptions& count_include_pad(bool c) { count_include_pad_ = c; return *this; }
  AvgPool2dOptions& divisor_override(std::optional<int64_t> d) { divisor_override_ = d; return *this; }
  AvgPool2dOptions& impl(PoolImpl i) { impl_ = i; return *this; }
  Pool2dArgs args_;
  bool count_include_pad_ = true;
  std::optional<int64_t> divisor_override_;
  PoolImpl impl_ = PoolImpl::Native;
};

/// Average pooling, mirrors torch.nn.AvgPool2d (padding counts as zeros; see count_include_pad).
class AvgPool2d : public Layer {
 public:
  explicit AvgPool2d(AvgPool2dOptions options);
  std::string type_name() const override { return "AvgPool2d"; }
  std::string repr() const override;
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  bool supports(Device) const override { return true; }
  std::optional<Window2d> window() const override;
  const AvgPool2dOptions& options() const { return options_; }
  void set_impl(PoolImpl impl) { options_.impl_ = impl; }

 private:
  AvgPool2dOptions options_;
  AvgDivisor divisor_;
  Pool2dGeometry geometry_{};
  Shape input_shape_;
  Tensor output_;   // of the last Train-mode forward: backward checks dy against it (and cuDNN's reads it)
  Tensor cudnn_x_;  // impl=cudnn only: cuDNN's backward needs the input as well
};

/// Output size of an adaptive pooling layer; -1 keeps that input dimension (torch's None).
struct AdaptiveSize {
  int64_t h, w;
};

/// Adaptive average pooling (torch.nn.AdaptiveAvgPool2d): window o spans [floor(o*H/OH), ceil((o+1)*H/OH)).
/// AdaptiveAvgPool2d(1) is global average pooling. Example: AdaptiveAvgPool2d gap({1, 1});
class AdaptiveAvgPool2d : public Layer {
 public:
  explicit AdaptiveAvgPool2d(AdaptiveSize output_size);
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string repr() const override;
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  bool supports(Device) const override { return true; }
  bool mixes_spatial() const override { return true; }
  const AdaptiveSize& output_size() const { return size_; }

 private:
  AdaptiveSize size_;
  Shape input_shape_;
  Tensor output_;  // of the last Train-mode forward, for backward's check of dy
};

/// Adaptive max pooling (torch.nn.AdaptiveMaxPool2d) with int32 indices and the max-pooling tie rules.
class AdaptiveMaxPool2d : public Layer {
 public:
  explicit AdaptiveMaxPool2d(AdaptiveSize output_size);
  std::string type_name() const override { return "AdaptiveMaxPool2d"; }
  std::string repr() const override;
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  bool supports(Device) const override { return true; }
  bool mixes_spatial() const override { return true; }
  const AdaptiveSize& output_size() const { return size_; }
  const Tensor& indices() const { return indices_; }

 private:
  AdaptiveSize size_;
  Shape input_shape_;
  Tensor indices_;
};

/// Options for MaxUnpool2d; names and defaults follow torch.nn.MaxUnpool2d.
struct MaxUnpool2dOptions {
  MaxUnpool2dOptions(IntPair kernel_size) : kernel_size_(kernel_size) {}  // NOLINT
  MaxUnpool2dOptions& stride(IntPair s) { stride_ = s; return *this; }
  MaxUnpool2dOptions& padding(IntPair p) { padding_ = p; return *this; }
  IntPair kernel_size_;
  std::optional<IntPair> stride_;
  IntPair padding_{0};
};

/// The partial inverse of MaxPool2d (torch.nn.MaxUnpool2d): puts each value at its index in a zero
/// output of size (H-1)*S - 2P + K, or `output_size` when given.
/// Example: MaxUnpool2d unpool(MaxUnpool2dOptions(2)); Tensor r = unpool.forward(y, pool.indices());
class MaxUnpool2d {
 public:
  explicit MaxUnpool2d(MaxUnpool2dOptions options);
  Tensor forward(const Tensor& x, const Tensor& indices, std::optional<IntPair> output_size = std::nullopt);
  Tensor backward(const Tensor& dy);

 private:
  MaxUnpool2dOptions options_;
  Tensor indices_;
  Shape input_shape_, output_shape_;
};

namespace cpu {
// Kernels on contiguous NCHW float buffers; `indices` may be null when not needed.
void max_pool2d_forward(const float* x, float* y, int32_t* indices, const Pool2dGeometry& g);
void max_pool2d_backward(const float* dy, const int32_t* indices, float* dx, const Pool2dGeometry& g);
void avg_pool2d_forward(const float* x, float* y, const Pool2dGeometry& g, AvgDivisor d);
void avg_pool2d_backward(const float* dy, float* dx, const Pool2dGeometry& g, AvgDivisor d);
}  // namespace cpu

namespace cuda {
// The same kernels on device buffers (layers/pool2d.cu), queued on the current stream; bit-identical to
// the CPU's. Backward is a gather (one thread per input element): deterministic, no atomics.
void max_pool2d_forward(const float* x, float* y, int32_t* indices, const Pool2dGeometry& g);
void max_pool2d_backward(const float* dy, const int32_t* indices, float* dx, const Pool2dGeometry& g);
void avg_pool2d_forward(const float* x, float* y, const Pool2dGeometry& g, AvgDivisor d);
void avg_pool2d_backward(const float* dy, float* dx, const Pool2dGeometry& g, AvgDivisor d);
/// Adaptive pooling and MaxUnpool2d on device buffers, the CPU's rules (pool2d_window.h) one thread per
/// output (forward) or per input element (backward, a gather): bit-identical to the CPU.
void adaptive_max_pool2d_forward(const float* x, float* y, int32_t* indices, const Pool2dGeometry& g);
void adaptive_max_pool2d_backward(const float* dy, const int32_t* indices, float* dx,
                                  const Pool2dGeometry& g);
void adaptive_avg_pool2d_forward(const float* x, float* y, const Pool2dGeometry& g);
void adaptive_avg_pool2d_backward(const float* dy, float* dx, const Pool2dGeometry& g);
/// y (planes, plane_out), already zero, gets x (planes, plane_in) at the int32 indices; returns false with
/// one of the indices outside [0, plane_out) in *invalid when there is one (waits for the device). Where
/// two values share an index, which one lands is unspecified (as in torch on CUDA).
bool max_unpool2d_forward(const float* x, const int32_t* indices, float* y, int64_t planes, int64_t plane_in,
                          int64_t plane_out, int32_t* invalid);
/// dx[i] = dy[index of i], plane by plane.
void max_unpool2d_backward(const float* dy, const int32_t* indices, float* dx, int64_t planes,
                           int64_t plane_in, int64_t plane_out);
/// Tests only: makes the kernels use 64-bit flat indices even for small tensors.
void force_64bit_indexing_for_testing(bool on);
}  // namespace cuda

namespace cudnn {
// cuDNN's legacy pooling (layers/pool2d_cudnn.cpp, MINICNN_CUDNN builds): max is
// CUDNN_POOLING_MAX_DETERMINISTIC and keeps no indices, so backward needs x and y. Requires dilation 1,
// no ceil_mode and no divisor_override (the layers refuse those options first).
void max_pool2d_forward(const float* x, float* y, const Pool2dGeometry& g);
void max_pool2d_backward(const float* x, const float* y, const float* dy, float* dx, const Pool2dGeometry& g);
void avg_pool2d_forward(const float* x, float* y, const Pool2dGeometry& g, AvgDivisor d);
void avg_pool2d_backward(const float* x, const float* y, const float* dy, float* dx, const Pool2dGeometry& g,
                         AvgDivisor d);
}  // namespace cudnn

}  // namespace minicnn
