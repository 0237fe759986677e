// Convolution index arithmetic shared by the CUDA kernels and the host self-test: im2col and its adjoint.
#pragma once

#include <minicnn/conv2d.h>
#include <minicnn/host_device.h>

namespace minicnn {

/// Element i of the column matrix of `nn` images, col (C*KH*KW, nn*OH*OW): row k = (c, kh, kw), column
/// n*OH*OW + oh*OW + ow holds x[n, c, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW], or 0 in the padding (the
/// CPU im2col's rows, with the images side by side so that one GEMM covers them all). `x` points at the
/// first of the nn images. I is the index type: int32_t when every index fits, else int64_t.
template <typename I>
MINICNN_HD float im2col_at(const float* x, const Conv2dGeometry& g, I nn, I i) {
  const I OW = static_cast<I>(g.OW), P = static_cast<I>(g.OH * g.OW);
  const I KH = static_cast<I>(g.KH), KW = static_cast<I>(g.KW), H = static_cast<I>(g.H),
          W = static_cast<I>(g.W);
  const I p = i % P, t = i / P, n = t % nn, k = t / nn;
  const I kw = k % KW, kh = (k / KW) % KH, c = k / (KW * KH);
  const I ih = (p / OW) * static_cast<I>(g.SH) - static_cast<I>(g.PH) + kh * static_cast<I>(g.DH);
  const I iw = (p % OW) * static_cast<I>(g.SW) - static_cast<I>(g.PW) + kw * static_cast<I>(g.DW);
  if (ih < 0 || ih >= H || iw < 0 || iw >= W) return 0.0f;
  return x[((n * static_cast<I>(g.C) + c) * H + ih) * W + iw];
}

/// The adjoint of im2col at input element i = ((n*C + c)*H + ih)*W + iw of `nn` images: the column
/// entries read from that element, summed over the taps (kh, kw) in order. `dcol` has im2col_at's layout.
template <typename I>
MINICNN_HD float col2im_at(const float* dcol, const Conv2dGeometry& g, I nn, I i) {
  const I W = static_cast<I>(g.W), H = static_cast<I>(g.H), C = static_cast<I>(g.C);
  const I OH = static_cast<I>(g.OH), OW = static_cast<I>(g.OW), P = OH * OW, ld = nn * P;
  const I SH = static_cast<I>(g.SH), SW = static_cast<I>(g.SW);
  const I iw = i % W, t = i / W, ih = t % H, t2 = t / H, c = t2 % C, n = t2 / C;
  float sum = 0.0f;
  for (I kh = 0; kh < static_cast<I>(g.KH); ++kh) {
    const I hs = ih + static_cast<I>(g.PH) - kh * static_cast<I>(g.DH);  // = oh * SH for a reading output
    if (hs < 0 || hs % SH != 0 || hs / SH >= OH) continue;
    for (I kw = 0; kw < static_cast<I>(g.KW); ++kw) {
      const I ws = iw + static_cast<I>(g.PW) - kw * static_cast<I>(g.DW);
      if (ws < 0 || ws % SW != 0 || ws / SW >= OW) continue;
      const I k = (c * static_cast<I>(g.KH) + kh) * static_cast<I>(g.KW) + kw;
      sum += dcol[k * ld + n * P + (hs / SH) * OW + ws / SW];
    }
  }
  return sum;
}

}  // namespace minicnn
