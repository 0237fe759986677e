// Conv2d on the CPU by Winograd's minimal filtering F(2x2, 3x3): a 3x3 convolution with stride 1 as 16
// GEMMs over channels with 16 multiply-adds per 2x2 output tile instead of 36, forward and backward.
#include <omp.h>

#include <algorithm>
#include <cstring>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <vector>

#include <minicnn/check.h>
#include <minicnn/conv2d.h>
#include <minicnn/gemm.h>
#include <minicnn/lanes.h>
#include <minicnn/relu.h>
#include <minicnn/tensor.h>

namespace minicnn::cpu {

bool conv2d_winograd_applies(const Conv2dGeometry& g) {
#if defined(__AVX512F__)
  if (g.KH != 3 || g.KW != 3 || g.SH != 1 || g.SW != 1 || g.DH != 1 || g.DW != 1) return false;
  if (g.C < kWinogradMinChannels || g.OC < kWinogradMinChannels) return false;
  const double tiles = static_cast<double>((g.OH + 1) / 2) * static_cast<double>((g.OW + 1) / 2);
  return 16.0 * static_cast<double>(g.C + g.OC) * tiles * sizeof(float) <=
         static_cast<double>(kWinogradMaxImageBytes);
#else
  (void)g;
  return false;
#endif
}

#if defined(__AVX512F__)
namespace {

// The transform F(2x2, 3x3) (Lavin and Gray's matrices): for a 4x4 input patch d and a 3x3 filter g, the
// 2x2 output tile is A^T [(G g G^T) * (B^T d B)] A with
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
// The 16 products of a tile, xi = 4i + j, are 16 independent GEMMs over channels. Backward uses the
// adjoints: dM = A dY A^T, dV = U^T dM (per xi), dd = B dV B^T added into the input (tiles overlap by 2),
// dU = dM V^T, dw = G^T dU G.
//
// Data layout for a chunk of T tiles (tile t = (image, th, tw) row-major, TW tiles per row):
//   V (16, C, T): transformed input patches; U (16, OC, C): transformed filters; M (16, OC, T): products.
// Every transform vectorises over 16 neighbouring tiles of a tile row (lanes = tw).

constexpr int kLanes = 16;
constexpr int kSlack = 2 * kLanes;  // floats read past the end of a buffer by whole-vector loads

struct Tiles {
  int64_t TH, TW, per_image;  // tile rows and columns of one image's output, and their product
  int64_t Hp, Wp;             // the zero-padded input plane every tile reads from: (2*TH + 2, 2*TW + 2)
};

Tiles tiles_of(const Conv2dGeometry& g) {
  const int64_t TH = (g.OH + 1) / 2, TW = (g.OW + 1) / 2;
  return {TH, TW, TH * TW, 2 * TH + 2, 2 * TW + 2};
}

// Lanes l of the tile block starting at tw0 that are tiles of the row: tw0 + l < TW.
inline __mmask16 tile_lanes(int64_t tw0, int64_t TW) {
  return lanes_in(0, TW, tw0);
}

// Even and odd elements of the 32 floats a:b (a first).
inline __m512 evens(__m512 a, __m512 b) {
  return _mm512_permutex2var_ps(
      a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b);
}
inline __m512 odds(__m512 a, __m512 b) {
  return _mm512_permutex2var_ps(
      a, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), b);
}
// The first and second 16 floats of e0 o0 e1 o1 ... (e and o interleaved).
inline __m512 interleave_lo(__m512 e, __m512 o) {
  return _mm512_permutex2var_ps(e, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23),
                                o);
}
inline __m512 interleave_hi(__m512 e, __m512 o) {
  return _mm512_permutex2var_ps(
      e, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), o);
}

// v moved one lane up, lane 0 taking the last lane of `prev`.
inline __m512 lanes_up_one(__m512 v, __m512 prev) {
  return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(v), _mm512_castps_si512(prev), 15));
}

