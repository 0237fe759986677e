// Dropout with SplitMix64-hashed masks: element i of a call keeps its value when hash(seed, i) >= p.
#include <minicnn/dropout.h>

#include <fmt/format.h>

#include <minicnn/check.h>
#include <minicnn/mix.h>
#include "dropout_mask.h"

namespace minicnn {

namespace cpu {

void dropout_forward(const float* x, float* y, float* mask, int64_t n, uint64_t base, uint32_t threshold,
                     float keep_scale) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    mask[i] = dropout_mask_at(base, static_cast<uint64_t>(i), threshold, keep_scale);
    y[i] = x[i] * mask[i];
  }
}

void dropout_backward(const float* dy, const float* mask, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * mask[i];
}

}  // namespace cpu

namespace {

// ---- Device dispatch: the one place that knows which backends this build has.

void forward_on(const Tensor& x, Tensor& y, Tensor& mask, uint64_t base, uint32_t threshold,
                float keep_scale) {
#if MINICNN_CUDA
  if (x.is_cuda()) {
    return cuda::dropout_forward(x.data(), y.data(), mask.data(), x.numel(), base, threshold, keep_scale);
  }
#endif
  cpu::dropout_forward(x.data(), y.data(), mask.data(), x.numel(), base, threshold, keep_scale);
}

void backward_on(const Tensor& dy, const Tensor& mask, Tensor& dx) {
#if MINICNN_CUDA
  if (dy.is_cuda()) return cuda::dropout_backward(dy.data(), mask.data(), dx.data(), dy.numel());
#endif
  cpu::dropout_backward(dy.data(), mask.data(), dx.data(), dy.numel());
}

}  // namespace

Dropout::Dropout(float p, bool inplace) : p_(p), inplace_(inplace) {
  MINICNN_CHECK(p >= 0.0f && p <= 1.0f, "Dropout: probability has to be between 0 and 1, but got ", p);
}

std::string Dropout::repr() const { return fmt::format("Dropout(p={}, inplace={})", p_, inplace_ ? "True" : "False"); }

Tensor Dropout::forward(const Tensor& x, Mode mode) {
  if (mode == Mode::Eval || p_ == 0.0f) {
    mask_ = Tensor();
    return x;
  }
  Tensor y = inplace_ ? x : Tensor::empty(x.shape(), DType::Float32, x.device());
  mask_ = Tensor::empty(x.shape(), DType::Float32, x.device());
  const float keep_scale = p_ >= 1.0f ? 0.0f : 1.0f / (1.0f - p_);
  // Keep when the top 24 bits of the hash, as a fraction of 1, are >= p.
  const uint32_t threshold = static_cast<uint32_t>(static_cast<double>(p_) * 16777216.0);
  const uint64_t base = splitmix64_mix(seed_);
  // The seed advances per call so successive forwards (without reseed) draw fresh masks.
  seed_ = splitmix64(seed_, 0);
  forward_on(x, y, mask_, base, threshold, keep_scale);
  return y;
}

Tensor Dropout::backward(const Tensor& dy) {
  const ReleaseAfterBackward release(mask_);
  if (!mask_.defined()) return dy;  // an Eval or p=0 forward passed x through unchanged
  check_backward(type_name(), mask_, dy);
  Tensor dx = Tensor::empty(dy.shape(), DType::Float32, dy.device());
  backward_on(dy, mask_, dx);
  return dx;
}

}  // namespace minicnn
