// Conv2d on the CPU: per-image im2col and GEMMs (cpu::gemm), images spread over OpenMP threads; 3x3
// stride-1 layers with enough channels go to Winograd's F(2x2, 3x3) (conv2d_winograd.cpp).
#include <minicnn/conv2d.h>

#include <fmt/format.h>
#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstring>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <vector>

#include <minicnn/check.h>
#include <minicnn/gemm.h>
#include <minicnn/init.h>
#include <minicnn/lanes.h>
#include <minicnn/relu.h>

namespace minicnn {
namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMatMap = Eigen::Map<const RowMat>;

// For tap (kh, kw): output rows [oh0, oh1) and columns [ow0, ow1) read inside the input; output row oh0
// reads input row ih_of_oh0, and output column ow reads input column ow*SW + off_w.
struct TapWindow {
  int64_t oh0, oh1, ow0, ow1, off_w, ih_of_oh0;
};

TapWindow tap_window(const Conv2dGeometry& g, int64_t kh, int64_t kw) {
  const int64_t off_h = kh * g.DH - g.PH, off_w = kw * g.DW - g.PW;
  auto range = [](int64_t off, int64_t S, int64_t in, int64_t out) {
    int64_t lo = off >= 0 ? 0 : (-off + S - 1) / S;
    int64_t hi = in - off <= 0 ? 0 : (in - off + S - 1) / S;
    hi = std::min(hi, out);
    return std::pair<int64_t, int64_t>{std::min(lo, hi), hi};
  };
  const auto [oh0, oh1] = range(off_h, g.SH, g.H, g.OH);
  const auto [ow0, ow1] = range(off_w, g.SW, g.W, g.OW);
  return {oh0, oh1, ow0, ow1, off_w, oh0 * g.SH + off_h};
}

#if defined(__AVX512F__)
using cpu::lanes_in;
#endif

// n contiguous floats copied (or zeroed) with whole-vector loads and stores, the last vector overlapping
// the one before it; shorter runs element by element (zeros: one masked store). No libc call (its cost
// dominates runs of a few hundred floats) and no masked load (slow on Zen 4 where it crosses a cache line).
inline void copy_floats(float* d, const float* src, int64_t n) {
#if defined(__AVX512F__)
  if (n >= 16) {
    for (int64_t i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(d + i, _mm512_loadu_ps(src + i));
    _mm512_storeu_ps(d + n - 16, _mm512_loadu_ps(src + n - 16));
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i) d[i] = src[i];
}

inline void zero_floats(float* d, int64_t n) {
#if defined(__AVX512F__)
  if (n >= 16) {
    for (int64_t i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(d + i, _mm512_setzero_ps());
    _mm512_storeu_ps(d + n - 16, _mm512_setzero_ps());
  } else if (n > 0) {
    // One masked store: a loop here becomes a memset call, which costs more than a padding column.
    _mm512_mask_storeu_ps(d, static_cast<__mmask16>((1u << n) - 1u), _mm512_setzero_ps());
  }
#else
  for (int64_t i = 0; i < n; ++i) d[i] = 0.0f;
#endif
}

// True when every im2col row is the input plane shifted by a constant: stride 1 and an output as wide as
// the input (a "same" convolution), so a tap's rows in a chunk are one contiguous run of the plane.
bool plane_shift_layout(const Conv2dGeometry& g) { return g.SH == 1 && g.SW == 1 && g.OW == g.W; }

// Floats past the end of a column matrix that im2col may overwrite. At column stride 1 it stores whole
// vectors, up to 15 lanes past each row; rows are written in order, so the next row's stores replace those
// lanes, and the last row's land here (masked stores are slow on Zen 4).
constexpr int64_t kColumnSlack = 16;

// One im2col row of tap t at column stride 1: d[ow] = src[ow + off_w] for ow in [ow0, ow1), 0 elsewhere
// (`src` is the input row, or null where the tap reads a padding row; loads stop at `src_end`). Rows of
// small planes are 5 to 30 floats: one load (masked only at the borders) and one whole-vector store per
// 16 columns, no memcpy/memset calls.
inline void gather_row(float* d, const float* src, const float* src_end, const TapWindow& t, int64_t OW) {
#if defined(__AVX512F__)
  for (int64_t j = 0; j < OW; j += 16) {
    const __mmask16 store = lanes_in(0, OW, j), load = src ? lanes_in(t.ow0, t.ow1, j) & store : 0;
    // No load at all for a padding row: a masked load from an unmapped address (src is null there) is
    // a fault-suppression assist costing hundreds of cycles on Zen 4. Whole blocks use plain loads, and
    // so does a row's last block that reads no padding while 16 floats from it stay inside the image (a
    // masked load that crosses a cache line is slow there too).
    __m512 v = _mm512_setzero_ps();
    if (load == 0xFFFF || (load == store && src + t.off_w + j + 16 <= src_end)) {
      v = _mm512_loadu_ps(src + t.off_w + j);
    } else if (load != 0) {
      v = _mm512_maskz_loadu_ps(load, src + t.off_w + j);
    }
    _mm512_storeu_ps(d + j, v);  // whole vector: see kColumnSlack
  }
#else
  (void)src_end;  // every load is in bounds here
  for (int64_t ow = 0; ow < OW; ++ow) d[ow] = src && ow >= t.ow0 && ow < t.ow1 ? src[ow + t.off_w] : 0.0f;
#endif
}

// The column matrix of output rows [r0, r1): (C*KH*KW, (r1 - r0)*OW); row (c, kh, kw) holds the input
// pixel each of those output positions sees through that tap (0 where it sees padding). Channel by
// channel, so a plane stays in L1 while its KH*KW rows are written; "same" convolutions move whole runs.
// `taps` holds tap_window() of every (kh, kw), row-major.
void im2col(const float* x, float* col, const Conv2dGeometry& g, const TapWindow* taps, int64_t r0, int64_t r1) {
  const int64_t len = (r1 - r0) * g.OW;
  const float* x_end = x + g.C * g.H * g.W;
  const bool shift = plane_shift_layout(g);
  for (int64_t c = 0; c < g.C; ++c) {
    const float* xc = x + c * g.H * g.W;
    for (int64_t k = 0; k < g.KH * g.KW; ++k) {
      const TapWindow& t = taps[k];
      float* dst = col + (c * g.KH * g.KW + k) * len;
      if (shift) {
        // Rows [a, b) of the chunk read inside the input: one copy of the run they read, zeros around it
        // and in the columns that read padding.
        const int64_t a = std::max(t.oh0, r0), b = std::min(t.oh1, r1);
        if (a >= b || t.ow0 >= t.ow1) {
          zero_floats(dst, len);
          continue;
        }
        const int64_t begin = (a - r0) * g.OW + t.ow0, end = (b - 1 - r0) * g.OW + t.ow1;
        copy_floats(dst + begin, xc + (t.ih_of_oh0 + (a - t.oh0)) * g.W + t.ow0 + t.off_w, end - begin);
        zero_floats(dst, begin);
        zero_floats(dst + end, len - end);
        for (int64_t oh = a; oh < b; ++oh) {
          float* row = dst + (oh - r0) * g.OW;
          zero_floats(row, t.ow0);
          zero_floats(row + t.ow1, g.OW - t.ow1);
        }
        continue;
      }
#if defined(__AVX512F__)
      if (g.SW == 1 && g.OW <= 16 && t.ow0 == 0 && t.ow1 == g.OW) {
        // Rows of at most 16 columns, none of them padding: one whole-vector copy per row (kColumnSlack),
        // no masks. Rows of padding are zeros; the last rows of the image load masked, to stay inside it.
        const int64_t a = std::clamp(t.oh0, r0, r1), b = std::clamp(t.oh1, r0, r1);
        for (int64_t oh = r0; oh < a; ++oh) _mm512_storeu_ps(dst + (oh - r0) * g.OW, _mm512_setzero_ps());
        for (int64_t oh = a; oh < b; ++oh) {
          const float* src = xc + (t.ih_of_oh0 + (oh - t.oh0) * g.SH) * g.W + t.off_w;
          const __m512 v =
              src + 16 <= x_end ? _mm512_loadu_ps(src) : _mm512_maskz_loadu_ps(lanes_in(0, g.OW, 0), src);
          _mm512_storeu_ps(dst + (oh - r0) * g.OW, v);
        }
        for (int64_t oh = b; oh < r1; ++oh) _mm512_storeu_ps(dst + (oh - r0) * g.OW, _mm512_setzero_ps());
        continue;
      }
#endif
      for (int64_t oh = r0; oh < r1; ++oh) {
        float* d = dst + (oh - r0) * g.OW;
        const bool inside = oh >= t.oh0 && oh < t.oh1;
        const float* src = inside ? xc + (t.ih_of_oh0 + (oh - t.oh0) * g.SH) * g.W : nullptr;
        if (g.SW == 1) {
          gather_row(d, src, x_end, t, g.OW);
        } else if (!src) {
          zero_floats(d, g.OW);
        } else {
          zero_floats(d, t.ow0);
          for (int64_t ow = t.ow0; ow < t.ow1; ++ow) d[ow] = src[ow * g.SW + t.off_w];
          zero_floats(d + t.ow1, g.OW - t.ow1);
        }
      }
    }
  }
}

// A 1x1 convolution with stride 1 and no padding reads the input itself as its column matrix.
bool input_is_column_matrix(const Conv2dGeometry& g) {
  return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0;
}

// Every tap's window, row-major over (kh, kw).
std::vector<TapWindow> tap_windows(const Conv2dGeometry& g) {
  std::vector<TapWindow> taps(static_cast<size_t>(g.KH * g.KW));
  for (int64_t k = 0; k < g.KH * g.KW; ++k) taps[static_cast<size_t>(k)] = tap_window(g, k / g.KW, k % g.KW);
  return taps;
}

// The adjoint of im2col for output rows [r0, r1): adds each column entry back to the input pixel it was
// read from (dx must hold the sums of earlier chunks, or zeros). At column stride 1 each input row
// gathers its taps in registers and is written once; scattering tap by tap would store to overlapping
// addresses one float apart, which stalls the core's store forwarding.
// `taps` holds tap_window() of every (kh, kw), row-major.
void col2im(const float* col, float* dx, const Conv2dGeometry& g, const TapWindow* taps, int64_t r0, int64_t r1) {
  const int64_t len = (r1 - r0) * g.OW;
#if defined(__AVX512F__)
  if (g.SW == 1) {
    // Input rows this chunk's outputs read: from row r0's first tap to row (r1 - 1)'s last.
    const int64_t ih0 = std::max<int64_t>(0, r0 * g.SH - g.PH);
    const int64_t ih1 = std::min<int64_t>(g.H, (r1 - 1) * g.SH - g.PH + (g.KH - 1) * g.DH + 1);
    for (int64_t c = 0; c < g.C; ++c) {
      float* dxc = dx + c * g.H * g.W;
      const float* colc = col + c * g.KH * g.KW * len;
      for (int64_t ih = ih0; ih < ih1; ++ih) {
        for (int64_t j = 0; j < g.W; j += 16) {
          const __mmask16 store = lanes_in(0, g.W, j);
          __m512 acc = _mm512_maskz_loadu_ps(store, dxc + ih * g.W + j);
          for (int64_t kh = 0; kh < g.KH; ++kh) {
            const int64_t num = ih + g.PH - kh * g.DH;  // = oh * SH for the output row oh reading ih
            if (num < 0 || num % g.SH != 0) continue;
            const int64_t oh = num / g.SH;
            if (oh < r0 || oh >= r1) continue;
            for (int64_t kw = 0; kw < g.KW; ++kw) {
              const TapWindow& t = taps[kh * g.KW + kw];
              // Input column iw takes output column iw - off_w, which must lie in [ow0, ow1).
              const __mmask16 m = lanes_in(t.ow0 + t.off_w, t.ow1 + t.off_w, j) & store;
              const float* src = colc + (kh * g.KW + kw) * len + (oh - r0) * g.OW - t.off_w + j;
              acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, src));
            }
          }
          _mm512_mask_storeu_ps(dxc + ih * g.W + j, store, acc);
        }
      }
    }
    return;
  }
#endif
  for (int64_t c = 0; c < g.C; ++c) {
    float* dxc = dx + c * g.H * g.W;
    for (int64_t k = 0; k < g.KH * g.KW; ++k) {
      const TapWindow& t = taps[k];
      const float* src = col + (c * g.KH * g.KW + k) * len;
      for (int64_t oh = std::max(t.oh0, r0); oh < std::min(t.oh1, r1); ++oh) {
        float* d = dxc + (t.ih_of_oh0 + (oh - t.oh0) * g.SH) * g.W + t.off_w;
        const float* sp = src + (oh - r0) * g.OW;
        for (int64_t ow = t.ow0; ow < t.ow1; ++ow) d[ow * g.SW] += sp[ow];
      }
    }
  }
}

// Output rows per column-matrix chunk: chunks of about 256 KiB stay in a core's L2 cache between im2col
// and the GEMMs that read them (measured with bench/layers_bench: whole-image columns of the 32x32 layers
// spill to L3).
int64_t rows_per_chunk(const Conv2dGeometry& g) {
  const int64_t row_bytes = g.C * g.KH * g.KW * g.OW * static_cast<int64_t>(sizeof(float));
  return std::clamp<int64_t>((int64_t{256} << 10) / std::max<int64_t>(row_bytes, 1), 1, g.OH);
}

}  // namespace