// `rows` rows of `cols` floats from src (row stride src_stride) to dst (row stride dst_stride), with masked
// vectors (rows of small planes are shorter than one).
void copy_rows(const float* src, int64_t src_stride, float* dst, int64_t dst_stride, int64_t rows,
               int64_t cols) {
  for (int64_t h = 0; h < rows; ++h) {
    for (int64_t j = 0; j < cols; j += kLanes) {
      const __mmask16 m = lanes_in(0, cols, j);
      _mm512_mask_storeu_ps(dst + h * dst_stride + j, m, _mm512_maskz_loadu_ps(m, src + h * src_stride + j));
    }
  }
}

// The plane x (H, W) copied into pad (Hp, Wp) at offset (PH, PW). Only that inner part is written: the
// rest of pad (zeros around it, and kSlack floats past its end for the loads of the last row's blocks)
// must be zero already, and stays so from plane to plane.
void pad_plane(const float* x, float* pad, const Conv2dGeometry& g, const Tiles& tl) {
  copy_rows(x, g.W, pad + g.PH * tl.Wp + g.PW, tl.Wp, std::min(g.H, tl.Hp - g.PH),
            std::min(g.W, tl.Wp - g.PW));
}

// One gradient plane through the fused ReLU (relu_grad) into `masked` when there is one; returns the
// plane's sum (the bias gradient's share), accumulated in 16 lanes.
float relu_grad_and_sum(const float* dy, const float* relu_out, float* masked, int64_t n) {
  if (relu_out) {
    for (int64_t i = 0; i < n; ++i) masked[i] = relu_grad(relu_out[i], dy[i]);
    dy = masked;
  }
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += kLanes)
    acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(lanes_in(0, n, i), dy + i));
  return _mm512_reduce_add_ps(acc);
}

// V[xi][c][t0 + tile] = (B^T d B)[xi] for every tile of one channel plane, read from its padded copy.
void input_transform(const float* pad, float* V, int64_t ldc, const Tiles& tl) {
  for (int64_t th = 0; th < tl.TH; ++th) {
    for (int64_t tw0 = 0; tw0 < tl.TW; tw0 += kLanes) {
      const __mmask16 m = tile_lanes(tw0, tl.TW);
      __m512 r[4][4];  // r[i][j]: row i of the patches after B^T along columns
      for (int i = 0; i < 4; ++i) {
        const float* row = pad + (2 * th + i) * tl.Wp + 2 * tw0;
        const __m512 a = _mm512_loadu_ps(row), b = _mm512_loadu_ps(row + 16);
        const __m512 a2 = _mm512_loadu_ps(row + 2), b2 = _mm512_loadu_ps(row + 18);
        const __m512 d0 = evens(a, b), d1 = odds(a, b), d2 = evens(a2, b2), d3 = odds(a2, b2);
        r[i][0] = _mm512_sub_ps(d0, d2);
        r[i][1] = _mm512_add_ps(d1, d2);
        r[i][2] = _mm512_sub_ps(d2, d1);
        r[i][3] = _mm512_sub_ps(d1, d3);
      }
      float* out = V + th * tl.TW + tw0;
      for (int j = 0; j < 4; ++j) {
        _mm512_mask_storeu_ps(out + (0 * 4 + j) * ldc, m, _mm512_sub_ps(r[0][j], r[2][j]));
        _mm512_mask_storeu_ps(out + (1 * 4 + j) * ldc, m, _mm512_add_ps(r[1][j], r[2][j]));
        _mm512_mask_storeu_ps(out + (2 * 4 + j) * ldc, m, _mm512_sub_ps(r[2][j], r[1][j]));
        _mm512_mask_storeu_ps(out + (3 * 4 + j) * ldc, m, _mm512_sub_ps(r[1][j], r[3][j]));
      }
    }
  }
}

