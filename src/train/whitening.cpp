// Whitening filters: the patch covariance of normalised training images (per-thread sums in double,
// added in thread order) and Eigen's self-adjoint eigensolver.
#include <minicnn/whitening.h>

#include <omp.h>

#include <Eigen/Dense>
#include <vector>

#include <minicnn/check.h>
#include <minicnn/conv2d.h>
#include <minicnn/loader.h>

namespace minicnn {
namespace {

using Matrix = Eigen::MatrixXd;

// X^T X over every KHxKW patch of the normalised images `pick` lists, and the number of patches.
Matrix patch_second_moment(const ImageDataset& data, const Normalization& norm,
                           const std::vector<int64_t>& pick, int64_t KH, int64_t KW, int64_t& patches) {
  const int64_t C = data.channels, H = data.height, W = data.width, D = C * KH * KW;
  const int64_t OH = H - KH + 1, OW = W - KW + 1;
  MINICNN_CHECK(OH > 0 && OW > 0, "whitening: images of ", H, "x", W, " hold no ", KH, "x", KW, " patch");
  const int threads = omp_get_max_threads();
  std::vector<Matrix> partial(static_cast<size_t>(threads), Matrix::Zero(D, D));
#pragma omp parallel num_threads(threads)
  {
    Matrix& sum = partial[static_cast<size_t>(omp_get_thread_num())];
    std::vector<double> x(static_cast<size_t>(C * H * W));
    Eigen::MatrixXd block(D, OW);  // one output row's patches, a column each
#pragma omp for schedule(static)
    for (size_t k = 0; k < pick.size(); ++k) {
      const uint8_t* img = data.image(pick[k]);
      for (int64_t c = 0; c < C; ++c) {
        // The float32 value training sees, widened.
        const float scale = 1.0f / (255.0f * norm.std[static_cast<size_t>(c)]);
        const float shift = -norm.mean[static_cast<size_t>(c)] / norm.std[static_cast<size_t>(c)];
        for (int64_t i = 0; i < H * W; ++i)
          x[static_cast<size_t>(c * H * W + i)] = img[c * H * W + i] * scale + shift;
      }
      for (int64_t oh = 0; oh < OH; ++oh) {
        for (int64_t ow = 0; ow < OW; ++ow) {
          int64_t d = 0;
          for (int64_t c = 0; c < C; ++c) {
            for (int64_t i = 0; i < KH; ++i) {
              for (int64_t j = 0; j < KW; ++j)
                block(d++, ow) = x[static_cast<size_t>((c * H + oh + i) * W + ow + j)];
            }
          }
        }
        sum.noalias() += block * block.transpose();
      }
    }
  }
  Matrix total = Matrix::Zero(D, D);
  for (const Matrix& m : partial) total += m;
  patches = static_cast<int64_t>(pick.size()) * OH * OW;
  return total;
}

}  // namespace

void whiten_first_conv(Model& model, const ImageDataset& data, const Normalization& normalization,
                       int64_t images, double eps, uint64_t seed) {
  auto* conv = model.size() > 0 ? dynamic_cast<Conv2d*>(&model.layer(0)) : nullptr;
  MINICNN_CHECK(conv != nullptr, "whitening: the model's first layer should be a Conv2d, but got ",
                model.size() > 0 ? model.layer(0).type_name() : std::string("no layer"));
  Tensor& w = conv->weight().value;
  const int64_t O = w.size(0), C = w.size(1), KH = w.size(2), KW = w.size(3), D = C * KH * KW;
  MINICNN_CHECK(O == 2 * D, "whitening: the first Conv2d should have 2*C*KH*KW = ", 2 * D, " filters (each ",
                "whitening filter and its negation), but got ", O);
  MINICNN_CHECK(C == data.channels, "whitening: the first Conv2d reads ", C,
                " channels, but the images have ", data.channels);
  MINICNN_CHECK(!w.is_cuda(), "whitening: initialise the model on the CPU, then move it");
  const int64_t n = std::min(images, data.size());
  int64_t patches = 0;
  const Matrix moment =
      patch_second_moment(data, normalization, random_subset(data.size(), n, seed), KH, KW, patches);
  const Eigen::SelfAdjointEigenSolver<Matrix> solver(moment / static_cast<double>(patches));
  MINICNN_CHECK(solver.info() == Eigen::Success,
                "whitening: the eigen decomposition of the patch covariance failed");
  float* out = w.data();
  for (int64_t i = 0; i < D; ++i) {
    const int64_t k = D - 1 - i;  // Eigen orders eigenvalues increasing
    Eigen::VectorXd e = solver.eigenvectors().col(k);
    Eigen::Index largest = 0;
    e.cwiseAbs().maxCoeff(&largest);
    if (e(largest) < 0) e = -e;
    const double scale = 1.0 / std::sqrt(solver.eigenvalues()(k) + eps);
    for (int64_t d = 0; d < D; ++d) {
      out[i * D + d] = static_cast<float>(e(d) * scale);
      out[(D + i) * D + d] = -static_cast<float>(e(d) * scale);
    }
  }
  if (conv->options().bias_) conv->bias().value.zero_();
}

}  // namespace minicnn