namespace cpu {

namespace {

// Winograd when asked for, or under Auto where it applies; asking for it where it does not is a bug.
bool use_winograd(const Conv2dGeometry& g, ConvAlgorithm algorithm) {
  if (algorithm == ConvAlgorithm::Im2col) return false;
  MINICNN_ASSERT(algorithm == ConvAlgorithm::Auto || conv2d_winograd_applies(g),
                 "ConvAlgorithm::Winograd on a geometry it does not apply to");
  return conv2d_winograd_applies(g);
}

// oneDNN's F(4x4, 3x3) when asked for, or under Auto where it is preferred.
bool use_onednn(const Conv2dGeometry& g, ConvAlgorithm algorithm) {
  if (algorithm == ConvAlgorithm::OnednnWinograd) {
    MINICNN_ASSERT(conv2d_onednn_applies(g),
                   "ConvAlgorithm::OnednnWinograd on a geometry it does not apply to");
    return true;
  }
  return algorithm == ConvAlgorithm::Auto && conv2d_onednn_prefers(g);
}

}  // namespace

bool conv2d_onednn_prefers(const Conv2dGeometry& g) {
  return g.C >= kOnednnMinChannels && g.OC >= kOnednnMinChannels && conv2d_onednn_applies(g);
}

void conv2d_forward(const float* x, const float* w, const float* b, float* y, const Conv2dGeometry& g,
                    bool relu, ConvAlgorithm algorithm) {
  if (use_onednn(g, algorithm)) return conv2d_forward_onednn(x, w, b, y, g, relu);
  if (use_winograd(g, algorithm)) return conv2d_forward_winograd(x, w, b, y, g, relu);
  const int64_t ckk = g.C * g.KH * g.KW, ohw = g.OH * g.OW;
  const int threads = std::max<int>(1, std::min<int64_t>(omp_get_max_threads(), g.N));
  const bool direct = input_is_column_matrix(g);
  const int64_t chunk = direct ? g.OH : rows_per_chunk(g);
  // Per thread: a column chunk (CKK, rows*OW) and its slack.
  const int64_t per_thread = ckk * chunk * g.OW + kColumnSlack;
  Tensor workspace = direct ? Tensor() : Tensor::empty({threads, per_thread});
  const std::vector<TapWindow> taps = tap_windows(g);
#pragma omp parallel num_threads(threads)
  {
    float* col = direct ? nullptr : workspace.data() + omp_get_thread_num() * per_thread;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.N; ++n) {
      const float* xn = x + n * g.C * g.H * g.W;
      float* yn = y + n * g.OC * ohw;  // (OC, OH*OW)
      for (int64_t r0 = 0; r0 < g.OH; r0 += chunk) {
        const int64_t r1 = std::min(r0 + chunk, g.OH), len = (r1 - r0) * g.OW;
        if (!direct) im2col(xn, col, g, taps.data(), r0, r1);
        // y[:, rows] = W (OC, CKK) col (CKK, len)
        gemm(false, false, g.OC, len, ckk, 1.0f, w, ckk, direct ? xn : col, len, 0.0f, yn + r0 * g.OW, ohw);
      }
      if (b || relu) {
        for (int64_t oc = 0; oc < g.OC; ++oc) {
          float* row = yn + oc * ohw;
          const float bias = b ? b[oc] : 0.0f;
          if (relu) {
            for (int64_t i = 0; i < ohw; ++i) row[i] = relu_of(row[i] + bias);
          } else {
            for (int64_t i = 0; i < ohw; ++i) row[i] += bias;
          }
        }
      }
    }
  }
}