// U[xi][oc][c] = (G g G^T)[xi] of the filters g = w[oc][c] (3x3) of output channel oc; U is (16, OC, C).
void filter_transform(const float* w, float* U, int64_t oc, int64_t OC, int64_t C) {
  for (int64_t c = 0; c < C; ++c) {
    const float* g = w + (oc * C + c) * 9;
    float t[4][3];  // G g
    for (int k = 0; k < 3; ++k) {
      t[0][k] = g[k];
      t[1][k] = 0.5f * (g[k] + g[3 + k] + g[6 + k]);
      t[2][k] = 0.5f * (g[k] - g[3 + k] + g[6 + k]);
      t[3][k] = g[6 + k];
    }
    for (int i = 0; i < 4; ++i) {
      const float u[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]), 0.5f * (t[i][0] - t[i][1] + t[i][2]),
                          t[i][2]};
      for (int j = 0; j < 4; ++j) U[((i * 4 + j) * OC + oc) * C + c] = u[j];
    }
  }
}

// dw[oc][c] += G^T dU G for the filters of output channel oc, dU[xi][oc][c] being the sum of `count`
// (16, OC, C) arrays `stride` floats apart from `parts`, added in order.
void filter_transform_adjoint(const float* parts, int count, int64_t stride, float* dw, int64_t oc,
                              int64_t OC, int64_t C) {
  for (int64_t c = 0; c < C; ++c) {
    float d[4][4];
    for (int xi = 0; xi < 16; ++xi) {
      const float* at = parts + (xi * OC + oc) * C + c;
      float v = at[0];
      for (int p = 1; p < count; ++p) v += at[p * stride];
      d[xi / 4][xi % 4] = v;
    }
    float t[3][4];  // G^T dU
    for (int j = 0; j < 4; ++j) {
      t[0][j] = d[0][j] + 0.5f * (d[1][j] + d[2][j]);
      t[1][j] = 0.5f * (d[1][j] - d[2][j]);
      t[2][j] = 0.5f * (d[1][j] + d[2][j]) + d[3][j];
    }
    float* out = dw + (oc * C + c) * 9;
    for (int k = 0; k < 3; ++k) {
      out[k * 3 + 0] += t[k][0] + 0.5f * (t[k][1] + t[k][2]);
      out[k * 3 + 1] += 0.5f * (t[k][1] - t[k][2]);
      out[k * 3 + 2] += 0.5f * (t[k][1] + t[k][2]) + t[k][3];
    }
  }
}

// One image's output plane y (OH, OW) of channel oc from M[xi][oc][t0 + tile] (ld ldc between xi):
// A^T m A, plus the bias, then the fused ReLU (v < 0 gives 0; NaN and -0 pass, as relu_of).
void output_transform(const float* M, int64_t ldc, float* y, float bias, bool relu, const Conv2dGeometry& g,
                      const Tiles& tl) {
  const __m512 vb = _mm512_set1_ps(bias), zero = _mm512_setzero_ps();
  for (int64_t th = 0; th < tl.TH; ++th) {
    for (int64_t tw0 = 0; tw0 < tl.TW; tw0 += kLanes) {
      const float* in = M + th * tl.TW + tw0;
      __m512 p[4][2];  // p[i][j]: row i of the products after A^T along columns
      for (int i = 0; i < 4; ++i) {
        const __m512 m0 = _mm512_loadu_ps(in + (i * 4 + 0) * ldc),
                     m1 = _mm512_loadu_ps(in + (i * 4 + 1) * ldc);
        const __m512 m2 = _mm512_loadu_ps(in + (i * 4 + 2) * ldc),
                     m3 = _mm512_loadu_ps(in + (i * 4 + 3) * ldc);
        p[i][0] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
        p[i][1] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
      }
      for (int r = 0; r < 2 && 2 * th + r < g.OH; ++r) {
        __m512 v[2];
        for (int j = 0; j < 2; ++j) {
          v[j] = r == 0 ? _mm512_add_ps(_mm512_add_ps(p[0][j], p[1][j]), p[2][j])
                        : _mm512_sub_ps(_mm512_sub_ps(p[1][j], p[2][j]), p[3][j]);
          v[j] = _mm512_add_ps(v[j], vb);
          if (relu) v[j] = _mm512_mask_mov_ps(v[j], _mm512_cmp_ps_mask(v[j], zero, _CMP_LT_OQ), zero);
        }
        float* row = y + (2 * th + r) * g.OW + 2 * tw0;
        _mm512_mask_storeu_ps(row, lanes_in(0, g.OW, 2 * tw0), interleave_lo(v[0], v[1]));
        _mm512_mask_storeu_ps(row + 16, lanes_in(0, g.OW, 2 * tw0 + 16), interleave_hi(v[0], v[1]));
      }
    }
  }
}

