// The pooling layers, their geometry and validation (ATen's Pool.h rules), and their dispatch to backends.
#include <minicnn/pool2d.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include <minicnn/check.h>
#include <minicnn/pool2d_window.h>

namespace minicnn {

PoolImpl parse_pool_impl(const std::string& text) {
  if (text == "native") return PoolImpl::Native;
  if (text == "cudnn") return PoolImpl::Cudnn;
  detail::throw_error(fmt::format("pool impl: expected 'native' or 'cudnn', but got '{}'", text));
}

const char* pool_impl_name(PoolImpl impl) { return impl == PoolImpl::Native ? "native" : "cudnn"; }

namespace {

const char* py_bool(bool b) { return b ? "True" : "False"; }

// (C, H, W) is treated as one image; returns {N, C, H, W}.
std::array<int64_t, 4> nchw_of(const char* op, const Shape& x) {
  const auto [N, C, H, W] = window_input_nchw(op, x);
  MINICNN_CHECK(C > 0 && H > 0 && W > 0, op, ": expected non-empty channel, height and width, but got shape ",
                x);
  return {N, C, H, W};
}

Shape unbatched_like(const Shape& x, int64_t N, int64_t C, int64_t OH, int64_t OW) {
  return x.rank() == 3 ? Shape{C, OH, OW} : Shape{N, C, OH, OW};
}

Window2d window_of(const Pool2dArgs& a) {
  const IntPair s = a.stride.value_or(a.kernel_size);
  return {a.kernel_size.h, a.kernel_size.w, s.h, s.w, a.padding.h, a.padding.w, a.dilation.h, a.dilation.w};
}

}  // namespace

Pool2dGeometry pool2d_geometry(const char* op, const Shape& x, const Pool2dArgs& a) {
  const Window2d window = window_of(a);
  check_window(op, window);
  const IntPair k = a.kernel_size, s = a.stride.value_or(a.kernel_size), p = a.padding, d = a.dilation;
  // P <= effective kernel / 2, with effective kernel D*(K-1)+1 (for average pooling D = 1: P <= K/2).
  MINICNN_CHECK(p.h <= (d.h * (k.h - 1) + 1) / 2 && p.w <= (d.w * (k.w - 1) + 1) / 2, op,
                ": padding should be at most half of effective kernel size, but got padding=", p.pair_str(),
                ", kernel_size=", k.pair_str(), ", dilation=", d.pair_str());
  const auto [N, C, H, W] = nchw_of(op, x);
  const IntPair out = window_output_hw(op, x, window, a.ceil_mode,
                                       "use a smaller kernel_size, add padding, or pool fewer times");
  constexpr int64_t kMaxIndex = std::numeric_limits<int32_t>::max();
  if (H > kMaxIndex || W > kMaxIndex || H * W > kMaxIndex) {
    // H, W <= 2^31 keeps H * W inside int64.
    detail::throw_error(
        fmt::format("{}: an input plane of {}x{}{} elements is too large for int32 indices (at most "
                    "2147483647)",
                    op, H, W, H <= kMaxIndex && W <= kMaxIndex ? fmt::format(" = {}", H * W) : ""));
  }
  return {N, C, H, W, out.h, out.w, k.h, k.w, s.h, s.w, p.h, p.w, d.h, d.w};
}

Shape pool2d_output_shape(const Shape& x, const Pool2dGeometry& g) {
  return unbatched_like(x, g.N, g.C, g.OH, g.OW);
}

// ----------------------------------------------------------------------------------------------------
// MaxPool2d

namespace {

void check_impl_device(const char* op, PoolImpl impl, const Tensor& x) {
  MINICNN_CHECK(impl == PoolImpl::Native || x.is_cuda(), op,
                ": impl=cudnn runs on CUDA tensors only, but got a tensor on ", x.device().str(),
                "; use impl=native on the CPU");
}

// impl=cudnn: what cuDNN's pooling cannot express is refused, never silently changed.
void check_cudnn_max_options(const MaxPool2dOptions& o, bool wants_indices) {
  const Pool2dArgs& a = o.args_;
  MINICNN_CHECK(a.dilation == IntPair(1), "MaxPool2d: impl=cudnn has no dilation, but got dilation=",
                a.dilation.pair_str(), "; use impl=native");
  MINICNN_CHECK(!a.ceil_mode, "MaxPool2d: impl=cudnn has no ceil_mode, but got ceil_mode=True; use impl=native");
  MINICNN_CHECK(!wants_indices, "MaxPool2d: impl=cudnn computes no indices; use impl=native to get them ",
                "(return_indices, forward_with_indices, --indices)");
}

void check_cudnn_avg_options(const AvgPool2dOptions& o) {
  MINICNN_CHECK(!o.args_.ceil_mode, "AvgPool2d: impl=cudnn has no ceil_mode, but got ceil_mode=True; use impl=native");
  MINICNN_CHECK(!o.divisor_override_, "AvgPool2d: impl=cudnn has no divisor_override, but got divisor_override=",
                o.divisor_override_.value_or(0), "; use impl=native");
}

// ---- Device dispatch: the one place that knows which backends this build has.

void max_forward_on(const Tensor& x, Tensor& y, Tensor& idx, const Pool2dGeometry& g) {
  int32_t* ip = idx.defined() ? idx.data_i32() : nullptr;
#if MINICNN_CUDA
  if (x.is_cuda()) return cuda::max_pool2d_forward(x.data(), y.data(), ip, g);
#endif
  cpu::max_pool2d_forward(x.data(), y.data(), ip, g);
}

void max_backward_on(const Tensor& dy, const Tensor& idx, Tensor& dx, const Pool2dGeometry& g) {
#if MINICNN_CUDA
  if (dy.is_cuda()) return cuda::max_pool2d_backward(dy.data(), idx.data_i32(), dx.data(), g);
#endif
  cpu::max_pool2d_backward(dy.data(), idx.data_i32(), dx.data(), g);
}

void avg_forward_on(const Tensor& x, Tensor& y, const Pool2dGeometry& g, AvgDivisor d) {
#if MINICNN_CUDA
  if (x.is_cuda()) return cuda::avg_pool2d_forward(x.data(), y.data(), g, d);
#endif
  cpu::avg_pool2d_forward(x.data(), y.data(), g, d);
}

void avg_backward_on(const Tensor& dy, Tensor& dx, const Pool2dGeometry& g, AvgDivisor d) {
#if MINICNN_CUDA
  if (dy.is_cuda()) return cuda::avg_pool2d_backward(dy.data(), dx.data(), g, d);
#endif
  cpu::avg_pool2d_backward(dy.data(), dx.data(), g, d);
}

// impl=cudnn (CUDA tensors only: check_impl_device ran first).
[[maybe_unused]] void refuse_without_cudnn(const char* op) {
  detail::throw_error(detail::concat(op, ": impl=cudnn needs a minicnn built with cuDNN (-DMINICNN_CUDNN=ON); ",
                                     "use impl=native"));
}

void cudnn_forward_on(const Tensor& x, Tensor& y, const Pool2dGeometry& g, const AvgDivisor* avg) {
#if MINICNN_CUDNN
  if (avg) return cudnn::avg_pool2d_forward(x.data(), y.data(), g, *avg);
  cudnn::max_pool2d_forward(x.data(), y.data(), g);
#else
  (void)x, (void)y, (void)g;
  refuse_without_cudnn(avg ? "AvgPool2d" : "MaxPool2d");
#endif
}

void cudnn_backward_on(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx, const Pool2dGeometry& g,
                       const AvgDivisor* avg) {
#if MINICNN_CUDNN
  if (avg) return cudnn::avg_pool2d_backward(x.data(), y.data(), dy.data(), dx.data(), g, *avg);
  cudnn::max_pool2d_backward(x.data(), y.data(), dy.data(), dx.data(), g);
#else
  (void)x, (void)y, (void)dy, (void)dx, (void)g;
  refuse_without_cudnn(avg ? "AvgPool2d" : "MaxPool2d");
#endif
}

}  // namespace

MaxPool2d::MaxPool2d(MaxPool2dOptions options) : options_(std::move(options)) {
  // Validate the options alone (an input of the smallest size that passes the output-size rule).
  const Pool2dArgs& a = options_.args_;
  // pool2d_geometry refuses options outside int32 before it multiplies them; so must this span.
  const auto span = [](int64_t k, int64_t d) {
    const bool fits = k > 0 && d > 0 && k <= std::numeric_limits<int32_t>::max() &&
                      d <= std::numeric_limits<int32_t>::max();
    return fits ? d * (k - 1) + 1 : int64_t{1};
  };
  const int64_t h = span(a.kernel_size.h, a.dilation.h), w = span(a.kernel_size.w, a.dilation.w);
  pool2d_geometry("MaxPool2d", Shape{1, 1, h, w}, a);
}

std::string MaxPool2d::repr() const {
  const Pool2dArgs& a = options_.args_;
  return fmt::format("MaxPool2d(kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={})",
                     a.kernel_size.str(), a.stride.value_or(a.kernel_size).str(), a.padding.str(),
                     a.dilation.str(), py_bool(a.ceil_mode));
}

Shape MaxPool2d::output_shape(const Shape& in) const {
  return pool2d_output_shape(in, pool2d_geometry("MaxPool2d", in, options_.args_));
}

std::optional<Window2d> MaxPool2d::window() const { return window_of(options_.args_); }

Tensor MaxPool2d::run_forward(const Tensor& x, bool keep_indices) {
  const bool cudnn = options_.impl_ == PoolImpl::Cudnn;
  if (cudnn) check_cudnn_max_options(options_, options_.return_indices_);
  check_impl_device("MaxPool2d", options_.impl_, x);
  const Pool2dGeometry g = pool2d_geometry("MaxPool2d", x.shape(), options_.args_);
  const Shape ys = pool2d_output_shape(x.shape(), g);
  Tensor y = Tensor::empty(ys, DType::Float32, x.device());
  Tensor idx = keep_indices && !cudnn ? Tensor::empty(ys, DType::Int32, x.device()) : Tensor();
  if (cudnn) {
    cudnn_forward_on(x, y, g, nullptr);
  } else {
    max_forward_on(x, y, idx, g);
  }
  cudnn_x_ = keep_indices && cudnn ? x : Tensor();
  cudnn_y_ = keep_indices && cudnn ? y : Tensor();
  geometry_ = g;
  input_shape_ = x.shape();
  indices_ = idx;
  return y;
}

Tensor MaxPool2d::forward(const Tensor& x, Mode mode) {
  return run_forward(x, mode == Mode::Train || options_.return_indices_);
}

std::pair<Tensor, Tensor> MaxPool2d::forward_with_indices(const Tensor& x) {
  if (options_.impl_ == PoolImpl::Cudnn) check_cudnn_max_options(options_, true);
  Tensor y = run_forward(x, true);
  return {y, indices_};
}

Tensor MaxPool2d::backward(const Tensor& dy) {
  const bool cudnn = options_.impl_ == PoolImpl::Cudnn;
  check_backward("MaxPool2d", cudnn ? cudnn_y_ : indices_, dy);
  Tensor dx = Tensor::empty(input_shape_, DType::Float32, dy.device());
  if (cudnn) {
    cudnn_backward_on(cudnn_x_, cudnn_y_, dy, dx, geometry_, nullptr);
  } else {
    max_backward_on(dy, indices_, dx, geometry_);
  }
  return dx;
}

// ----------------------------------------------------------------------------------------------------
// AvgPool2d

AvgPool2d::AvgPool2d(AvgPool2dOptions options) : options_(std::move(options)) {
  MINICNN_CHECK(options_.args_.dilation == IntPair(1), "AvgPool2d: has no dilation option, but got dilation=",
                options_.args_.dilation.pair_str());
  if (options_.divisor_override_) {
    MINICNN_CHECK(*options_.divisor_override_ != 0, "AvgPool2d: divisor_override should be non-zero, but got 0");
    MINICNN_CHECK(*options_.divisor_override_ > 0, "AvgPool2d: divisor_override should be positive, but got ",
                  *options_.divisor_override_);
  }
  divisor_ = {options_.count_include_pad_, options_.divisor_override_.value_or(0)};
  const IntPair k = options_.args_.kernel_size;
  pool2d_geometry("AvgPool2d", Shape{1, 1, std::max<int64_t>(k.h, 1), std::max<int64_t>(k.w, 1)}, options_.args_);
}

std::string AvgPool2d::repr() const {
  const Pool2dArgs& a = options_.args_;
  std::string s = fmt::format("AvgPool2d(kernel_size={}, stride={}, padding={}", a.kernel_size.str(),
                              a.stride.value_or(a.kernel_size).str(), a.padding.str());
  if (a.ceil_mode) s += ", ceil_mode=True";
  if (!options_.count_include_pad_) s += ", count_include_pad=False";
  if (options_.divisor_override_) s += fmt::format(", divisor_override={}", *options_.divisor_override_);
  return s + ")";
}

Shape AvgPool2d::output_shape(const Shape& in) const {
  return pool2d_output_shape(in, pool2d_geometry("AvgPool2d", in, options_.args_));
}

std::optional<Window2d> AvgPool2d::window() const { return window_of(options_.args_); }

Tensor AvgPool2d::forward(const Tensor& x, Mode mode) {
  const bool cudnn = options_.impl_ == PoolImpl::Cudnn;
  if (cudnn) check_cudnn_avg_options(options_);
  check_impl_device("AvgPool2d", options_.impl_, x);
  const Pool2dGeometry g = pool2d_geometry("AvgPool2d", x.shape(), options_.args_);
  Tensor y = Tensor::empty(pool2d_output_shape(x.shape(), g), DType::Float32, x.device());
  if (cudnn) {
    cudnn_forward_on(x, y, g, &divisor_);
  } else {
    avg_forward_on(x, y, g, divisor_);
  }
  output_ = mode == Mode::Train ? y : Tensor();
  cudnn_x_ = cudnn && mode == Mode::Train ? x : Tensor();
  geometry_ = g;
  input_shape_ = x.shape();
  return y;
}

Tensor AvgPool2d::backward(const Tensor& dy) {
  const ReleaseAfterBackward release(output_, cudnn_x_);
  check_backward("AvgPool2d", output_, dy);
  Tensor dx = Tensor::empty(input_shape_, DType::Float32, dy.device());
  if (options_.impl_ == PoolImpl::Cudnn) {
    cudnn_backward_on(cudnn_x_, output_, dy, dx, geometry_, &divisor_);
  } else {
    avg_backward_on(dy, dx, geometry_, divisor_);
  }
  return dx;
}

// ----------------------------------------------------------------------------------------------------
// Adaptive pooling: window o of an axis spans [floor(o*in/out), ceil((o+1)*in/out)) (pool2d_window.h).

namespace {

std::string adaptive_repr(const char* op, AdaptiveSize s) {
  auto one = [](int64_t v) { return v < 0 ? std::string("None") : std::to_string(v); };
  if (s.h == s.w) return fmt::format("{}(output_size={})", op, one(s.h));
  return fmt::format("{}(output_size=({}, {}))", op, one(s.h), one(s.w));
}

// Calls f(plane, oh, ow) for every output, planes in parallel and each plane's outputs in order.
template <typename F>
void for_each_output(const Pool2dGeometry& g, F&& f) {
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < g.planes(); ++plane) {
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      for (int64_t ow = 0; ow < g.OW; ++ow) f(plane, oh, ow);
    }
  }
}