void conv2d_backward(const float* x, const float* w, const float* dy, const float* relu_out, float* dx,
                     float* dw, float* db, const Conv2dGeometry& g, ConvAlgorithm algorithm) {
  if (use_onednn(g, algorithm)) return conv2d_backward_onednn(x, w, dy, relu_out, dx, dw, db, g);
  if (use_winograd(g, algorithm)) return conv2d_backward_winograd(x, w, dy, relu_out, dx, dw, db, g);
  const int64_t ckk = g.C * g.KH * g.KW, ohw = g.OH * g.OW;
  const int threads = std::max<int>(1, std::min<int64_t>(omp_get_max_threads(), g.N));
  const bool direct = input_is_column_matrix(g);
  const int64_t chunk = direct ? g.OH : rows_per_chunk(g);
  // Per thread: a column chunk, its gradient, a masked dy (fused ReLU), and private dw/db sums reduced in
  // thread order afterwards (deterministic for a given thread count). The column matrix is rebuilt here
  // rather than kept from forward: a chunk stays in the cache, a batch of whole matrices would not.
  const int64_t col_size = ckk * chunk * g.OW + kColumnSlack;  // with im2col's slack
  const int64_t per_thread = col_size + ckk * chunk * g.OW + g.OC * ohw;
  Tensor scratch = Tensor::empty({threads, per_thread});
  Tensor dws = Tensor::zeros({threads, g.OC * ckk + g.OC});
  const std::vector<TapWindow> taps = tap_windows(g);
  // With 16 to 32 output channels the products run 1.2-3x faster as dW^T (CKK, OC), rows of OC floats,
  // than as dW (OC, CKK) (bench/layers_bench gemm_dw_*: mnist-cnn's first and cifar-cnn's second
  // convolution); fewer channels than a vector, or more, are faster the other way.
  const bool transposed_dw = g.OC >= 16 && g.OC <= 32;
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    float* col = scratch.data() + t * per_thread;
    float* dcol = col + col_size;
    float* masked = dcol + ckk * chunk * g.OW;
    float* dwp = dws.data() + t * (g.OC * ckk + g.OC);  // this thread's dW sums, (OC, CKK) or (CKK, OC)
    Eigen::Map<Eigen::VectorXf> dbv(dws.data() + t * (g.OC * ckk + g.OC) + g.OC * ckk, g.OC);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.N; ++n) {
      const float* dyn = dy + n * g.OC * ohw;
      if (relu_out) {
        const float* yn = relu_out + n * g.OC * ohw;
        for (int64_t i = 0; i < g.OC * ohw; ++i) masked[i] = relu_grad(yn[i], dyn[i]);
        dyn = masked;
      }
      dbv += ConstMatMap(dyn, g.OC, ohw).rowwise().sum();
      const float* xn = x + n * g.C * g.H * g.W;
      float* dxn = dx ? dx + n * g.C * g.H * g.W : nullptr;
      if (dxn && !direct) std::memset(dxn, 0, static_cast<size_t>(g.C * g.H * g.W) * sizeof(float));
      for (int64_t r0 = 0; r0 < g.OH; r0 += chunk) {
        const int64_t r1 = std::min(r0 + chunk, g.OH), len = (r1 - r0) * g.OW;
        const float* dy_rows = dyn + r0 * g.OW;  // (OC, len) with row stride OH*OW
        if (!direct) im2col(xn, col, g, taps.data(), r0, r1);
        const float* cols = direct ? xn : col;  // (CKK, len)
        if (transposed_dw) {
          gemm(false, true, ckk, g.OC, len, 1.0f, cols, len, dy_rows, ohw, 1.0f, dwp, g.OC);  // dW^T += col dy^T
        } else {
          gemm(false, true, g.OC, ckk, len, 1.0f, dy_rows, ohw, cols, len, 1.0f, dwp, ckk);  // dW += dy col^T
        }
        if (dxn) {
          // dcol (CKK, len) = W^T dy_rows, scattered back to dx; a 1x1 convolution writes dx directly
          gemm(true, false, ckk, len, g.OC, 1.0f, w, ckk, dy_rows, ohw, 0.0f, direct ? dxn : dcol, len);
          if (!direct) col2im(dcol, dxn, g, taps.data(), r0, r1);
        }
      }
    }
  }
  for (int t = 0; t < threads; ++t) {
    const float* part = dws.data() + t * (g.OC * ckk + g.OC);
    if (transposed_dw) {
      for (int64_t oc = 0; oc < g.OC; ++oc) {
        for (int64_t k = 0; k < ckk; ++k) dw[oc * ckk + k] += part[k * g.OC + oc];
      }
    } else {
      for (int64_t i = 0; i < g.OC * ckk; ++i) dw[i] += part[i];
    }
    if (db) {
      for (int64_t i = 0; i < g.OC; ++i) db[i] += part[g.OC * ckk + i];
    }
  }
}

}  // namespace cpu

