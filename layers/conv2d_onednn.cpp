// Conv2d on the CPU through oneDNN's convolution primitives with Winograd's F(4x4, 3x3) (oneDNN's
// jit_wino_4x3 kernels, AVX-512): 36 products per 4x4 output tile where F(2x2, 3x3) takes 64 for the same
// 16 outputs. The layers' tensors stay NCHW; each call reorders what it reads into the blocked layouts the
// primitives chose, and what it writes back.
#include <minicnn/conv2d.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <minicnn/check.h>
#include <minicnn/relu.h>

#if MINICNN_ONEDNN
#include <dnnl.hpp>
#endif

namespace minicnn::cpu {

#if MINICNN_ONEDNN
namespace {

using dnnl::memory;
using Dims = memory::dims;
using Tag = memory::format_tag;

// The engine and the primitives' cache below are never destroyed: at exit, destroying them would race
// with the order in which oneDNN's own globals go.
dnnl::engine& cpu_engine() {
  static auto* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

// The primitives of one geometry (with or without a bias), built once: descriptors let oneDNN pick its
// own layouts (format_tag::any); scratchpads come from the caller (user mode) so that no primitive holds
// memory between calls.
struct Primitives {
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_backward_data::primitive_desc data_pd;
  dnnl::convolution_backward_weights::primitive_desc weights_pd;
  dnnl::convolution_forward fwd;
  dnnl::convolution_backward_data data;
  dnnl::convolution_backward_weights weights;
};

Dims src_dims(const Conv2dGeometry& g) {
  return {g.N, g.C, g.H, g.W};
}
Dims weight_dims(const Conv2dGeometry& g) {
  return {g.OC, g.C, g.KH, g.KW};
}
Dims dst_dims(const Conv2dGeometry& g) {
  return {g.N, g.OC, g.OH, g.OW};
}

memory::desc plain(const Dims& dims, Tag tag) {
  return memory::desc(dims, memory::data_type::f32, tag);
}
memory::desc any(const Dims& dims) {
  return plain(dims, Tag::any);
}

// nullopt where oneDNN has no Winograd kernel for the geometry (or the CPU lacks AVX-512).
std::optional<Primitives> build(const Conv2dGeometry& g, bool bias) {
  const Dims strides{g.SH, g.SW}, dilation{g.DH - 1, g.DW - 1}, pad_l{g.PH, g.PW};
  // The right and bottom padding that gives OH x OW outputs (torch pads both sides by P and floors).
  const Dims pad_r{(g.OH - 1) * g.SH + (g.KH - 1) * g.DH + 1 - g.H - g.PH,
                   (g.OW - 1) * g.SW + (g.KW - 1) * g.DW + 1 - g.W - g.PW};
  const auto winograd = dnnl::algorithm::convolution_winograd;
  const memory::desc src = any(src_dims(g)), wei = any(weight_dims(g)), dst = any(dst_dims(g));
  const memory::desc bias_md = bias ? plain({g.OC}, Tag::x) : memory::desc();
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  try {
    Primitives p;
    p.fwd_pd = {{dnnl::prop_kind::forward_training, winograd, src, wei, bias_md, dst, strides, dilation,
                 pad_l, pad_r},
                attr,
                cpu_engine()};
    p.data_pd = {{winograd, src, wei, dst, strides, dilation, pad_l, pad_r}, attr, cpu_engine(), p.fwd_pd};
    p.weights_pd = {
        {winograd, src, wei, bias_md, dst, strides, dilation, pad_l, pad_r}, attr, cpu_engine(), p.fwd_pd};
    p.fwd = dnnl::convolution_forward(p.fwd_pd);
    p.data = dnnl::convolution_backward_data(p.data_pd);
    p.weights = dnnl::convolution_backward_weights(p.weights_pd);
    return p;
  } catch (const dnnl::error&) {
    return std::nullopt;
  }
}

// The primitives of a geometry, built on first use and kept (a run meets a handful of batch sizes).
const std::optional<Primitives>& primitives(const Conv2dGeometry& g, bool bias) {
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                         int64_t, int64_t, int64_t, int64_t, bool>;
  static std::mutex mutex;
  static auto* cache = new std::map<Key, std::unique_ptr<const std::optional<Primitives>>>();
  const Key key{g.N, g.C, g.H, g.W, g.OC, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW, bias};
  std::lock_guard<std::mutex> lock(mutex);
  auto& entry = (*cache)[key];
  if (!entry) entry = std::make_unique<const std::optional<Primitives>>(build(g, bias));
  return *entry;
}

// Memory for one thread's calls, reused from call to call: a stack of buffers carved from one block that
// grows to the largest call's peak (a call that outgrows it takes extra blocks while it runs). Chunks of
// images (chunk_of) bound that peak, so a run holds one block of tens of MiB.
class Scratch {
 public:
  size_t mark() const { return used_; }
  float* take(int64_t floats) {
    const size_t bytes = (static_cast<size_t>(std::max<int64_t>(floats, 1)) * sizeof(float) + 63) / 64 * 64;
    float* p = nullptr;
    if (used_ + bytes <= capacity_) {
      p = block_.get() + used_ / sizeof(float);
    } else {
      extra_.push_back({used_, allocate(bytes)});
      p = extra_.back().block.get();
    }
    used_ += bytes;
    peak_ = std::max(peak_, used_);
    return p;
  }
  // Frees what was taken after `mark`.
  void rewind(size_t mark) {
    while (!extra_.empty() && extra_.back().at >= mark) extra_.pop_back();
    used_ = mark;
  }
  // The call ended: from now on one block holds its peak.
  void reset() {
    rewind(0);
    if (peak_ > capacity_) {
      block_.reset();
      block_ = allocate(peak_);
      capacity_ = peak_;
    }
    peak_ = 0;
  }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  using Block = std::unique_ptr<float[], Free>;
  struct Extra {
    size_t at;  // the stack's size when it was taken
    Block block;
  };
  static Block allocate(size_t bytes) {
    auto* p = static_cast<float*>(std::aligned_alloc(64, bytes));
    MINICNN_CHECK(p != nullptr, "Conv2d: expected ", bytes,
                  " bytes of scratch memory for oneDNN, but got none");
    return Block(p);
  }
  Block block_;
  std::vector<Extra> extra_;
  size_t capacity_ = 0, used_ = 0, peak_ = 0;
};

// One call's buffers in the primitives' layouts: the caller's own arrays where the layouts agree, this
// thread's Scratch where they do not. A plain array read twice in the same layout is reordered once.
class Call {
 public:
  Call() : scratch_(thread_scratch()) {}
  ~Call() {
    wait();
    staged_.clear();
    scratch_.reset();
  }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  // `data` (plain layout `from`) as a memory in layout `to`, reordered when they differ.
  memory read(const memory::desc& to, const memory::desc& from, const float* data) {
    memory user(from, cpu_engine(), const_cast<float*>(data));
    if (to == from) return user;
    for (const Staged& s : staged_) {
      if (s.source == data && s.desc == to) return s.staged;
    }
    const size_t at = scratch_.mark();
    memory staged = buffer(to);
    dnnl::reorder(user, staged).execute(stream_, user, staged);
    staged_.push_back({data, to, staged, at});
    return staged;
  }
  // A memory in layout `desc` over `data` when `desc` is the plain layout `plain_md`, else a new buffer.
  memory write(const memory::desc& desc, const memory::desc& plain_md, float* data) {
    return desc == plain_md ? memory(plain_md, cpu_engine(), data) : buffer(desc);
  }
  // `result` into `data` (plain layout `plain_md`), unless it is already there.
  void copy_out(memory result, const memory::desc& plain_md, float* data) {
    if (result.get_data_handle() == data) return;
    memory user(plain_md, cpu_engine(), data);
    dnnl::reorder(result, user).execute(stream_, result, user);
  }
  memory buffer(const memory::desc& desc) {
    return memory(desc, cpu_engine(), floats(static_cast<int64_t>((desc.get_size() + 3) / 4)));
  }
  float* floats(int64_t n) { return scratch_.take(n); }
  // Buffers and staged copies from here on are one chunk's: rewind() frees them (after wait()).
  size_t mark() const { return scratch_.mark(); }
  void rewind(size_t mark) {
    wait();
    while (!staged_.empty() && staged_.back().at >= mark) staged_.pop_back();
    scratch_.rewind(mark);
  }
  void run(const dnnl::primitive& primitive, const memory::desc& scratchpad,
           std::unordered_map<int, memory> args) {
    args.insert({DNNL_ARG_SCRATCHPAD, buffer(scratchpad)});
    primitive.execute(stream_, args);
  }
  void wait() { stream_.wait(); }

 private:
  static Scratch& thread_scratch() {
    static thread_local Scratch scratch;
    return scratch;
  }
  struct Staged {
    const float* source;
    memory::desc desc;
    memory staged;
    size_t at;  // the scratch stack's size before it
  };
  Scratch& scratch_;
  dnnl::stream stream_{cpu_engine()};
  std::vector<Staged> staged_;
};

const Primitives& primitives_for(const Conv2dGeometry& g, bool bias) {
  const std::optional<Primitives>& p = primitives(g, bias);
  MINICNN_ASSERT(p.has_value(), "oneDNN's Winograd convolution on a geometry it does not apply to");
  return *p;
}

// Images per chunk: a chunk's input and output, about 16 MiB in all, bound the scratch memory (blocked
// copies, masked gradients) at any batch size; chunks of 64 to 1024 images ran at the same speed on
// airbench94's layers (larger ones do not gain, smaller ones lose on the 64->256 layer).
int64_t chunk_of(const Conv2dGeometry& g) {
  const int64_t bytes_per_image =
      (g.C * g.H * g.W + g.OC * g.OH * g.OW) * static_cast<int64_t>(sizeof(float));
  const int64_t most = std::clamp<int64_t>((int64_t{16} << 20) / bytes_per_image, 1, g.N);
  const int64_t chunks = (g.N + most - 1) / most;
  return (g.N + chunks - 1) / chunks;  // the same size for every chunk but the last
}

// g for `count` of its images.
Conv2dGeometry images(Conv2dGeometry g, int64_t count) {
  g.N = count;
  return g;
}

}  // namespace

bool conv2d_onednn_applies(const Conv2dGeometry& g) {
  if (g.KH != 3 || g.KW != 3 || g.SH != 1 || g.SW != 1 || g.DH != 1 || g.DW != 1 || g.N == 0) return false;
  const Conv2dGeometry chunk = images(g, chunk_of(g));
  return primitives(chunk, false).has_value() && primitives(chunk, true).has_value();
}

void conv2d_forward_onednn(const float* x, const float* w, const float* b, float* y, const Conv2dGeometry& g,
                           bool relu) {
  const int64_t chunk = chunk_of(g), x_image = g.C * g.H * g.W, y_image = g.OC * g.OH * g.OW;
  Call call;
  // The weights and bias, staged once for every chunk of the common size.
  const Primitives& first = primitives_for(images(g, chunk), b != nullptr);
  call.read(first.fwd_pd.weights_desc(), plain(weight_dims(g), Tag::oihw), w);
  if (b) call.read(first.fwd_pd.bias_desc(), plain({g.OC}, Tag::x), b);
  const size_t chunk_mark = call.mark();
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    call.rewind(chunk_mark);
    const Conv2dGeometry gc = images(g, std::min(chunk, g.N - n0));
    const Primitives& p = primitives_for(gc, b != nullptr);
    const memory::desc plain_dst = plain(dst_dims(gc), Tag::nchw);
    float* yc = y + n0 * y_image;
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, call.read(p.fwd_pd.src_desc(), plain(src_dims(gc), Tag::nchw), x + n0 * x_image)},
        {DNNL_ARG_WEIGHTS, call.read(p.fwd_pd.weights_desc(), plain(weight_dims(gc), Tag::oihw), w)},
        {DNNL_ARG_DST, call.write(p.fwd_pd.dst_desc(), plain_dst, yc)}};
    if (b) args.insert({DNNL_ARG_BIAS, call.read(p.fwd_pd.bias_desc(), plain({g.OC}, Tag::x), b)});
    const memory dst = args.at(DNNL_ARG_DST);
    call.run(p.fwd, p.fwd_pd.scratchpad_desc(), args);
    call.copy_out(dst, plain_dst, yc);
  }
  call.wait();
  if (relu) relu_forward(y, y, g.N * y_image);
}