Pool2dGeometry adaptive_geometry(const char* op, const Shape& x, AdaptiveSize s) {
  MINICNN_CHECK((s.h > 0 || s.h == -1) && (s.w > 0 || s.w == -1), op,
                ": output_size should be positive (or None), but got (", s.h, ", ", s.w, ")");
  const auto [N, C, H, W] = nchw_of(op, x);
  const int64_t OH = s.h < 0 ? H : s.h, OW = s.w < 0 ? W : s.w;
  return {N, C, H, W, OH, OW, 0, 0, 0, 0, 0, 0, 1, 1};
}

// ---- Device dispatch of the adaptive pools and MaxUnpool2d.

void adaptive_avg_forward_on(const Tensor& x, Tensor& y, const Pool2dGeometry& g) {
#if MINICNN_CUDA
  if (x.is_cuda()) return cuda::adaptive_avg_pool2d_forward(x.data(), y.data(), g);
#endif
  const float* xp = x.data();
  float* yp = y.data();
  for_each_output(g, [&](int64_t plane, int64_t oh, int64_t ow) {
    yp[(plane * g.OH + oh) * g.OW + ow] = adaptive_avg_pool2d_at(xp + plane * g.H * g.W, g, oh, ow);
  });
}

void adaptive_avg_backward_on(const Tensor& dy, Tensor& dx, const Pool2dGeometry& g) {
#if MINICNN_CUDA
  if (dy.is_cuda()) return cuda::adaptive_avg_pool2d_backward(dy.data(), dx.data(), g);
#endif
  dx.zero_();
  const float* dyp = dy.data();
  float* dxp = dx.data();
  for_each_output(g, [&](int64_t plane, int64_t oh, int64_t ow) {
    const float grad =
        dyp[(plane * g.OH + oh) * g.OW + ow] / static_cast<float>(adaptive_window_area(g, oh, ow));
    float* dxpl = dxp + plane * g.H * g.W;
    const int64_t h1 = adaptive_end(oh, g.H, g.OH), w1 = adaptive_end(ow, g.W, g.OW);
    for (int64_t h = adaptive_start(oh, g.H, g.OH); h < h1; ++h) {
      for (int64_t w = adaptive_start(ow, g.W, g.OW); w < w1; ++w) dxpl[h * g.W + w] += grad;
    }
  });
}

