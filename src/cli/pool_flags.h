// The pooling flags `pool` and `explain` share (--kernel-size, --stride, ...), turned into layer options.
#pragma once

#include <optional>
#include <string>

#include "common.h"

namespace minicnn::cli {

struct PoolFlags {
  std::string mode = "max";
  std::string kernel_size, stride, padding = "0", dilation = "1";
  bool ceil_mode = false;
  std::string count_include_pad = "true";
  std::optional<int64_t> divisor_override;

  /// Registers the flags on `cmd`; `with_mode` adds --mode, `avg_options` the average-only flags.
  void add_to(CLI::App* cmd, bool with_mode, bool avg_options);
  /// The shared geometry arguments (validated later by pool2d_geometry).
  Pool2dArgs args() const;
  bool is_max() const { return mode == "max"; }
  /// Rejects flags that do not apply to the chosen mode (e.g. --dilation with --mode avg).
  void check_mode(const CLI::App* cmd) const;
  MaxPool2dOptions max_options() const;
  AvgPool2dOptions avg_options() const;
};

}  // namespace minicnn::cli