// dM[xi][oc][t0 + tile] = (A dy A^T)[xi] for one image's gradient plane dy (OH, OW) of channel oc; a
// tile's outputs past OH or OW count as zeros.
void gradient_transform(const float* dy, float* dM, int64_t ldc, const Conv2dGeometry& g, const Tiles& tl) {
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t th = 0; th < tl.TH; ++th) {
    for (int64_t tw0 = 0; tw0 < tl.TW; tw0 += kLanes) {
      __m512 q[4][2];  // q[i][j] = (A dy)[i][j]
      __m512 e[2], o[2];
      for (int r = 0; r < 2; ++r) {
        e[r] = o[r] = zero;
        if (2 * th + r >= g.OH) continue;
        const float* row = dy + (2 * th + r) * g.OW + 2 * tw0;
        const __m512 a = _mm512_maskz_loadu_ps(lanes_in(0, g.OW, 2 * tw0), row);
        const __m512 b = _mm512_maskz_loadu_ps(lanes_in(0, g.OW, 2 * tw0 + 16), row + 16);
        e[r] = evens(a, b);
        o[r] = odds(a, b);
      }
      const __m512 col[2][2] = {{e[0], o[0]}, {e[1], o[1]}};  // col[r][j]: dy at tile row r, column j
      for (int j = 0; j < 2; ++j) {
        q[0][j] = col[0][j];
        q[1][j] = _mm512_add_ps(col[0][j], col[1][j]);
        q[2][j] = _mm512_sub_ps(col[0][j], col[1][j]);
        q[3][j] = _mm512_sub_ps(zero, col[1][j]);
      }
      const __mmask16 m = tile_lanes(tw0, tl.TW);
      float* out = dM + th * tl.TW + tw0;
      for (int i = 0; i < 4; ++i) {
        _mm512_mask_storeu_ps(out + (i * 4 + 0) * ldc, m, q[i][0]);
        _mm512_mask_storeu_ps(out + (i * 4 + 1) * ldc, m, _mm512_add_ps(q[i][0], q[i][1]));
        _mm512_mask_storeu_ps(out + (i * 4 + 2) * ldc, m, _mm512_sub_ps(q[i][0], q[i][1]));
        _mm512_mask_storeu_ps(out + (i * 4 + 3) * ldc, m, _mm512_sub_ps(zero, q[i][1]));
      }
    }
  }
}