void adaptive_max_forward_on(const Tensor& x, Tensor& y, Tensor& idx, const Pool2dGeometry& g) {
#if MINICNN_CUDA
  if (x.is_cuda()) return cuda::adaptive_max_pool2d_forward(x.data(), y.data(), idx.data_i32(), g);
#endif
  const float* xp = x.data();
  float* yp = y.data();
  int32_t* ip = idx.data_i32();
  for_each_output(g, [&](int64_t plane, int64_t oh, int64_t ow) {
    const int64_t o = (plane * g.OH + oh) * g.OW + ow;
    ip[o] = static_cast<int32_t>(adaptive_max_pool2d_at(xp + plane * g.H * g.W, g, oh, ow, &yp[o]));
  });
}

void adaptive_max_backward_on(const Tensor& dy, const Tensor& idx, Tensor& dx, const Pool2dGeometry& g) {
#if MINICNN_CUDA
  if (dy.is_cuda()) return cuda::adaptive_max_pool2d_backward(dy.data(), idx.data_i32(), dx.data(), g);
#endif
  cpu::max_pool2d_backward(dy.data(), idx.data_i32(), dx.data(), g);
}

[[noreturn]] void throw_invalid_unpool_index(int64_t at, IntPair out) {
  detail::throw_error(detail::concat("MaxUnpool2d: found an invalid max index ", at, " (output plane has ",
                                     out.h * out.w, " elements, ", out.h, "x", out.w, ")"));
}

