// Conv2d on the CPU: per-image im2col and Eigen GEMMs, images spread over OpenMP threads.
#include "conv2d.h"

#include <fmt/format.h>
#include <omp.h>

#include <Eigen/Core>
#include <cstring>

#include "check.h"
#include "init.h"

namespace minicnn {
namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatMap = Eigen::Map<RowMat>;
using ConstMatMap = Eigen::Map<const RowMat>;

// col (C*KH*KW, OH*OW): row (c, kh, kw) holds the input pixel each output position sees through that tap.
void im2col(const float* x, float* col, const Conv2dGeometry& g) {
  const int64_t ohw = g.OH * g.OW;
  for (int64_t c = 0; c < g.C; ++c) {
    const float* xc = x + c * g.H * g.W;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        float* dst = col + ((c * g.KH + kh) * g.KW + kw) * ohw;
        // Output columns [ow0, ow1) read inside the row; the rest read padding.
        const int64_t off = kw * g.DW - g.PW;
        int64_t ow0 = off >= 0 ? 0 : (-off + g.SW - 1) / g.SW;
        int64_t ow1 = g.W - off <= 0 ? 0 : (g.W - off + g.SW - 1) / g.SW;
        ow1 = std::min(ow1, g.OW);
        ow0 = std::min(ow0, ow1);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          float* d = dst + oh * g.OW;
          const int64_t ih = oh * g.SH - g.PH + kh * g.DH;
          if (ih < 0 || ih >= g.H) {
            std::memset(d, 0, static_cast<size_t>(g.OW) * sizeof(float));
            continue;
          }
          const float* src = xc + ih * g.W + off;
          for (int64_t ow = 0; ow < ow0; ++ow) d[ow] = 0.0f;
          if (g.SW == 1) {
            std::memcpy(d + ow0, src + ow0, static_cast<size_t>(ow1 - ow0) * sizeof(float));
          } else {
            for (int64_t ow = ow0; ow < ow1; ++ow) d[ow] = src[ow * g.SW];
          }
          for (int64_t ow = ow1; ow < g.OW; ++ow) d[ow] = 0.0f;
        }
      }
    }
  }
}

// The adjoint of im2col: adds each column entry back to the input pixel it was read from.
void col2im(const float* col, float* dx, const Conv2dGeometry& g) {
  const int64_t ohw = g.OH * g.OW;
  std::memset(dx, 0, static_cast<size_t>(g.C * g.H * g.W) * sizeof(float));
  for (int64_t c = 0; c < g.C; ++c) {
    float* dxc = dx + c * g.H * g.W;
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const float* src = col + ((c * g.KH + kh) * g.KW + kw) * ohw;
        const int64_t off = kw * g.DW - g.PW;
        int64_t ow0 = off >= 0 ? 0 : (-off + g.SW - 1) / g.SW;
        int64_t ow1 = g.W - off <= 0 ? 0 : (g.W - off + g.SW - 1) / g.SW;
        ow1 = std::min(ow1, g.OW);
        ow0 = std::min(ow0, ow1);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.SH - g.PH + kh * g.DH;
          if (ih < 0 || ih >= g.H) continue;
          float* d = dxc + ih * g.W + off;
          const float* s = src + oh * g.OW;
          for (int64_t ow = ow0; ow < ow1; ++ow) d[ow * g.SW] += s[ow];
        }
      }
    }
  }
}

}  // namespace

namespace cpu {

void conv2d_forward(const float* x, const float* w, const float* b, float* y, const Conv2dGeometry& g) {
  const int64_t ckk = g.C * g.KH * g.KW, ohw = g.OH * g.OW;
  const int threads = std::max<int>(1, std::min<int64_t>(omp_get_max_threads(), g.N));
  Tensor workspace = Tensor::empty({threads, ckk, ohw});
  ConstMatMap wm(w, g.OC, ckk);
#pragma omp parallel num_threads(threads)
  {
    float* col = workspace.data() + omp_get_thread_num() * ckk * ohw;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.N; ++n) {
      im2col(x + n * g.C * g.H * g.W, col, g);
      MatMap ym(y + n * g.OC * ohw, g.OC, ohw);
      ym.noalias() = wm * ConstMatMap(col, ckk, ohw);
      if (b) ym.colwise() += Eigen::Map<const Eigen::VectorXf>(b, g.OC);
    }
  }
}