// The input gradient of one channel plane, dx (H, W), from dV[xi][c][t0 + tile]: each tile's B dV B^T added
// into the padded plane `pad` (tiles overlap by two rows and columns), whose inner (H, W) is then dx.
void input_transform_adjoint(const float* dV, int64_t ldc, float* pad, float* dx, const Conv2dGeometry& g,
                             const Tiles& tl) {
  std::memset(pad, 0, static_cast<size_t>(tl.Hp * tl.Wp + kSlack) * sizeof(float));
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t th = 0; th < tl.TH; ++th) {
    __m512 carry[4][2];  // the previous block's last tile's columns 2 and 3, per row
    for (auto& row : carry) row[0] = row[1] = zero;
    // One block past the last tile when the row ends on a full block: its columns 2 and 3 land there.
    for (int64_t tw0 = 0; 2 * tw0 < tl.Wp; tw0 += kLanes) {
      const __mmask16 m = tile_lanes(tw0, tl.TW);
      const float* in = dV + th * tl.TW + tw0;
      __m512 r[4][4];  // r[i][j] = (B dV)[i][j]
      for (int j = 0; j < 4; ++j) {
        const __m512 v0 = _mm512_maskz_loadu_ps(m, in + (0 * 4 + j) * ldc);
        const __m512 v1 = _mm512_maskz_loadu_ps(m, in + (1 * 4 + j) * ldc);
        const __m512 v2 = _mm512_maskz_loadu_ps(m, in + (2 * 4 + j) * ldc);
        const __m512 v3 = _mm512_maskz_loadu_ps(m, in + (3 * 4 + j) * ldc);
        r[0][j] = v0;
        r[1][j] = _mm512_add_ps(_mm512_sub_ps(v1, v2), v3);
        r[2][j] = _mm512_add_ps(_mm512_sub_ps(v1, v0), v2);
        r[3][j] = _mm512_sub_ps(zero, v3);
      }
      for (int i = 0; i < 4; ++i) {
        // Columns of (B dV B^T)[i]: c0 and c1 land on padded columns 2tw, 2tw+1; c2 and c3 on 2tw+2, 2tw+3,
        // the next tile's first two, so they move one lane up (lane 0 takes the previous block's last).
        const __m512 c0 = r[i][0], c1 = _mm512_add_ps(_mm512_sub_ps(r[i][1], r[i][2]), r[i][3]);
        const __m512 c2 = _mm512_add_ps(_mm512_sub_ps(r[i][1], r[i][0]), r[i][2]),
                     c3 = _mm512_sub_ps(zero, r[i][3]);
        const __m512 even = _mm512_add_ps(c0, lanes_up_one(c2, carry[i][0]));
        const __m512 odd = _mm512_add_ps(c1, lanes_up_one(c3, carry[i][1]));
        carry[i][0] = c2;
        carry[i][1] = c3;
        float* row = pad + (2 * th + i) * tl.Wp + 2 * tw0;
        const __mmask16 lo = lanes_in(0, tl.Wp, 2 * tw0), hi = lanes_in(0, tl.Wp, 2 * tw0 + 16);
        _mm512_mask_storeu_ps(row, lo,
                              _mm512_add_ps(_mm512_maskz_loadu_ps(lo, row), interleave_lo(even, odd)));
        _mm512_mask_storeu_ps(row + 16, hi,
                              _mm512_add_ps(_mm512_maskz_loadu_ps(hi, row + 16), interleave_hi(even, odd)));
      }
    }
  }
  copy_rows(pad + g.PH * tl.Wp + g.PW, tl.Wp, dx, g.W, g.H, g.W);
}

// How one call splits its work, the same for forward and backward: the tiles, the threads, chunks of nb
// images (T tiles), and the sizes of the per-thread buffers, each with slack for whole-vector loads.
// Images per chunk: the chunk's transformed input and products, (16, C + OC, T) floats, fill about a
// core's L2 (1 MiB here), one image at least. Measured on mnist-cnn's second convolution (bench/layers_bench
// conv_algorithm/*winograd): 256 and 512 KiB (one image, 49 tiles: GEMMs too small) and 2-4 MiB were slower.
struct Plan {
  Tiles tl;
  int threads;
  int64_t nb, T, chunks;
  int64_t v_size, m_size, pad_size;  // (16, C, T), (16, OC, T), a padded plane
};

Plan plan_of(const Conv2dGeometry& g) {
  Plan p;
  p.tl = tiles_of(g);
  p.threads = std::max<int>(1, std::min<int64_t>(omp_get_max_threads(), g.N));
  const int64_t bytes_per_image = 16 * (g.C + g.OC) * p.tl.per_image * static_cast<int64_t>(sizeof(float));
  const int64_t fit = std::clamp<int64_t>((int64_t{1} << 20) / bytes_per_image, 1, g.N);
  p.nb = std::min(fit, (g.N + p.threads - 1) / p.threads);
  p.T = p.nb * p.tl.per_image;
  p.chunks = (g.N + p.nb - 1) / p.nb;
  p.v_size = 16 * g.C * p.T + kSlack;
  p.m_size = 16 * g.OC * p.T + kSlack;
  p.pad_size = p.tl.Hp * p.tl.Wp + kSlack;
  return p;
}

