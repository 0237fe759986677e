// A cuDNN 4-D NCHW float tensor descriptor shared by the cuDNN paths of the layers (*_cudnn.cpp only).
#pragma once

#include <cudnn.h>

#include <cstdint>
#include <limits>

#include <minicnn/check.h>
#include <minicnn/cuda/check.h>

namespace minicnn::cudnn {

// A 4-D NCHW float tensor descriptor, destroyed with its scope.
class TensorDesc {
 public:
  TensorDesc(const char* op, int64_t N, int64_t C, int64_t H, int64_t W) {
    constexpr int64_t kMax = std::numeric_limits<int>::max();
    MINICNN_CHECK(N <= kMax && C <= kMax && H <= kMax && W <= kMax && N * C * H * W <= kMax, op,
                  ": impl=cudnn handles tensors of at most 2147483647 elements, but got [", N, ", ", C, ", ",
                  H, ", ", W, "]; use impl=native");
    MINICNN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc_));
    MINICNN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                                   static_cast<int>(N), static_cast<int>(C),
                                                   static_cast<int>(H), static_cast<int>(W)));
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(desc_); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
  cudnnTensorDescriptor_t get() const { return desc_; }

 private:
  cudnnTensorDescriptor_t desc_ = nullptr;
};

}  // namespace minicnn::cudnn