namespace {

// The output shape of geometry g for an input of rank 3 (C, H, W) or 4 (N, C, H, W).
Shape output_shape_of(const Conv2dGeometry& g, int64_t rank) {
  return rank == 3 ? Shape{g.OC, g.OH, g.OW} : Shape{g.N, g.OC, g.OH, g.OW};
}

Window2d window_of(const Conv2dOptions& o) {
  return {o.kernel_size_.h, o.kernel_size_.w, o.stride_.h, o.stride_.w,
          o.padding_.h,     o.padding_.w,     o.dilation_.h, o.dilation_.w};
}

void check_impl_device(const char* op, ConvImpl impl, const Tensor& x) {
  MINICNN_CHECK(impl == ConvImpl::Native || x.is_cuda(), op,
                ": impl=cudnn runs on CUDA tensors only, but got a ", "tensor on ", x.device().str(),
                "; use impl=native on the CPU");
#if !MINICNN_CUDNN
  MINICNN_CHECK(impl == ConvImpl::Native, op,
                ": impl=cudnn needs a minicnn built with cuDNN (-DMINICNN_CUDNN=ON); ", "use impl=native");
#endif
}

// ---- Device dispatch: the one place that knows which backends this build has (check_impl_device ran first).

void forward_on(const Tensor& x, const float* w, const float* b, Tensor& y, const Conv2dGeometry& g,
                bool relu, ConvImpl impl) {
#if MINICNN_CUDA
  if (x.is_cuda()) {
    MINICNN_ASSERT(!relu, "a ReLU fused into a layer on CUDA (Model fuses on the CPU only)");
#if MINICNN_CUDNN
    if (impl == ConvImpl::Cudnn) return cudnn::conv2d_forward(x.data(), w, b, y.data(), g);
#endif
    return cuda::conv2d_forward(x.data(), w, b, y.data(), g);
  }
#endif
  (void)impl;
  cpu::conv2d_forward(x.data(), w, b, y.data(), g, relu);
}

// `relu_out`: the fused ReLU's output (dy passes where it is > 0), or undefined; ReLUs are fused on the CPU
// only (Model::fuse_relus), so the CUDA path knows none.
void backward_on(const Tensor& x, const float* w, const Tensor& dy, const Tensor& relu_out, float* dx,
                 float* dw, float* db, const Conv2dGeometry& g, ConvImpl impl) {
#if MINICNN_CUDA
  if (x.is_cuda()) {
#if MINICNN_CUDNN
    if (impl == ConvImpl::Cudnn) return cudnn::conv2d_backward(x.data(), w, dy.data(), dx, dw, db, g);
#endif
    return cuda::conv2d_backward(x.data(), w, dy.data(), dx, dw, db, g);
  }
#endif
  (void)impl;
  cpu::conv2d_backward(x.data(), w, dy.data(), relu_out.defined() ? relu_out.data() : nullptr, dx, dw, db, g);
}

}  // namespace