// V (16, C, T) of images [n0, n1), the first chunk image's tiles first, through the padded plane `pad`.
void transform_inputs(const float* x, int64_t n0, int64_t n1, float* pad, float* V, const Conv2dGeometry& g,
                      const Plan& p) {
  for (int64_t n = n0; n < n1; ++n) {
    for (int64_t c = 0; c < g.C; ++c) {
      pad_plane(x + (n * g.C + c) * g.H * g.W, pad, g, p.tl);
      input_transform(pad, V + c * p.T + (n - n0) * p.tl.per_image, g.C * p.T, p.tl);
    }
  }
}

}  // namespace

void conv2d_forward_winograd(const float* x, const float* w, const float* b, float* y,
                             const Conv2dGeometry& g, bool relu) {
  MINICNN_ASSERT(conv2d_winograd_applies(g), "conv2d_forward_winograd on a geometry it does not apply to");
  if (g.N == 0) return;
  const Plan p = plan_of(g);
  const Tiles& tl = p.tl;
  const int64_t T = p.T;
  Tensor U = Tensor::empty({16, g.OC, g.C});
  // Per thread: V (16, C, T), M (16, OC, T) and a padded plane.
  Tensor scratch = Tensor::empty({p.threads, p.v_size + p.m_size + p.pad_size});
#pragma omp parallel num_threads(p.threads)
  {
    float* V = scratch.data() + omp_get_thread_num() * (p.v_size + p.m_size + p.pad_size);
    float* M = V + p.v_size;
    float* pad = M + p.m_size;
    std::memset(pad, 0,
                static_cast<size_t>(p.pad_size) * sizeof(float));  // its border stays zero (pad_plane)
#pragma omp for schedule(static)
    for (int64_t oc = 0; oc < g.OC; ++oc) filter_transform(w, U.data(), oc, g.OC, g.C);
#pragma omp for schedule(static)
    for (int64_t chunk = 0; chunk < p.chunks; ++chunk) {
      const int64_t n0 = chunk * p.nb, n1 = std::min(n0 + p.nb, g.N), tiles = (n1 - n0) * tl.per_image;
      transform_inputs(x, n0, n1, pad, V, g, p);
      for (int xi = 0; xi < 16; ++xi) {
        // M[xi] (OC, tiles) = U[xi] (OC, C) V[xi] (C, tiles)
        gemm(false, false, g.OC, tiles, g.C, 1.0f, U.data() + xi * g.OC * g.C, g.C, V + xi * g.C * T, T, 0.0f,
             M + xi * g.OC * T, T);
      }
      for (int64_t n = n0; n < n1; ++n) {
        for (int64_t oc = 0; oc < g.OC; ++oc) {
          output_transform(M + oc * T + (n - n0) * tl.per_image, g.OC * T, y + (n * g.OC + oc) * g.OH * g.OW,
                           b ? b[oc] : 0.0f, relu, g, tl);
        }
      }
    }
  }
}

