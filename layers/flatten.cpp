// Flatten: shape arithmetic only; forward and backward are reshapes of the same storage.
#include <minicnn/flatten.h>

#include <fmt/format.h>

#include <minicnn/check.h>

namespace minicnn {

std::string Flatten::repr() const { return fmt::format("Flatten(start_dim={}, end_dim={})", start_dim_, end_dim_); }

Shape Flatten::output_shape(const Shape& in) const {
  const int64_t r = in.rank();
  const int64_t s = start_dim_ < 0 ? start_dim_ + r : start_dim_;
  const int64_t e = end_dim_ < 0 ? end_dim_ + r : end_dim_;
  MINICNN_CHECK(s >= 0 && s < std::max<int64_t>(r, 1) && e >= 0 && e < std::max<int64_t>(r, 1) && s <= e,
                "Flatten: start_dim=", start_dim_, " and end_dim=", end_dim_,
                " should name dimensions in order of an input of rank ", r, ", but got shape ", in);
  std::vector<int64_t> dims(in.dims().begin(), in.dims().begin() + s);
  // Shape::numel() refuses a product that overflows (an adaptive pool may announce any output size).
  dims.push_back(Shape(std::vector<int64_t>(in.dims().begin() + s, in.dims().begin() + e + 1)).numel());
  dims.insert(dims.end(), in.dims().begin() + e + 1, in.dims().end());
  return Shape(dims);
}

Tensor Flatten::forward(const Tensor& x, Mode mode) {
  Tensor y = x.reshape(output_shape(x.shape()));
  input_shape_ = x.shape();
  output_ = mode == Mode::Train ? y : Tensor();
  return y;
}

Tensor Flatten::backward(const Tensor& dy) {
  check_backward(type_name(), output_, dy);
  return dy.reshape(input_shape_);
}

}  // namespace minicnn
