// Linear on CUDA: cuBLAS SGEMMs for y = x W^T + b and its gradients, deterministic bias sums.
#include <minicnn/cuda/blas.h>
#include <minicnn/cuda/elementwise.h>
#include <minicnn/linear.h>

namespace minicnn::cuda {

void linear_forward(const float* x, const float* w, const float* b, float* y, int64_t N, int64_t in,
                    int64_t out) {
  gemm(false, true, N, out, in, 1.0f, x, w, 0.0f, y);  // x (N, in) W^T (in, out)
  if (b != nullptr) add_row_vector(y, b, N, out);
}

void linear_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                     int64_t N, int64_t in, int64_t out) {
  gemm(true, false, out, in, N, 1.0f, dy, x, 1.0f, dw);  // dW += dy^T (out, N) x (N, in)
  if (db != nullptr) sum_cols_add(dy, db, N, out);
  if (dx != nullptr) gemm(false, false, N, in, out, 1.0f, dy, w, 0.0f, dx);  // dy (N, out) W (out, in)
}

}  // namespace minicnn::cuda