void conv2d_backward_winograd(const float* x, const float* w, const float* dy, const float* relu_out,
                              float* dx, float* dw, float* db, const Conv2dGeometry& g) {
  MINICNN_ASSERT(conv2d_winograd_applies(g), "conv2d_backward_winograd on a geometry it does not apply to");
  if (g.N == 0) return;
  const Plan p = plan_of(g);
  const Tiles& tl = p.tl;
  const int64_t T = p.T, ohw = g.OH * g.OW;
  Tensor U = Tensor::empty({16, g.OC, g.C});
  // Per thread: V and dV (16, C, T), dM (16, OC, T), two padded planes, a masked dy plane (fused ReLU), and
  // private dU/db sums reduced in thread order afterwards (deterministic for a given thread count).
  const int64_t per_thread = 2 * p.v_size + p.m_size + 2 * p.pad_size + ohw;
  Tensor scratch = Tensor::empty({p.threads, per_thread});
  Tensor sums = Tensor::zeros({p.threads, 16 * g.OC * g.C + g.OC});  // (16, OC, C) dU, then db
#pragma omp parallel num_threads(p.threads)
  {
    const int t = omp_get_thread_num();
    float* V = scratch.data() + t * per_thread;
    float* dV = V + p.v_size;
    float* dM = dV + p.v_size;
    float* pad = dM + p.m_size;
    float* acc = pad + p.pad_size;  // input_transform_adjoint's padded plane
    float* masked = acc + p.pad_size;
    float* dU = sums.data() + t * (16 * g.OC * g.C + g.OC);
    float* dbs = dU + 16 * g.OC * g.C;
    std::memset(pad, 0,
                static_cast<size_t>(p.pad_size) * sizeof(float));  // its border stays zero (pad_plane)
    if (dx) {
#pragma omp for schedule(static)
      for (int64_t oc = 0; oc < g.OC; ++oc) filter_transform(w, U.data(), oc, g.OC, g.C);
    }
#pragma omp for schedule(static)
    for (int64_t chunk = 0; chunk < p.chunks; ++chunk) {
      const int64_t n0 = chunk * p.nb, n1 = std::min(n0 + p.nb, g.N), tiles = (n1 - n0) * tl.per_image;
      for (int64_t n = n0; n < n1; ++n) {
        for (int64_t oc = 0; oc < g.OC; ++oc) {
          const int64_t plane = (n * g.OC + oc) * ohw;
          dbs[oc] += relu_grad_and_sum(dy + plane, relu_out ? relu_out + plane : nullptr, masked, ohw);
          gradient_transform(relu_out ? masked : dy + plane, dM + oc * T + (n - n0) * tl.per_image, g.OC * T,
                             g, tl);
        }
      }
      transform_inputs(x, n0, n1, pad, V, g, p);
      for (int xi = 0; xi < 16; ++xi) {
        // dU[xi] (OC, C) += dM[xi] (OC, tiles) V[xi]^T
        gemm(false, true, g.OC, g.C, tiles, 1.0f, dM + xi * g.OC * T, T, V + xi * g.C * T, T, 1.0f,
             dU + xi * g.OC * g.C, g.C);
        // dV[xi] (C, tiles) = U[xi]^T dM[xi]
        if (dx) {
          gemm(true, false, g.C, tiles, g.OC, 1.0f, U.data() + xi * g.OC * g.C, g.C, dM + xi * g.OC * T, T,
               0.0f, dV + xi * g.C * T, T);
        }
      }
      if (dx) {
        for (int64_t n = n0; n < n1; ++n) {
          for (int64_t c = 0; c < g.C; ++c) {
            input_transform_adjoint(dV + c * T + (n - n0) * tl.per_image, g.C * T, acc,
                                    dx + (n * g.C + c) * g.H * g.W, g, tl);
          }
        }
      }
    }
    // The threads' dU summed in thread order, through the adjoint filter transform into dw; db likewise.
    const int64_t stride = 16 * g.OC * g.C + g.OC;
#pragma omp for schedule(static)
    for (int64_t oc = 0; oc < g.OC; ++oc) {
      filter_transform_adjoint(sums.data(), p.threads, stride, dw, oc, g.OC, g.C);
      if (db) {
        float v = sums.data()[16 * g.OC * g.C + oc];
        for (int part = 1; part < p.threads; ++part) v += sums.data()[part * stride + 16 * g.OC * g.C + oc];
        db[oc] += v;
      }
    }
  }
}
#else
void conv2d_forward_winograd(const float*, const float*, const float*, float*, const Conv2dGeometry&, bool) {
  MINICNN_ASSERT(false, "conv2d_forward_winograd needs AVX-512");
}
void conv2d_backward_winograd(const float*, const float*, const float*, const float*, float*, float*, float*,
                              const Conv2dGeometry&) {
  MINICNN_ASSERT(false, "conv2d_backward_winograd needs AVX-512");
}
#endif

}  // namespace minicnn::cpu