// y (zeros, planes x out) gets x (planes x in) at the indices; an index outside the plane is refused.
void max_unpool_forward_on(const Tensor& x, const Tensor& indices, Tensor& y, int64_t planes, IntPair out) {
  const int64_t plane_in = x.size(-1) * x.size(-2), plane_out = out.h * out.w;
#if MINICNN_CUDA
  if (x.is_cuda()) {
    int32_t bad = 0;
    if (!cuda::max_unpool2d_forward(x.data(), indices.data_i32(), y.data(), planes, plane_in, plane_out,
                                    &bad)) {
      throw_invalid_unpool_index(bad, out);
    }
    return;
  }
#endif
  const float* xp = x.data();
  const int32_t* ip = indices.data_i32();
  float* yp = y.data();
  for (int64_t plane = 0; plane < planes; ++plane) {
    for (int64_t i = 0; i < plane_in; ++i) {
      const int32_t at = ip[plane * plane_in + i];
      if (at < 0 || at >= plane_out) throw_invalid_unpool_index(at, out);
      yp[plane * plane_out + at] = xp[plane * plane_in + i];
    }
  }
}

void max_unpool_backward_on(const Tensor& dy, const Tensor& indices, Tensor& dx, int64_t planes) {
  const int64_t plane_in = dx.size(-1) * dx.size(-2), plane_out = dy.size(-1) * dy.size(-2);
#if MINICNN_CUDA
  if (dy.is_cuda())
    return cuda::max_unpool2d_backward(dy.data(), indices.data_i32(), dx.data(), planes, plane_in, plane_out);
#endif
  const float* dyp = dy.data();
  const int32_t* ip = indices.data_i32();
  float* dxp = dx.data();
  for (int64_t plane = 0; plane < planes; ++plane) {
    for (int64_t i = 0; i < plane_in; ++i)
      dxp[plane * plane_in + i] = dyp[plane * plane_out + ip[plane * plane_in + i]];
  }
}

}  // namespace

