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

// The output shape for an input `in` already validated: its last dimension becomes out_features.
Shape output_shape_of(const Shape& in, int64_t out_features) {
  std::vector<int64_t> dims = in.dims();
  if (!dims.empty()) dims.back() = out_features;
  return Shape(dims);
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
#if MINICNN_CUDA
  if (x.is_cuda()) {  // device dispatch
    cuda::linear_forward(x.data(), weight_.value.data(), options_.bias_ ? bias_.value.data() : nullptr, y.data(), N,
                         in, out);
    if (relu_) cuda::relu_forward(y.data(), y.data(), y.numel());
    if (mode == Mode::Train) {
      input_ = x;
      output_ = relu_ ? y : Tensor();
    }
    return y;
  }
#endif
  cpu::gemm(false, true, N, out, in, 1.0f, x.data(), in, weight_.value.data(), in, 0.0f, y.data(), out);  // (N, out)
  MatMap ym(y.data(), N, out);
  if (options_.bias_) ym.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias_.value.data(), out);
  if (relu_) cpu::relu_forward(y.data(), y.data(), y.numel());
  if (mode == Mode::Train) {
    input_ = x;
    output_ = relu_ ? y : Tensor();
  }
  return y;
}

Tensor Linear::backward(const Tensor& dy) {
  check_backward(type_name(), input_, dy, output_shape_of(input_.shape(), options_.out_features_));
  const int64_t N = input_.dim() == 1 ? 1 : input_.size(0), in = options_.in_features_, out = options_.out_features_;
  Tensor g = dy;  // with a fused ReLU: dy where the output is > 0
#if MINICNN_CUDA
  if (dy.is_cuda()) {  // device dispatch
    if (relu_) {
      g = Tensor::empty(dy.shape(), DType::Float32, dy.device());
      cuda::relu_backward(output_.data(), dy.data(), g.data(), dy.numel());
    }
    Tensor dx = needs_input_grad_ ? Tensor::empty(input_.shape(), DType::Float32, dy.device()) : Tensor();
    cuda::linear_backward(input_.data(), weight_.value.data(), g.data(), dx.defined() ? dx.data() : nullptr,
                          weight_.grad.data(), options_.bias_ ? bias_.grad.data() : nullptr, N, in, out);
    return dx;
  }
#endif
  if (relu_) {
    g = Tensor::empty(dy.shape());
    cpu::relu_backward(output_.data(), dy.data(), g.data(), dy.numel());
  }
  ConstMatMap dym(g.data(), N, out);
  // dW (out, in) += dy^T x
  cpu::gemm(true, false, out, in, N, 1.0f, g.data(), out, input_.data(), in, 1.0f, weight_.grad.data(), in);
  if (options_.bias_) {
    Eigen::Map<Eigen::RowVectorXf>(bias_.grad.data(), out) += dym.colwise().sum();
  }
  if (!needs_input_grad_) return {};
  Tensor dx = Tensor::empty(input_.shape(), DType::Float32, dy.device());
  cpu::gemm(false, false, N, in, out, 1.0f, g.data(), out, weight_.value.data(), in, 0.0f, dx.data(), in);  // dy W
  return dx;
}

}  // namespace minicnn