ConvImpl parse_conv_impl(const std::string& text) {
  if (text == "native") return ConvImpl::Native;
  if (text == "cudnn") return ConvImpl::Cudnn;
  detail::throw_error(fmt::format("conv impl: expected 'native' or 'cudnn', but got '{}'", text));
}

const char* conv_impl_name(ConvImpl impl) {
  return impl == ConvImpl::Native ? "native" : "cudnn";
}

Conv2d::Conv2d(Conv2dOptions options) : options_(options) {
  const Conv2dOptions& o = options_;
  MINICNN_CHECK(o.in_channels_ > 0 || o.in_channels_ == -1, "Conv2d: in_channels should be positive, but got ",
                o.in_channels_);
  MINICNN_CHECK(o.out_channels_ > 0, type_name(), ": out_channels should be positive, but got ", o.out_channels_);
  check_window(type_name(), window_of(o));
  if (o.in_channels_ > 0) materialize(Shape{1, o.in_channels_, 1, 1});
}

std::string Conv2d::repr() const {
  const Conv2dOptions& o = options_;
  std::string s = o.in_channels_ < 0 ? fmt::format("LazyConv2d({}", o.out_channels_)
                                     : fmt::format("Conv2d({}, {}", o.in_channels_, o.out_channels_);
  s += fmt::format(", kernel_size={}, stride={}", o.kernel_size_.pair_str(), o.stride_.pair_str());
  if (!(o.padding_ == IntPair(0))) s += fmt::format(", padding={}", o.padding_.pair_str());
  if (!(o.dilation_ == IntPair(1))) s += fmt::format(", dilation={}", o.dilation_.pair_str());
  if (!o.bias_) s += ", bias=False";
  return s + ")";
}

