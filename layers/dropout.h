// Dropout: zeroes elements with probability p in Train mode and scales the rest by 1/(1-p), as torch.nn.Dropout.
#pragma once

#include <minicnn/layer.h>

namespace minicnn {

/// Masks come from a counter-based hash of (seed, element), so they are reproducible and resumable.
/// Example: Dropout drop(0.5);
class Dropout : public Layer {
 public:
  explicit Dropout(float p = 0.5f, bool inplace = false);
  std::string type_name() const override { return "Dropout"; }
  std::string repr() const override;
  Shape output_shape(const Shape& in) const override { return in; }
  void reset_parameters(Generator& gen) override { seed_ = gen.next_u64(); }
  void reseed(uint64_t seed) override { seed_ = seed; }
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  bool supports(Device) const override { return true; }

 private:
  float p_;
  bool inplace_;
  uint64_t seed_ = 0;
  Tensor mask_;  // scale factor per element: 0 or 1/(1-p)
};

namespace cpu {
/// Dropout on host buffers: mask[i] = dropout_mask_at(base, i, threshold, keep_scale) (layers/dropout_mask.h)
/// and y = x * mask (y may be x); the backward is dx = dy * mask.
void dropout_forward(const float* x, float* y, float* mask, int64_t n, uint64_t base, uint32_t threshold,
                     float keep_scale);
void dropout_backward(const float* dy, const float* mask, float* dx, int64_t n);
}  // namespace cpu

namespace cuda {
// Dropout on device buffers (layers/dropout.cu), with the CPU's masks (layers/dropout_mask.h): element i
// of a call is kept, scaled by keep_scale, when the top 24 bits of hash(base + i) are >= threshold.
void dropout_forward(const float* x, float* y, float* mask, int64_t n, uint64_t base, uint32_t threshold,
                     float keep_scale);
void dropout_backward(const float* dy, const float* mask, float* dx, int64_t n);
}  // namespace cuda

}  // namespace minicnn