void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                     const Conv2dGeometry& g) {
  const int64_t ckk = g.C * g.KH * g.KW, ohw = g.OH * g.OW;
  const int threads = std::max<int>(1, std::min<int64_t>(omp_get_max_threads(), g.N));
  // Per thread: a column buffer, a dcol buffer, and private dw/db sums reduced in thread order afterwards.
  Tensor cols = Tensor::empty({threads, 2 * ckk * ohw});
  Tensor dws = Tensor::zeros({threads, g.OC * ckk + g.OC});
  ConstMatMap wm(w, g.OC, ckk);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    float* col = cols.data() + t * 2 * ckk * ohw;
    float* dcol = col + ckk * ohw;
    MatMap dwm(dws.data() + t * (g.OC * ckk + g.OC), g.OC, ckk);
    Eigen::Map<Eigen::VectorXf> dbv(dws.data() + t * (g.OC * ckk + g.OC) + g.OC * ckk, g.OC);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.N; ++n) {
      ConstMatMap dym(dy + n * g.OC * ohw, g.OC, ohw);
      im2col(x + n * g.C * g.H * g.W, col, g);
      dwm.noalias() += dym * ConstMatMap(col, ckk, ohw).transpose();
      dbv += dym.rowwise().sum();
      if (dx) {
        MatMap(dcol, ckk, ohw).noalias() = wm.transpose() * dym;
        col2im(dcol, dx + n * g.C * g.H * g.W, g);
      }
    }
  }
  for (int t = 0; t < threads; ++t) {
    const float* part = dws.data() + t * (g.OC * ckk + g.OC);
    for (int64_t i = 0; i < g.OC * ckk; ++i) dw[i] += part[i];
    if (db) {
      for (int64_t i = 0; i < g.OC; ++i) db[i] += part[g.OC * ckk + i];
    }
  }
}

}  // namespace cpu

namespace {

// ---- Device dispatch: the one place that knows which backends this build has.

void forward_on(const Tensor& x, const float* w, const float* b, float* y, const Conv2dGeometry& g) {
#if MINICNN_CUDA
  if (x.is_cuda()) return cuda::conv2d_forward(x.data(), w, b, y, g);
#endif
  cpu::conv2d_forward(x.data(), w, b, y, g);
}

void backward_on(const Tensor& x, const float* w, const float* dy, float* dx, float* dw, float* db,
                 const Conv2dGeometry& g) {
#if MINICNN_CUDA
  if (x.is_cuda()) return cuda::conv2d_backward(x.data(), w, dy, dx, dw, db, g);
#endif
  cpu::conv2d_backward(x.data(), w, dy, dx, dw, db, g);
}

}  // namespace

Conv2d::Conv2d(Conv2dOptions options) : options_(options) {
  const Conv2dOptions& o = options_;
  MINICNN_CHECK(o.in_channels_ > 0 || o.in_channels_ == -1, "Conv2d: in_channels should be positive, but got ",
                o.in_channels_);
  MINICNN_CHECK(o.out_channels_ > 0, type_name(), ": out_channels should be positive, but got ", o.out_channels_);
  MINICNN_CHECK(o.kernel_size_.h > 0 && o.kernel_size_.w > 0, type_name(),
                ": kernel_size should be greater than zero, but got kernel_size=", o.kernel_size_.pair_str());
  MINICNN_CHECK(o.stride_.h > 0 && o.stride_.w > 0, type_name(),
                ": stride should be greater than zero, but got stride=", o.stride_.pair_str());
  MINICNN_CHECK(o.dilation_.h > 0 && o.dilation_.w > 0, type_name(),
                ": dilation should be greater than zero, but got dilation=", o.dilation_.pair_str());
  MINICNN_CHECK(o.padding_.h >= 0 && o.padding_.w >= 0, type_name(),
                ": padding should be non-negative, but got padding=", o.padding_.pair_str());
  if (o.in_channels_ > 0) materialize(Shape{1, o.in_channels_, 1, 1});
}

std::string Conv2d::repr() const {
  const Conv2dOptions& o = options_;
  std::string s = o.in_channels_ < 0 ? fmt::format("LazyConv2d({}", o.out_channels_)
                                     : fmt::format("Conv2d({}, {}", o.in_channels_, o.out_channels_);
  s += fmt::format(", kernel_size={}, stride={}", o.kernel_size_.pair_str(), o.stride_.pair_str());
  if (!(o.padding_ == IntPair(0))) s += fmt::format(", padding={}", o.padding_.pair_str());
  if (!(o.dilation_ == IntPair(1))) s += fmt::format(", dilation={}", o.dilation_.pair_str());
  if (!o.bias_) s += ", bias=False";
  return s + ")";
}