Conv2dGeometry Conv2d::geometry(const Shape& in) const {
  const Conv2dOptions& o = options_;
  const auto [N, C, H, W] = window_input_nchw(type_name(), in);
  MINICNN_CHECK(o.in_channels_ < 0 || C == o.in_channels_, type_name(), ": expected input with ", o.in_channels_,
                " channels (in_channels), but got ", C, " channels in shape ", in);
  const Window2d w = window_of(o);
  const IntPair out = window_output_hw(type_name(), in, w, false, "use a smaller kernel_size or add padding");
  return {N, C, H, W, o.out_channels_, out.h, out.w, w.KH, w.KW, w.SH, w.SW, w.PH, w.PW, w.DH, w.DW};
}

Shape Conv2d::output_shape(const Shape& in) const {
  return output_shape_of(geometry(in), in.rank());
}

void Conv2d::materialize(const Shape& in) {
  const int64_t C = in[in.rank() - 3];
  if (options_.in_channels_ < 0) options_.in_channels_ = C;  // LazyConv2d becomes Conv2d
  if (weight_.value.defined()) return;
  const IntPair k = options_.kernel_size_;
  weight_.value = Tensor::zeros({options_.out_channels_, options_.in_channels_, k.h, k.w});
  weight_.grad = Tensor::zeros(weight_.value.shape());
  if (options_.bias_) {
    bias_.value = Tensor::zeros({options_.out_channels_});
    bias_.grad = Tensor::zeros({options_.out_channels_});
  }
}