AdaptiveAvgPool2d::AdaptiveAvgPool2d(AdaptiveSize output_size) : size_(output_size) {
  adaptive_geometry("AdaptiveAvgPool2d", Shape{1, 1, 1}, size_);
}

std::string AdaptiveAvgPool2d::repr() const { return adaptive_repr("AdaptiveAvgPool2d", size_); }

Shape AdaptiveAvgPool2d::output_shape(const Shape& in) const {
  const Pool2dGeometry g = adaptive_geometry("AdaptiveAvgPool2d", in, size_);
  return unbatched_like(in, g.N, g.C, g.OH, g.OW);
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x, Mode mode) {
  const Pool2dGeometry g = adaptive_geometry("AdaptiveAvgPool2d", x.shape(), size_);
  Tensor y = Tensor::empty(unbatched_like(x.shape(), g.N, g.C, g.OH, g.OW), DType::Float32, x.device());
  adaptive_avg_forward_on(x, y, g);
  input_shape_ = x.shape();
  output_ = mode == Mode::Train ? y : Tensor();
  return y;
}

Tensor AdaptiveAvgPool2d::backward(const Tensor& dy) {
  const ReleaseAfterBackward release(output_);
  check_backward("AdaptiveAvgPool2d", output_, dy);
  const Pool2dGeometry g = adaptive_geometry("AdaptiveAvgPool2d", input_shape_, size_);
  Tensor dx = Tensor::empty(input_shape_, DType::Float32, dy.device());
  adaptive_avg_backward_on(dy, dx, g);
  return dx;
}

