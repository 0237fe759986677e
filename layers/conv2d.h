// Conv2d (and LazyConv2d): 2-D convolution as im2col plus a GEMM (Winograd for 3x3 stride-1 layers on
// the CPU), mirrors torch.nn.Conv2d.
#pragma once

#include <minicnn/layer.h>
#include <minicnn/window.h>

namespace minicnn {

/// Which kernels run a convolution on a CUDA tensor: minicnn's im2col and cuBLAS SGEMMs, or cuDNN's
/// convolutions (the algorithm cuDNN finds fastest for each shape, chosen once and cached).
enum class ConvImpl { Native, Cudnn };
/// Parses "native" or "cudnn"; throws Error for anything else.
ConvImpl parse_conv_impl(const std::string& text);
const char* conv_impl_name(ConvImpl impl);

/// Options for Conv2d; names and defaults follow torch.nn.Conv2d (groups=1, padding_mode='zeros').
/// in_channels = -1 makes the layer lazy (torch.nn.LazyConv2d): it is inferred from the first input shape.
/// Example: Conv2d conv(Conv2dOptions(1, 32, 3).padding(1));
struct Conv2dOptions {
  Conv2dOptions(int64_t in_channels, int64_t out_channels, IntPair kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  Conv2dOptions& stride(IntPair s) { stride_ = s; return *this; }
  Conv2dOptions& padding(IntPair p) { padding_ = p; return *this; }
  Conv2dOptions& dilation(IntPair d) { dilation_ = d; return *this; }
  Conv2dOptions& bias(bool b) { bias_ = b; return *this; }
  Conv2dOptions& impl(ConvImpl i) { impl_ = i; return *this; }
  int64_t in_channels_;
  int64_t out_channels_;
  IntPair kernel_size_;
  IntPair stride_{1};
  IntPair padding_{0};
  IntPair dilation_{1};
  bool bias_ = true;
  ConvImpl impl_ = ConvImpl::Native;
};

/// The convolution geometry of one call, validated once and passed to the kernels.
struct Conv2dGeometry {
  int64_t N, C, H, W, OC, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW;
};

/// y = conv(x, weight) + bias with weight (OC, C, KH, KW), bias (OC); output size
/// floor((H + 2P - D(K-1) - 1) / S) + 1 per axis.
class Conv2d : public Layer, public ReLUFuser {
 public:
  explicit Conv2d(Conv2dOptions options);
  std::string type_name() const override { return options_.in_channels_ < 0 ? "LazyConv2d" : "Conv2d"; }
  std::string repr() const override;
  Shape output_shape(const Shape& in) const override;
  void materialize(const Shape& in) override;
  void reset_parameters(Generator& gen) override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  bool supports(Device) const override { return true; }
  std::vector<Parameter*> parameters() override;
  std::optional<Window2d> window() const override;
  void set_fused_relu(bool fused) override { relu_ = fused; }

  Parameter& weight() { return weight_; }
  Parameter& bias() { return bias_; }
  const Conv2dOptions& options() const { return options_; }
  void set_impl(ConvImpl impl) { options_.impl_ = impl; }

 private:
  Conv2dGeometry geometry(const Shape& in) const;