void conv2d_backward_onednn(const float* x, const float* w, const float* dy, const float* relu_out, float* dx,
                            float* dw, float* db, const Conv2dGeometry& g) {
  const int64_t chunk = chunk_of(g), x_image = g.C * g.H * g.W, y_image = g.OC * g.OH * g.OW;
  const int64_t w_size = g.OC * g.C * g.KH * g.KW;
  const memory::desc plain_w = plain(weight_dims(g), Tag::oihw), plain_b = plain({g.OC}, Tag::x);
  Call call;
  // The primitive overwrites its gradients; the contract adds them into dw and db, chunk by chunk.
  float* dw_chunk = call.floats(w_size);
  float* db_chunk = call.floats(g.OC);
  float* masked = relu_out ? call.floats(chunk * y_image) : nullptr;
  // The weights, staged once for every chunk of the common size.
  if (dx) call.read(primitives_for(images(g, chunk), db != nullptr).data_pd.weights_desc(), plain_w, w);
  const size_t chunk_mark = call.mark();
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    call.rewind(chunk_mark);  // also forgets the last chunk's staged copy of `masked`
    const Conv2dGeometry gc = images(g, std::min(chunk, g.N - n0));
    const Primitives& p = primitives_for(gc, db != nullptr);
    const memory::desc plain_src = plain(src_dims(gc), Tag::nchw), plain_dst = plain(dst_dims(gc), Tag::nchw);
    const float* dyc = dy + n0 * y_image;
    if (relu_out) {  // dy through the fused ReLU
      relu_backward(relu_out + n0 * y_image, dyc, masked, gc.N * y_image);
      dyc = masked;
    }
    if (dx) {
      float* dxc = dx + n0 * x_image;
      const memory dsrc = call.write(p.data_pd.diff_src_desc(), plain_src, dxc);
      call.run(p.data, p.data_pd.scratchpad_desc(),
               {{DNNL_ARG_DIFF_DST, call.read(p.data_pd.diff_dst_desc(), plain_dst, dyc)},
                {DNNL_ARG_WEIGHTS, call.read(p.data_pd.weights_desc(), plain_w, w)},
                {DNNL_ARG_DIFF_SRC, dsrc}});
      call.copy_out(dsrc, plain_src, dxc);
    }
    const memory dwei = call.write(p.weights_pd.diff_weights_desc(), plain_w, dw_chunk);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, call.read(p.weights_pd.src_desc(), plain_src, x + n0 * x_image)},
        {DNNL_ARG_DIFF_DST, call.read(p.weights_pd.diff_dst_desc(), plain_dst, dyc)},
        {DNNL_ARG_DIFF_WEIGHTS, dwei}};
    if (db) args.insert({DNNL_ARG_DIFF_BIAS, call.write(p.weights_pd.diff_bias_desc(), plain_b, db_chunk)});
    const memory dbias = db ? args.at(DNNL_ARG_DIFF_BIAS) : memory();
    call.run(p.weights, p.weights_pd.scratchpad_desc(), args);
    call.copy_out(dwei, plain_w, dw_chunk);
    if (db) call.copy_out(dbias, plain_b, db_chunk);
    call.wait();
    for (int64_t i = 0; i < w_size; ++i) dw[i] += dw_chunk[i];
    if (db) {
      for (int64_t i = 0; i < g.OC; ++i) db[i] += db_chunk[i];
    }
  }
}

#else  // builds without oneDNN

bool conv2d_onednn_applies(const Conv2dGeometry&) {
  return false;
}

void conv2d_forward_onednn(const float*, const float*, const float*, float*, const Conv2dGeometry&, bool) {
  MINICNN_ASSERT(false, "oneDNN's Winograd convolution in a build without oneDNN");
}

void conv2d_backward_onednn(const float*, const float*, const float*, const float*, float*, float*, float*,
                            const Conv2dGeometry&) {
  MINICNN_ASSERT(false, "oneDNN's Winograd convolution in a build without oneDNN");
}

#endif

}  // namespace minicnn::cpu
