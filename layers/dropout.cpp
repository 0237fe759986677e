// Dropout with SplitMix64-hashed masks: element i of a call keeps its value when hash(seed, i) >= p.
#include <minicnn/dropout.h>

#include <fmt/format.h>

#include <minicnn/check.h>

namespace minicnn {
namespace {

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
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
  const int64_t n = x.numel();
  Tensor y = inplace_ ? x : Tensor::empty(x.shape(), DType::Float32, x.device());
  mask_ = Tensor::empty(x.shape(), DType::Float32, x.device());
  const float keep_scale = p_ >= 1.0f ? 0.0f : 1.0f / (1.0f - p_);
  // Keep when the top 24 bits of the hash, as a fraction of 1, are >= p.
  const uint32_t threshold = static_cast<uint32_t>(static_cast<double>(p_) * 16777216.0);
  const float* xp = x.data();
  float* yp = y.data();
  float* mp = mask_.data();
  const uint64_t base = mix64(seed_);
  // The seed advances per call so successive forwards (without reseed) draw fresh masks.
  seed_ = mix64(seed_ + 0x9E3779B97F4A7C15ull);
#if MINICNN_CUDA
  if (x.is_cuda()) {  // device dispatch
    cuda::dropout_forward(xp, yp, mp, n, base, threshold, keep_scale);
    return y;
  }
#endif
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t r = static_cast<uint32_t>(mix64(base + static_cast<uint64_t>(i)) >> 40);
    mp[i] = r >= threshold ? keep_scale : 0.0f;
    yp[i] = xp[i] * mp[i];
  }
  return y;
}

Tensor Dropout::backward(const Tensor& dy) {
  if (!mask_.defined()) return dy;
  MINICNN_CHECK(dy.shape() == mask_.shape(), "Dropout: expected a gradient of shape ", mask_.shape(), ", but got ",
                dy.shape());
  MINICNN_CHECK(dy.device() == mask_.device(), "Dropout: expected the gradient on ", mask_.device().str(),
                ", but got it on ", dy.device().str());
  Tensor dx = Tensor::empty(dy.shape(), DType::Float32, dy.device());
#if MINICNN_CUDA
  if (dy.is_cuda()) {  // device dispatch
    cuda::dropout_backward(dy.data(), mask_.data(), dx.data(), dy.numel());
    return dx;
  }
#endif
  const float* g = dy.data();
  const float* m = mask_.data();
  float* d = dx.data();
  for (int64_t i = 0; i < dy.numel(); ++i) d[i] = g[i] * m[i];
  return dx;
}

}  // namespace minicnn