  Conv2dOptions options_;
  Parameter weight_{"weight", {}, {}};
  Parameter bias_{"bias", {}, {}};
  Tensor input_;   // (N, C, H, W) of the last Train forward
  Tensor output_;  // its output, kept only with a fused ReLU (backward masks dy with it)
  bool relu_ = false;  // a fused ReLU (Model::fuse_relus, on the CPU only)
  Conv2dGeometry geometry_{};
};

namespace cpu {
/// How the CPU computes a convolution. Winograd: minicnn's F(2x2, 3x3) (2.25x fewer multiply-adds than the
/// direct sum; its transforms' coefficients are 0, +-1 and +-0.5). OnednnWinograd: oneDNN's F(4x4, 3x3)
/// primitives (4x fewer; coefficients up to 8, so rounding differs more from the direct sum, as in every
/// F(4x4, 3x3)). Auto: OnednnWinograd where conv2d_onednn_prefers(), else Winograd where
/// conv2d_winograd_applies(), else im2col and GEMMs.
enum class ConvAlgorithm { Auto, Im2col, Winograd, OnednnWinograd };

/// Channels (in and out) from which Winograd pays for its transforms. Measured with bench/layers_bench
/// conv_algorithm/* on 14x14 images, batch 64, forward and backward: 4 to 4 channels 10% faster than
/// im2col, 8 to 8 and more 25-40% faster; 1 or 3 to 32 channels (a first layer) 11-130% slower.
constexpr int64_t kWinogradMinChannels = 8;

/// The most transformed data, 16 * (C + OC) floats per 2x2 output tile, that Winograd holds for one image
/// (it works on whole images, one thread each): 4 MiB, about 64x64 pixels at 32 channels in and out;
/// larger images take im2col, whose column chunks stay at about 256 KiB whatever the image size.
constexpr int64_t kWinogradMaxImageBytes = int64_t{4} << 20;

/// Channels (in and out) from which Auto takes oneDNN's F(4x4, 3x3) over minicnn's F(2x2, 3x3).
constexpr int64_t kOnednnMinChannels = 16;

/// True for 3x3 kernels, stride 1, dilation 1, any padding, at least kWinogradMinChannels input and
/// output channels and images within kWinogradMaxImageBytes, on a CPU build with AVX-512.
bool conv2d_winograd_applies(const Conv2dGeometry& g);

/// y = conv(x, w) + b, then max(y, 0) when `relu` (a fused ReLU).
void conv2d_forward(const float* x, const float* w, const float* b, float* y, const Conv2dGeometry& g,
                    bool relu = false, ConvAlgorithm algorithm = ConvAlgorithm::Auto);
/// Adds into dw and db (db may be null); writes dx when it is not null. With `relu_out` (a fused ReLU's
/// output) dy counts only where relu_out > 0.
void conv2d_backward(const float* x, const float* w, const float* dy, const float* relu_out, float* dx,
                     float* dw, float* db, const Conv2dGeometry& g,
                     ConvAlgorithm algorithm = ConvAlgorithm::Auto);

/// True where oneDNN (a build with MINICNN_ONEDNN) has Winograd F(4x4, 3x3) kernels for the geometry: 3x3,
/// stride 1, dilation 1, on a CPU with AVX-512 (asked of oneDNN once per geometry and remembered).
bool conv2d_onednn_applies(const Conv2dGeometry& g);
/// Where Auto takes oneDNN's F(4x4, 3x3): where it applies, with at least kOnednnMinChannels input and
/// output channels.
bool conv2d_onednn_prefers(const Conv2dGeometry& g);

/// The oneDNN path of conv2d_forward / conv2d_backward (layers/conv2d_onednn.cpp); requires
/// conv2d_onednn_applies(g).
void conv2d_forward_onednn(const float* x, const float* w, const float* b, float* y, const Conv2dGeometry& g,
                           bool relu);
void conv2d_backward_onednn(const float* x, const float* w, const float* dy, const float* relu_out, float* dx,
                            float* dw, float* db, const Conv2dGeometry& g);

/// The Winograd path of conv2d_forward / conv2d_backward (layers/conv2d_winograd.cpp); requires
/// conv2d_winograd_applies(g).
void conv2d_forward_winograd(const float* x, const float* w, const float* b, float* y,
                             const Conv2dGeometry& g, bool relu);
void conv2d_backward_winograd(const float* x, const float* w, const float* dy, const float* relu_out,
                              float* dx, float* dw, float* db, const Conv2dGeometry& g);
}  // namespace cpu

namespace cuda {
// The same on device buffers (layers/conv2d.cu): im2col and one cuBLAS SGEMM per chunk of images; no
// fused ReLU (fusion is CPU-only).
void conv2d_forward(const float* x, const float* w, const float* b, float* y, const Conv2dGeometry& g);
void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                     const Conv2dGeometry& g);
}  // namespace cuda

namespace cudnn {
// The same through cuDNN (layers/conv2d_cudnn.cpp, MINICNN_CUDNN builds): cudnnConvolutionForward,
// BackwardData and BackwardFilter (plus cudnnAddTensor and BackwardBias for the bias) with, per geometry,
// the fastest deterministic algorithm of cuDNN's own search, found once and cached. Float32 arithmetic
// (CUDNN_FMA_MATH) unless allow_tf32(). Backward adds into dw and db (db may be null); dx may be null.
void conv2d_forward(const float* x, const float* w, const float* b, float* y, const Conv2dGeometry& g);
void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                     const Conv2dGeometry& g);
}  // namespace cudnn

}  // namespace minicnn
