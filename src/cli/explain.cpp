// `minicnn explain`: a pooling configuration's geometry in words and pictures (windows, padding,
// coverage, overlap), and optionally a PNG of which input pixels max pooling picked.
#include <algorithm>
#include <cstdio>

#include <minicnn/image_io.h>
#include <minicnn/npy.h>
#include <minicnn/pool2d_coverage.h>
#include "pool_flags.h"
#include <minicnn/random.h>

namespace minicnn::cli {
namespace {

struct ExplainCommand {
  PoolFlags flags;
  std::string input_shape, image, input;
  uint64_t seed = 0;
  int64_t max_lines = 16;
};

// "1 window", "2 windows".
std::string counted(int64_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// "rows -1..2 (row -1 is padding)" or, with dilation, "rows -2, 0, 2 (row -2 is padding)"; with ceil_mode
// a last window may also reach past the padded input: "rows 5..7 (row 6 is padding; row 7 is overhang,
// past the padding)".
std::string describe_window(const AxisCoverage& a, int64_t o, const char* unit, const char* units) {
  const auto& taps = a.taps[static_cast<size_t>(o)];
  const bool contiguous = taps.size() < 2 || taps[1] - taps[0] == 1;
  std::string s = fmt::format("{} ", taps.size() == 1 ? unit : units);
  if (contiguous) {
    s += taps.size() == 1 ? std::to_string(taps[0]) : fmt::format("{}..{}", taps.front(), taps.back());
  } else {
    for (size_t i = 0; i < taps.size(); ++i) s += (i ? ", " : "") + std::to_string(taps[i]);
  }
  std::vector<std::string> padding, overhang;
  for (int64_t t : taps) {
    if (a.place(t) == TapPlace::Padding) padding.push_back(std::to_string(t));
    if (a.place(t) == TapPlace::Overhang) overhang.push_back(std::to_string(t));
  }
  auto are = [&](const std::vector<std::string>& v) {
    return fmt::format("{} {} {}", v.size() == 1 ? unit : units, fmt::join(v, ", "),
                       v.size() == 1 ? "is" : "are");
  };
  std::vector<std::string> notes;
  if (!padding.empty()) notes.push_back(are(padding) + " padding");
  if (!overhang.empty()) {
    notes.push_back(are(overhang) +
                    (a.padding > 0 ? " overhang, past the padding" : " overhang, past the input edge"));
  }
  if (!notes.empty()) s += fmt::format(" ({})", fmt::join(notes, "; "));
  return s;
}

void print_axis(const char* title, const AxisCoverage& a, int64_t pad, const char* unit, const char* units,
                int64_t max_lines) {
  std::printf("%s (size %lld, padding %lld on each side):\n", title, static_cast<long long>(a.size),
              static_cast<long long>(pad));
  for (int64_t o = 0; o < a.outputs; ++o) {
    if (a.outputs > max_lines && o == max_lines / 2) {
      const int64_t n = a.outputs - max_lines;
      std::printf("  ... %lld more %s ...\n", static_cast<long long>(n), n == 1 ? "window" : "windows");
      o = a.outputs - max_lines / 2;
    }
    std::printf("  window %lld: %s\n", static_cast<long long>(o), describe_window(a, o, unit, units).c_str());
  }
  std::vector<std::string> missed;
  for (int64_t i = 0; i < a.size; ++i) {
    if (a.count[static_cast<size_t>(i)] == 0) missed.push_back(std::to_string(i));
  }
  if (!missed.empty()) {
    std::printf("  %s no window reads: %s\n", missed.size() == 1 ? unit : units,
                fmt::format("{}", fmt::join(missed, ", ")).c_str());
  }
}

char count_char(int64_t c) {
  if (c == 0) return '.';
  if (c < 10) return static_cast<char>('0' + c);
  if (c < 36) return static_cast<char>('a' + c - 10);
  return '#';
}

// Where a ceil_mode window's overhang lies: past the input edge, or past the padding where the axis has
// some (judged on the axes that overhang, or on both when none does).
std::string overhang_place(const PoolCoverage& cov) {
  bool padded = false, unpadded = false;
  for (const AxisCoverage* a : {&cov.rows, &cov.cols}) {
    if (a->windows_overhanging > 0 || cov.windows_overhanging() == 0) {
      (a->padding > 0 ? padded : unpadded) = true;
    }
  }
  if (padded && unpadded) return "past the input edge or its padding";
  return padded ? "past the padding" : "past the input edge";
}

// Overlap and gaps as the coverage counts give them: windows overlap where an input pixel is read by two or
// more windows. A (dilated) window can span more than the stride without that: its taps skip the pixels
// the next window reads.
void print_overlap(const PoolCoverage& cov, const Pool2dGeometry& g, int64_t eh, int64_t ew) {
  const int64_t pixels = cov.pixels(), overlapped = cov.overlapped_pixels(),
                uncovered = cov.uncovered_pixels();
  if (overlapped > 0) {
    std::printf("windows overlap: %lld of %lld input pixels %s read by more than one window (up to %lld)\n",
                static_cast<long long>(overlapped), static_cast<long long>(pixels),
                overlapped == 1 ? "is" : "are", static_cast<long long>(cov.max_overlap()));
  } else if (uncovered == 0) {
    std::printf("windows tile the input: every input pixel is read by exactly one window\n");
  } else {
    std::printf("windows do not overlap: no input pixel is read by more than one window");
    if (g.SH < eh || g.SW < ew) {
      std::printf(
          " (a window spans %lldx%lld pixels, more than the stride %lldx%lld, but with dilation %lldx%lld "
          "its taps skip the pixels the next window reads)",
          static_cast<long long>(eh), static_cast<long long>(ew), static_cast<long long>(g.SH),
          static_cast<long long>(g.SW), static_cast<long long>(g.DH), static_cast<long long>(g.DW));
    }
    std::printf("\n");
  }
  if (uncovered > 0) {
    std::printf("windows leave gaps: %lld of %lld input pixels %s read by no window%s\n",
                static_cast<long long>(uncovered), static_cast<long long>(pixels),
                uncovered == 1 ? "is" : "are",
                g.SH > eh || g.SW > ew ? " (the stride is larger than the window)" : "");
  }
}

// Draws plane 0 of `x` upscaled: the pixels max pooling picked in red (brighter = picked by more windows),
// the others in grey (lighter = larger value). Returns the legend, one line per colour drawn.
std::vector<std::string> draw_argmax(const std::string& path, const Tensor& x, const Tensor& indices,
                                     const Pool2dGeometry& g) {
  const int64_t scale = std::max<int64_t>(1, 256 / std::max(g.H, g.W));
  const float* xp = x.data();
  float lo = xp[0], hi = xp[0];
  for (int64_t i = 0; i < g.H * g.W; ++i) {
    lo = std::min(lo, xp[i]);
    hi = std::max(hi, xp[i]);
  }
  std::vector<int32_t> picks(static_cast<size_t>(g.H * g.W), 0);
  for (int64_t o = 0; o < g.OH * g.OW; ++o) {
    const int32_t i = indices.data_i32()[o];
    if (i >= 0) ++picks[static_cast<size_t>(i)];
  }
  const int32_t most = std::max(1, *std::max_element(picks.begin(), picks.end()));
  auto red = [&](int32_t n) { return static_cast<uint8_t>(155 + 100 * n / most); };
  auto grey = [&](float v) { return static_cast<uint8_t>(hi > lo ? 40 + 160 * (v - lo) / (hi - lo) : 120); };
  const int64_t W = g.W * scale, H = g.H * scale;
  std::vector<uint8_t> rgb(static_cast<size_t>(W * H * 3));
  for (int64_t y = 0; y < H; ++y) {
    for (int64_t xw = 0; xw < W; ++xw) {
      const int64_t i = (y / scale) * g.W + xw / scale;
      uint8_t* px = &rgb[static_cast<size_t>((y * W + xw) * 3)];
      if (picks[static_cast<size_t>(i)] > 0) {
        px[0] = red(picks[static_cast<size_t>(i)]);
        px[1] = px[2] = 30;
      } else {
        px[0] = px[1] = px[2] = grey(xp[i]);
      }
    }
  }
  write_png(path, rgb.data(), W, H, 3);

  std::vector<std::string> legend{fmt::format("each input pixel is a {}x{} square", scale, scale)};
  std::vector<int32_t> used;  // pick counts drawn, ascending
  for (int32_t n : picks) {
    if (n > 0) used.push_back(n);
  }
  std::sort(used.begin(), used.end());
  used.erase(std::unique(used.begin(), used.end()), used.end());
  auto rgb_red = [&](int32_t n) {
    return fmt::format("({}, 30, 30) for {}", red(n), counted(n, "window", "windows"));
  };
  if (used.size() == 1) {
    legend.push_back(fmt::format("red ({}, 30, 30): picked by max pooling, each by {}", red(used[0]),
                                 counted(used[0], "window", "windows")));
  } else if (used.size() > 1) {
    std::vector<std::string> levels;
    if (used.size() <= 6) {
      for (int32_t n : used) levels.push_back(rgb_red(n));
    } else {
      levels = {rgb_red(used.front()), "...", rgb_red(used.back())};
    }
    legend.push_back(fmt::format("red: picked by max pooling, brighter when picked by more windows: {}",
                                 fmt::join(levels, ", ")));
  }
  if (std::find(picks.begin(), picks.end(), 0) != picks.end()) {
    legend.push_back(
        hi > lo ? fmt::format("grey: not picked, lighter for larger values: (40, 40, 40) for the smallest "
                              "input value {:.3g}, (200, 200, 200) for the largest {:.3g}",
                              lo, hi)
                : fmt::format("grey (120, 120, 120): not picked (every input value is {:.3g})", lo));
  }
  return legend;
}

void run_explain(const ExplainCommand& c, const CLI::App* cmd) {
  c.flags.check_mode(cmd);
  const Shape shape = parse_shape(c.input_shape, "--input-shape", {3, 4});
  std::string repr;
  Pool2dGeometry g{};
  if (c.flags.is_max()) {
    MaxPool2d pool(c.flags.max_options());
    repr = pool.repr();
    g = pool2d_geometry("MaxPool2d", shape, c.flags.max_options().args_);
  } else {
    AvgPool2d pool(c.flags.avg_options());
    repr = pool.repr();
    g = pool2d_geometry("AvgPool2d", shape, c.flags.avg_options().args_);
  }
  const PoolCoverage cov = pool2d_coverage(g);
  std::printf("%s on input %s\n", repr.c_str(), shape.str().c_str());
  std::printf("output shape: %s\n", pool2d_output_shape(shape, g).str().c_str());
  for (const auto& [axis, in, k, s, p, d, out] :
       {std::tuple{"height", g.H, g.KH, g.SH, g.PH, g.DH, g.OH}, std::tuple{"width", g.W, g.KW, g.SW, g.PW, g.DW, g.OW}}) {
    std::printf("%s: %s((%lld + 2*%lld - %lld*(%lld-1) - 1) / %lld) + 1%s = %lld\n", axis,
                c.flags.ceil_mode ? "ceil" : "floor", static_cast<long long>(in), static_cast<long long>(p),
                static_cast<long long>(d), static_cast<long long>(k), static_cast<long long>(s),
                c.flags.ceil_mode ? ", less a last window that would start in the padding" : "",
                static_cast<long long>(out));
  }
  const int64_t eh = g.DH * (g.KH - 1) + 1, ew = g.DW * (g.KW - 1) + 1;
  std::printf(
      "effective receptive field of one output: %lldx%lld input %s (kernel %lldx%lld, dilation %lldx%lld)\n",
      static_cast<long long>(eh), static_cast<long long>(ew), eh * ew == 1 ? "pixel" : "pixels",
      static_cast<long long>(g.KH), static_cast<long long>(g.KW), static_cast<long long>(g.DH),
      static_cast<long long>(g.DW));
  print_overlap(cov, g, eh, ew);
  std::printf("padding counts as %s\n", c.flags.is_max() ? "-inf (it never wins the maximum)"
                                                         : (c.flags.count_include_pad == "true"
                                                                ? "zeros included in the average's divisor (count_include_pad=True)"
                                                                : "nothing: the divisor counts only real pixels (count_include_pad=False)"));
  const std::string overhang_where = overhang_place(cov);
  if (cov.windows_overhanging() > 0) {
    std::string rule;
    if (c.flags.is_max()) {
      rule = "nothing: it is skipped, so like padding it never wins the maximum";
    } else if (c.flags.divisor_override) {
      rule = fmt::format("nothing: it adds nothing to the sum, and the divisor is divisor_override={}",
                         *c.flags.divisor_override);
    } else if (c.flags.count_include_pad == "true") {
      rule = "nothing: unlike padding it is not in the divisor (torch clips a window to the padded input)";
    } else {
      rule = "nothing: like padding it is not in the divisor";
    }
    std::printf("overhang %s (ceil_mode) counts as %s\n", overhang_where.c_str(), rule.c_str());
  }
  std::printf("\n");
  print_axis("rows", cov.rows, g.PH, "row", "rows", c.max_lines);
  if (!(g.H == g.W && g.KH == g.KW && g.SH == g.SW && g.PH == g.PW && g.DH == g.DW)) {
    print_axis("columns", cov.cols, g.PW, "column", "columns", c.max_lines);
  } else {
    std::printf("columns: the same as rows\n");
  }
  std::printf("\nwindows touching padding: %lld of %lld per channel\n", static_cast<long long>(cov.windows_touching_padding()),
              static_cast<long long>(cov.windows()));
  if (c.flags.ceil_mode) {
    const int64_t over = cov.windows_overhanging(), both = cov.windows_touching_padding_and_overhanging();
    std::string note;
    if (over > 0 && g.PH == 0 && g.PW == 0) {
      note = " (the overhang is not padding)";
    } else if (over > 0 && both == 0) {
      note = over == 1 ? " (it touches no padding)" : " (none of them touches padding)";
    } else if (over > 0 && both == over) {
      note = over == 1 ? " (it also touches padding)" : fmt::format(" (all {} also touch padding)", over);
    } else if (over > 0) {
      note = fmt::format(" ({} of them also {} padding)", both, both == 1 ? "touches" : "touch");
    }
    std::printf("windows overhanging %s: %lld of %lld per channel%s\n", overhang_where.c_str(),
                static_cast<long long>(over), static_cast<long long>(cov.windows()), note.c_str());
  }
  std::printf("input pixels not covered: %lld of %lld per channel\n", static_cast<long long>(cov.uncovered_pixels()),
              static_cast<long long>(cov.pixels()));
  std::printf("input pixels read by more than one window: %lld of %lld per channel\n",
              static_cast<long long>(cov.overlapped_pixels()), static_cast<long long>(cov.pixels()));
  std::printf("windows reading each input pixel: %lld to %lld\n", static_cast<long long>(cov.min_overlap()),
              static_cast<long long>(cov.max_overlap()));
  if (g.W <= 64 && g.H <= 64) {
    std::printf("\ncoverage map (windows reading each input pixel; '.' = none, a-z = 10-35):\n");
    for (int64_t h = 0; h < g.H; ++h) {
      std::string row = "  ";
      for (int64_t w = 0; w < g.W; ++w) {
        row += count_char(cov.count(h, w));
        row += ' ';
      }
      std::printf("%s\n", row.c_str());
    }
  } else {
    std::printf("(coverage map omitted: the input is larger than 64x64)\n");
  }
  if (c.image.empty()) return;
  if (!c.flags.is_max()) throw UsageError("--image draws the pixels max pooling picks; use it with --mode max");
  Tensor x;
  if (!c.input.empty()) {
    x = load_npy_values(c.input);
    MINICNN_CHECK(x.dtype() == DType::Float32 && x.shape() == shape, "explain: --input '", c.input,
                  "' should be a float array of shape ", shape, " (--input-shape), but holds ", x.shape());
  } else {
    Generator gen(c.seed);
    x = Tensor::empty(shape);
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = gen.normal();
  }
  MaxPool2d pool(c.flags.max_options());
  auto [y, idx] = pool.forward_with_indices(x);
  const std::vector<std::string> legend = draw_argmax(c.image, x, idx, g);
  std::printf("\nwrote %s: plane 0 of the %s input, the pixels max pooling picked in red\n", c.image.c_str(),
              c.input.empty() ? "random example" : "given");
  for (const std::string& line : legend) std::printf("  %s\n", line.c_str());
}

}  // namespace

void add_explain_command(CLI::App& app) {
  auto c = std::make_shared<ExplainCommand>();
  auto* cmd = app.add_subcommand("explain", "Show a pooling configuration's windows, padding, coverage and overlap");
  cmd->add_option("--input-shape", c->input_shape, "Input shape N,C,H,W (or C,H,W)")->required();
  c->flags.add_to(cmd, true, true);
  cmd->add_option("--image", c->image, "Also draw which input pixels max pooling picked (PNG)");
  cmd->add_option("--input", c->input, "Input .npy for --image (default: random normal values)");
  cmd->add_option("--seed", c->seed, "Seed of the random example input")->capture_default_str();
  cmd->add_option("--max-lines", c->max_lines, "Windows listed per axis before eliding")->capture_default_str();
  cmd->callback([c, cmd] { run_explain(*c, cmd); });
}

}  // namespace minicnn::cli
