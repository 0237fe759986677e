// `minicnn pool`: one pooling op on .npy files (forward, indices, backward), for checks against NumPy/PyTorch.
#include <cstdio>

#include <minicnn/npy.h>
#include "pool_flags.h"

namespace minicnn::cli {

void PoolFlags::add_to(CLI::App* cmd, bool with_mode, bool avg_flags) {
  if (with_mode) {
    cmd->add_option("--mode", mode, "Pooling mode")->check(CLI::IsMember({"max", "avg"}))->capture_default_str();
  }
  cmd->add_option("--kernel-size", kernel_size, "Window size K or KH,KW")->required();
  cmd->add_option("--stride", stride, "Step S or SH,SW (default: the kernel size, as in PyTorch)");
  cmd->add_option("--padding", padding, "Implicit padding P or PH,PW on each side (-inf for max, 0 for avg)")
      ->capture_default_str();
  cmd->add_option("--dilation", dilation, "Spacing D or DH,DW between window taps (max only)")->capture_default_str();
  cmd->add_flag("--ceil-mode", ceil_mode, "Round the output size up (a last partial window is kept)");
  if (avg_flags) {
    cmd->add_option("--count-include-pad", count_include_pad, "Count padding in the average's divisor (avg only)")
        ->check(CLI::IsMember({"true", "false"}))
        ->capture_default_str();
    cmd->add_option("--divisor-override", divisor_override, "Divide every window's sum by N (avg only)");
  }
}

Pool2dArgs PoolFlags::args() const {
  Pool2dArgs a;
  a.kernel_size = parse_pair(kernel_size, "--kernel-size");
  if (!stride.empty()) a.stride = parse_pair(stride, "--stride");
  a.padding = parse_pair(padding, "--padding");
  a.dilation = parse_pair(dilation, "--dilation");
  a.ceil_mode = ceil_mode;
  return a;
}

void PoolFlags::check_mode(const CLI::App* cmd) const {
  if (is_max()) {
    if (cmd->get_option_no_throw("--count-include-pad") && cmd->count("--count-include-pad")) {
      throw UsageError("--count-include-pad applies to --mode avg only");
    }
    if (cmd->get_option_no_throw("--divisor-override") && cmd->count("--divisor-override")) {
      throw UsageError("--divisor-override applies to --mode avg only");
    }
  } else if (cmd->count("--dilation")) {
    throw UsageError("--dilation applies to --mode max only (AvgPool2d has no dilation)");
  }
}

MaxPool2dOptions PoolFlags::max_options() const {
  const Pool2dArgs a = args();
  MaxPool2dOptions o(a.kernel_size);
  if (a.stride) o.stride(*a.stride);
  return o.padding(a.padding).dilation(a.dilation).ceil_mode(a.ceil_mode);
}

AvgPool2dOptions PoolFlags::avg_options() const {
  const Pool2dArgs a = args();
  AvgPool2dOptions o(a.kernel_size);
  if (a.stride) o.stride(*a.stride);
  return o.padding(a.padding).ceil_mode(a.ceil_mode).count_include_pad(count_include_pad == "true").divisor_override(
      divisor_override);
}

namespace {

struct PoolCommand {
  PoolFlags flags;
  std::string input, output, indices, grad_output, grad_input, device = "cpu", impl = "native";
};

void run_pool(const PoolCommand& c, const CLI::App* cmd) {
  c.flags.check_mode(cmd);
  if (!c.indices.empty() && !c.flags.is_max()) throw UsageError("--indices applies to --mode max only");
  if (c.grad_output.empty() != c.grad_input.empty()) {
    throw UsageError("--grad-output and --grad-input go together: give both for a backward pass, or neither");
  }
  const Device device = Device::parse(c.device);
  const PoolImpl impl = parse_pool_impl(c.impl);
  require_device(device, "pool");  // before reading anything: say at once that the device is missing
  const Tensor x = load_npy_values(c.input).to(device);
  const Mode mode = c.grad_output.empty() ? Mode::Eval : Mode::Train;
  Tensor y, idx, dx;
  if (c.flags.is_max()) {
    MaxPool2d pool(c.flags.max_options().impl(impl));
    if (!c.indices.empty()) {
      std::tie(y, idx) = pool.forward_with_indices(x);
    } else {
      y = pool.forward(x, mode);  // Train keeps what backward needs (indices; x and y for impl=cudnn)
    }
    if (mode == Mode::Train) {
      Tensor dy = load_npy_values(c.grad_output);
      MINICNN_CHECK(dy.shape() == y.shape(), "pool: expected --grad-output of shape ", y.shape(),
                    " (the output's), but got ", dy.shape(), " in '", c.grad_output, "'");
      dx = pool.backward(dy.to(device));
    }
  } else {
    AvgPool2d pool(c.flags.avg_options().impl(impl));
    y = pool.forward(x, mode);
    if (mode == Mode::Train) {
      Tensor dy = load_npy_values(c.grad_output);
      MINICNN_CHECK(dy.shape() == y.shape(), "pool: expected --grad-output of shape ", y.shape(),
                    " (the output's), but got ", dy.shape(), " in '", c.grad_output, "'");
      dx = pool.backward(dy.to(device));
    }
  }
  save_npy(c.output, y);
  std::printf("output %s -> %s\n", y.shape().str().c_str(), c.output.c_str());
  if (!c.indices.empty()) {
    save_npy(c.indices, idx);
    std::printf("indices %s -> %s\n", idx.shape().str().c_str(), c.indices.c_str());
  }
  if (dx.defined()) {
    save_npy(c.grad_input, dx);
    std::printf("grad_input %s -> %s\n", dx.shape().str().c_str(), c.grad_input.c_str());
  }
}

}  // namespace

void add_pool_command(CLI::App& app) {
  auto c = std::make_shared<PoolCommand>();
  auto* cmd = app.add_subcommand("pool", "Run one MaxPool2d or AvgPool2d on a .npy file (forward, indices, backward)");
  c->flags.add_to(cmd, true, true);
  cmd->add_option("--input", c->input,
                  std::string("Input .npy, shape (C, H, W) or (N, C, H, W); ") + kNpyValueDtypes)
      ->required();
  cmd->add_option("--output", c->output, "Where to write the pooled output (.npy, float32)")->required();
  cmd->add_option("--indices", c->indices, "Where to write the argmax indices (.npy, int32, flat h*W+w; max only)");
  cmd->add_option(
      "--grad-output", c->grad_output,
      std::string("dL/dy (.npy) for a backward pass, shaped like the output; ") + kNpyValueDtypes);
  cmd->add_option("--grad-input", c->grad_input, "Where to write dL/dx (.npy, float32)");
  cmd->add_option("--device", c->device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--impl", c->impl, "native (minicnn's kernels) or cudnn (comparison path, CUDA only)")
      ->check(CLI::IsMember({"native", "cudnn"}))
      ->capture_default_str();
  cmd->callback([c, cmd] { run_pool(*c, cmd); });
}

}  // namespace minicnn::cli
