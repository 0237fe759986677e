// Linear on the CPU: GEMMs (cpu::gemm) for forward (x W^T) and backward (dy W, dy^T x).
#include <minicnn/linear.h>

#include <fmt/format.h>

#include <Eigen/Core>

#include <minicnn/check.h>
#include <minicnn/gemm.h>
#include <minicnn/init.h>
#include <minicnn/relu.h>

namespace minicnn {
namespace {
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatMap = Eigen::Map<RowMat>;
using ConstMatMap = Eigen::Map<const RowMat>;
}  // namespace

namespace cpu {

void linear_forward(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t in,
                    int64_t out, bool relu) {
  gemm(false, true, N, out, in, 1.0f, x, in, w, in, 0.0f, y, out);  // (N, out)
  MatMap ym(y, N, out);
  if (b) ym.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(b, out);
  if (relu) relu_forward(y, y, N * out);
}

void linear_backward(const float* x, const float* w, const float* dy, const float* relu_out, float* dx,
                     float* dw, float* db, int64_t N, int64_t in, int64_t out) {
  Tensor masked;  // with a fused ReLU: dy where the output is > 0
  if (relu_out) {
    masked = Tensor::empty({N, out});
    relu_backward(relu_out, dy, masked.data(), N * out);
    dy = masked.data();
  }
  // dW (out, in) += dy^T x
  gemm(true, false, out, in, N, 1.0f, dy, out, x, in, 1.0f, dw, in);
  if (db) Eigen::Map<Eigen::RowVectorXf>(db, out) += ConstMatMap(dy, N, out).colwise().sum();
  if (dx) gemm(false, false, N, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);  // dy W
}

}  // namespace cpu

namespace {

// The output shape for an input `in` already validated: its last dimension becomes out_features.
Shape output_shape_of(const Shape& in, int64_t out_features) {
  std::vector<int64_t> dims = in.dims();
  if (!dims.empty()) dims.back() = out_features;
  return Shape(dims);
}

// ---- Device dispatch: the one place that knows which backends this build has.

void forward_on(const Tensor& x, const float* w, const float* b, Tensor& y, int64_t N, int64_t in,
                int64_t out, bool relu) {
#if MINICNN_CUDA
  if (x.is_cuda()) {
    MINICNN_ASSERT(!relu, "a ReLU fused into a layer on CUDA (Model fuses on the CPU only)");
    return cuda::linear_forward(x.data(), w, b, y.data(), N, in, out);
  }
#endif
  cpu::linear_forward(x.data(), w, b, y.data(), N, in, out, relu);
}

// `relu_out`: the fused ReLU's output (dy passes where it is > 0), or undefined; ReLUs are fused on the CPU
// only (Model::fuse_relus), so the CUDA path knows none.
void backward_on(const Tensor& x, const float* w, const Tensor& dy, const Tensor& relu_out, float* dx,
                 float* dw, float* db, int64_t N, int64_t in, int64_t out) {
#if MINICNN_CUDA
  if (x.is_cuda()) return cuda::linear_backward(x.data(), w, dy.data(), dx, dw, db, N, in, out);
#endif
  cpu::linear_backward(x.data(), w, dy.data(), relu_out.defined() ? relu_out.data() : nullptr, dx, dw, db, N,
                       in, out);
}

}  // namespace

Linear::Linear(LinearOptions options) : options_(options) {
  MINICNN_CHECK(options_.in_features_ > 0 || options_.in_features_ == -1,
                "Linear: in_features should be positive, but got ", options_.in_features_);
  MINICNN_CHECK(options_.out_features_ > 0, type_name(), ": out_features should be positive, but got ",
                options_.out_features_);
  if (options_.in_features_ > 0) materialize(Shape{1, options_.in_features_});
}

std::string Linear::repr() const {
  if (options_.in_features_ < 0) {
    return fmt::format("LazyLinear(out_features={}, bias={})", options_.out_features_, options_.bias_ ? "True" : "False");
  }
  return fmt::format("Linear(in_features={}, out_features={}, bias={})", options_.in_features_,
                     options_.out_features_, options_.bias_ ? "True" : "False");
}

Shape Linear::output_shape(const Shape& in) const {
  MINICNN_CHECK(in.rank() == 1 || in.rank() == 2, type_name(),
                ": expected 2D (N, features) or 1D (features) input, but got shape ", in,
                "; put Flatten before it");
  const int64_t features = in[-1];
  MINICNN_CHECK(options_.in_features_ < 0 || features == options_.in_features_, type_name(), ": expected ",
                options_.in_features_, " input features (in_features), but got ", features, " from input shape ",
                in, "; use Linear(", features, ", ", options_.out_features_, ") or LazyLinear(",
                options_.out_features_, ")");
  return output_shape_of(in, options_.out_features_);
}

void Linear::materialize(const Shape& in) {
  if (options_.in_features_ < 0) options_.in_features_ = in[-1];  // LazyLinear becomes Linear
  if (weight_.value.defined()) return;
  weight_.value = Tensor::zeros({options_.out_features_, options_.in_features_});
  weight_.grad = Tensor::zeros(weight_.value.shape());
  if (options_.bias_) {
    bias_.value = Tensor::zeros({options_.out_features_});
    bias_.grad = Tensor::zeros({options_.out_features_});
  }
}

void Linear::reset_parameters(Generator& gen) {
  torch_default_init(weight_.value, options_.bias_ ? &bias_.value : nullptr, options_.in_features_, gen);
}

std::vector<Parameter*> Linear::parameters() {
  if (options_.bias_) return {&weight_, &bias_};
  return {&weight_};
}

Tensor Linear::forward(const Tensor& x, Mode mode) {
  MINICNN_CHECK(weight_.value.defined(), type_name(), ": forward() before the model was built (in_features unknown)");
  const Shape ys = output_shape(x.shape());
  const int64_t N = x.dim() == 1 ? 1 : x.size(0), in = options_.in_features_, out = options_.out_features_;
  MINICNN_CHECK(x.device() == weight_.value.device(), type_name(), ": the input is on ", x.device().str(),
                " but the weight is on ", weight_.value.device().str());
  Tensor y = Tensor::empty(ys, DType::Float32, x.device());
  forward_on(x, weight_.value.data(), options_.bias_ ? bias_.value.data() : nullptr, y, N, in, out, relu_);
  const bool train = mode == Mode::Train;
  input_ = train ? x : Tensor();
  output_ = train && relu_ ? y : Tensor();
  return y;
}

Tensor Linear::backward(const Tensor& dy) {
  const ReleaseAfterBackward release(input_, output_);
  check_backward(type_name(), input_, dy, output_shape_of(input_.shape(), options_.out_features_));
  const int64_t N = input_.dim() == 1 ? 1 : input_.size(0), in = options_.in_features_, out = options_.out_features_;
  Tensor dx = needs_input_grad_ ? Tensor::empty(input_.shape(), DType::Float32, dy.device()) : Tensor();
  backward_on(input_, weight_.value.data(), dy, output_, dx.defined() ? dx.data() : nullptr,
              weight_.grad.data(), options_.bias_ ? bias_.grad.data() : nullptr, N, in, out);
  return dx;
}

}  // namespace minicnn
