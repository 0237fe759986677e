// The data-dependent initialisation of airbench94's first layer: filters that whiten the image patches.
#pragma once

#include <cstdint>

#include <minicnn/dataset.h>
#include <minicnn/model.h>

namespace minicnn {

/// Sets the first layer of `model` (a Conv2d of C in-channels, a KHxKW kernel and 2*C*KH*KW filters) to
/// whiten the KHxKW patches of `images` training images drawn with `seed`: their covariance (X^T X / n over
/// every patch position, in double, without subtracting a mean) has eigenvalues l_i and eigenvectors e_i;
/// filter i is e_i / sqrt(l_i + eps) in order of decreasing l_i, and filter C*KH*KW + i is its negation.
/// The bias, if any, becomes 0. Images are normalised as training normalises them. Each eigenvector's
/// sign makes its largest component positive.
void whiten_first_conv(Model& model, const ImageDataset& data, const Normalization& normalization,
                       int64_t images, double eps, uint64_t seed);

}  // namespace minicnn