AdaptiveMaxPool2d::AdaptiveMaxPool2d(AdaptiveSize output_size) : size_(output_size) {
  adaptive_geometry("AdaptiveMaxPool2d", Shape{1, 1, 1}, size_);
}

std::string AdaptiveMaxPool2d::repr() const { return adaptive_repr("AdaptiveMaxPool2d", size_); }

Shape AdaptiveMaxPool2d::output_shape(const Shape& in) const {
  const Pool2dGeometry g = adaptive_geometry("AdaptiveMaxPool2d", in, size_);
  return unbatched_like(in, g.N, g.C, g.OH, g.OW);
}

Tensor AdaptiveMaxPool2d::forward(const Tensor& x, Mode mode) {
  (void)mode;
  const Pool2dGeometry g = adaptive_geometry("AdaptiveMaxPool2d", x.shape(), size_);
  MINICNN_CHECK(g.H * g.W <= std::numeric_limits<int32_t>::max(), "AdaptiveMaxPool2d: an input plane of ",
                g.H * g.W, " elements is too large for int32 indices");
  const Shape ys = unbatched_like(x.shape(), g.N, g.C, g.OH, g.OW);
  Tensor y = Tensor::empty(ys, DType::Float32, x.device());
  Tensor idx = Tensor::empty(ys, DType::Int32, x.device());
  adaptive_max_forward_on(x, y, idx, g);
  input_shape_ = x.shape();
  indices_ = idx;
  return y;
}