void Conv2d::reset_parameters(Generator& gen) {
  MINICNN_ASSERT(weight_.value.defined(), "reset_parameters before materialize");
  const IntPair k = options_.kernel_size_;
  torch_default_init(weight_.value, options_.bias_ ? &bias_.value : nullptr, options_.in_channels_ * k.h * k.w, gen);
}

std::vector<Parameter*> Conv2d::parameters() {
  if (options_.bias_) return {&weight_, &bias_};
  return {&weight_};
}

std::optional<Window2d> Conv2d::window() const { return window_of(options_); }

Tensor Conv2d::forward(const Tensor& x, Mode mode) {
  MINICNN_CHECK(weight_.value.defined(), type_name(), ": forward() before the model was built (in_channels unknown)");
  MINICNN_CHECK(x.device() == weight_.value.device(), type_name(), ": the input is on ", x.device().str(),
                " but the weight is on ", weight_.value.device().str());
  check_impl_device("Conv2d", options_.impl_, x);
  const Conv2dGeometry g = geometry(x.shape());
  Tensor y = Tensor::empty(output_shape(x.shape()), DType::Float32, x.device());
  forward_on(x, weight_.value.data(), options_.bias_ ? bias_.value.data() : nullptr, y, g, relu_,
             options_.impl_);
  const bool train = mode == Mode::Train;
  input_ = train ? x : Tensor();
  geometry_ = g;
  output_ = train && relu_ ? y : Tensor();
  return y;
}

Tensor Conv2d::backward(const Tensor& dy) {
  const ReleaseAfterBackward release(input_, output_);
  check_backward(type_name(), input_, dy, output_shape_of(geometry_, input_.dim()));
  Tensor dx = needs_input_grad_ ? Tensor::empty(input_.shape(), DType::Float32, dy.device()) : Tensor();
  backward_on(input_, weight_.value.data(), dy, output_, dx.defined() ? dx.data() : nullptr,
              weight_.grad.data(), options_.bias_ ? bias_.grad.data() : nullptr, geometry_, options_.impl_);
  return dx;
}

}  // namespace minicnn