Conv2dGeometry Conv2d::geometry(const Shape& in) const {
  const Conv2dOptions& o = options_;
  MINICNN_CHECK(in.rank() == 3 || in.rank() == 4, type_name(),
                ": expected 3D (C, H, W) or 4D (N, C, H, W) input, but got shape ", in);
  const int64_t off = in.rank() - 3;
  const int64_t N = off ? in[0] : 1, C = in[off], H = in[off + 1], W = in[off + 2];
  MINICNN_CHECK(o.in_channels_ < 0 || C == o.in_channels_, type_name(), ": expected input with ", o.in_channels_,
                " channels (in_channels), but got ", C, " channels in shape ", in);
  const IntPair k = o.kernel_size_, s = o.stride_, p = o.padding_, d = o.dilation_;
  const int64_t OH = pool_output_size(H, k.h, s.h, p.h, d.h, false);
  const int64_t OW = pool_output_size(W, k.w, s.w, p.w, d.w, false);
  if (OH < 1 || OW < 1) {
    detail::throw_error(fmt::format(
        "{}: output size is too small: input {} with kernel_size={}, stride={}, padding={}, dilation={} gives "
        "{}x{}; the input must be at least {}x{} (use a smaller kernel_size or add padding)",
        type_name(), in.str(), k.pair_str(), s.pair_str(), p.pair_str(), d.pair_str(), OH, OW,
        d.h * (k.h - 1) + 1 - 2 * p.h, d.w * (k.w - 1) + 1 - 2 * p.w));
  }
  return {N, C, H, W, o.out_channels_, OH, OW, k.h, k.w, s.h, s.w, p.h, p.w, d.h, d.w};
}

Shape Conv2d::output_shape(const Shape& in) const {
  const Conv2dGeometry g = geometry(in);
  return in.rank() == 3 ? Shape{g.OC, g.OH, g.OW} : Shape{g.N, g.OC, g.OH, g.OW};
}

void Conv2d::materialize(const Shape& in) {
  const int64_t C = in[in.rank() - 3];
  if (options_.in_channels_ < 0) options_.in_channels_ = C;  // LazyConv2d becomes Conv2d
  if (weight_.value.defined()) return;
  const IntPair k = options_.kernel_size_;
  weight_.value = Tensor::zeros({options_.out_channels_, options_.in_channels_, k.h, k.w});
  weight_.grad = Tensor::zeros(weight_.value.shape());
  if (options_.bias_) {
    bias_.value = Tensor::zeros({options_.out_channels_});
    bias_.grad = Tensor::zeros({options_.out_channels_});
  }
}

void Conv2d::reset_parameters(Generator& gen) {
  MINICNN_ASSERT(weight_.value.defined(), "reset_parameters before materialize");
  const IntPair k = options_.kernel_size_;
  torch_default_init(weight_.value, options_.bias_ ? &bias_.value : nullptr, options_.in_channels_ * k.h * k.w, gen);
}

std::vector<Parameter*> Conv2d::parameters() {
  if (options_.bias_) return {&weight_, &bias_};
  return {&weight_};
}

std::optional<Window2d> Conv2d::window() const {
  const Conv2dOptions& o = options_;
  return Window2d{o.kernel_size_.h, o.kernel_size_.w, o.stride_.h, o.stride_.w,
                  o.padding_.h,     o.padding_.w,     o.dilation_.h, o.dilation_.w};
}

Tensor Conv2d::forward(const Tensor& x, Mode mode) {
  MINICNN_CHECK(weight_.value.defined(), type_name(), ": forward() before the model was built (in_channels unknown)");
  MINICNN_CHECK(x.device() == weight_.value.device(), type_name(), ": the input is on ", x.device().str(),
                " but the weight is on ", weight_.value.device().str());
  const Conv2dGeometry g = geometry(x.shape());
  Tensor y = Tensor::empty(output_shape(x.shape()), DType::Float32, x.device());
  forward_on(x, weight_.value.data(), options_.bias_ ? bias_.value.data() : nullptr, y.data(), g);
  if (mode == Mode::Train) {
    input_ = x;
    geometry_ = g;
  }
  return y;
}

Tensor Conv2d::backward(const Tensor& dy) {
  MINICNN_CHECK(input_.defined(), type_name(), ": backward() called without a Train-mode forward() before it");
  const Shape expected = output_shape(input_.shape());
  MINICNN_CHECK(dy.shape() == expected, type_name(), ": expected a gradient of shape ", expected, ", but got ",
                dy.shape());
  MINICNN_CHECK(dy.device() == input_.device(), type_name(), ": expected the gradient on ", input_.device().str(),
                ", but got it on ", dy.device().str());
  Tensor dx = needs_input_grad_ ? Tensor::empty(input_.shape(), DType::Float32, dy.device()) : Tensor();
  backward_on(input_, weight_.value.data(), dy.data(), dx.defined() ? dx.data() : nullptr, weight_.grad.data(),
              options_.bias_ ? bias_.grad.data() : nullptr, geometry_);
  return dx;
}

}  // namespace minicnn