Tensor AdaptiveMaxPool2d::backward(const Tensor& dy) {
  check_backward("AdaptiveMaxPool2d", indices_, dy);
  const Pool2dGeometry g = adaptive_geometry("AdaptiveMaxPool2d", input_shape_, size_);
  Tensor dx = Tensor::empty(input_shape_, DType::Float32, dy.device());
  adaptive_max_backward_on(dy, indices_, dx, g);
  return dx;
}

// ----------------------------------------------------------------------------------------------------
// MaxUnpool2d

MaxUnpool2d::MaxUnpool2d(MaxUnpool2dOptions options) : options_(std::move(options)) {
  const IntPair k = options_.kernel_size_, s = options_.stride_.value_or(k);
  MINICNN_CHECK(k.h > 0 && k.w > 0 && s.h > 0 && s.w > 0 && options_.padding_.h >= 0 && options_.padding_.w >= 0,
                "MaxUnpool2d: expected positive kernel_size and stride and non-negative padding, but got "
                "kernel_size=",
                k.pair_str(), ", stride=", s.pair_str(), ", padding=", options_.padding_.pair_str());
}

Tensor MaxUnpool2d::forward(const Tensor& x, const Tensor& indices, std::optional<IntPair> output_size) {
  const auto [N, C, H, W] = nchw_of("MaxUnpool2d", x.shape());
  MINICNN_CHECK(indices.dtype() == DType::Int32 && indices.shape() == x.shape(),
                "MaxUnpool2d: expected int32 indices of shape ", x.shape(), ", but got ",
                dtype_name(indices.dtype()), " ", indices.shape());
  MINICNN_CHECK(indices.device() == x.device(), "MaxUnpool2d: expected the indices on ", x.device().str(),
                ", but got them on ", indices.device().str());
  const IntPair k = options_.kernel_size_, s = options_.stride_.value_or(k), p = options_.padding_;
  const IntPair out = output_size.value_or(IntPair((H - 1) * s.h - 2 * p.h + k.h, (W - 1) * s.w - 2 * p.w + k.w));
  MINICNN_CHECK(out.h > 0 && out.w > 0, "MaxUnpool2d: expected a positive output size, but got ", out.pair_str());
  Tensor y = Tensor::zeros(unbatched_like(x.shape(), N, C, out.h, out.w), DType::Float32, x.device());
  max_unpool_forward_on(x, indices, y, N * C, out);
  indices_ = indices;
  input_shape_ = x.shape();
  output_shape_ = y.shape();
  return y;
}

Tensor MaxUnpool2d::backward(const Tensor& dy) {
  check_backward("MaxUnpool2d", indices_, dy, output_shape_);
  const auto [N, C, H, W] = nchw_of("MaxUnpool2d", input_shape_);
  Tensor dx = Tensor::empty(input_shape_, DType::Float32, dy.device());
  max_unpool_backward_on(dy, indices_, dx, N * C);
  return dx;
}

}  // namespace minicnn
