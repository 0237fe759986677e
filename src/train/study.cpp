// The pooling study: the grid of (variant, seed) runs, resumption, results.csv, report.md (statistics and
// findings computed from the numbers) and gnuplot plots.
#include "study.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "check.h"
#include "checkpoint.h"
#include "file_io.h"
#include "pool2d.h"
#include "pool2d_coverage.h"
#include "registry.h"
#include "runtime.h"

namespace minicnn {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kStudyFile = "study.json";

json read_json_file(const std::string& path, const char* component) {
  const std::vector<uint8_t> bytes = read_file(path, component);
  try {
    return json::parse(bytes.begin(), bytes.end());
  } catch (const json::exception& e) {
    detail::throw_error(fmt::format("{}: '{}' is not valid JSON ({})", component, path, e.what()));
  }
}

std::string run_dir(const std::string& study, const std::string& variant, uint64_t seed) {
  return (fs::path(study) / "runs" / fmt::format("{}-seed{}", variant, seed)).string();
}

// Two-sided 95% quantile of Student's t with `df` degrees of freedom.
double t95(int64_t df) {
  static const double table[] = {0,     12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                 2.201, 2.179,  2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080,
                                 2.074, 2.069,  2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (df < 1) return std::nan("");
  return df <= 30 ? table[df] : 1.96 + 2.4 / static_cast<double>(df);
}

struct Stats {
  double mean = 0, sd = 0;
  int64_t n = 0;
};

Stats stats_of(const std::vector<double>& v) {
  Stats s;
  s.n = static_cast<int64_t>(v.size());
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    double sq = 0;
    for (double x : v) sq += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(sq / static_cast<double>(v.size() - 1));
  }
  return s;
}

// What a variant's model looks like: parameters, activation memory, feature maps after pooling, and the
// share of each pooling layer's input that no window reads.
struct VariantShape {
  int64_t parameters = 0;
  int64_t activation_bytes = 0;
  std::vector<std::string> pooled_maps;  // "32x14x14" per pooling layer
  std::vector<double> uncovered;         // fraction per pooling layer
};

VariantShape describe_variant(const std::string& spec, const Shape& input_chw) {
  Model m = parse_model(spec);
  m.build(input_chw, 0);
  VariantShape v;
  v.parameters = m.num_parameters();
  Shape in = Shape({1, input_chw[0], input_chw[1], input_chw[2]});
  for (const LayerSummary& row : m.summary_rows(input_chw)) {
    v.activation_bytes += row.activation_bytes;
    const Layer& layer = m.layer(static_cast<size_t>(row.index));
    if (const auto* mp = dynamic_cast<const MaxPool2d*>(&layer)) {
      v.uncovered.push_back([&] {
        const PoolCoverage c = pool2d_coverage(pool2d_geometry("MaxPool2d", in, mp->options().args_));
        return static_cast<double>(c.uncovered_pixels()) / static_cast<double>(c.pixels());
      }());
    } else if (const auto* ap = dynamic_cast<const AvgPool2d*>(&layer)) {
      v.uncovered.push_back([&] {
        const PoolCoverage c = pool2d_coverage(pool2d_geometry("AvgPool2d", in, ap->options().args_));
        return static_cast<double>(c.uncovered_pixels()) / static_cast<double>(c.pixels());
      }());
    }
    if (layer.type_name() == "MaxPool2d" || layer.type_name() == "AvgPool2d") {
      const Shape& s = row.output_shape;
      v.pooled_maps.push_back(fmt::format("{}x{}x{}", s[1], s[2], s[3]));
    }
    in = row.output_shape;
  }
  return v;
}

std::string percent(double fraction, int digits = 2) { return fmt::format("{:.{}f}%", 100 * fraction, digits); }
std::string points(double fraction) { return fmt::format("{:+.2f}", 100 * fraction); }

std::string human_mib(int64_t bytes) { return fmt::format("{:.2f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0)); }

// The gnuplot script for the two plots; returns an empty string when gnuplot is missing or fails.
std::string draw_plots(const std::string& dir, const std::vector<std::string>& variants) {
  const fs::path data = fs::path(dir) / "plot_data";
  std::string script = "set terminal pngcairo size 900,600 noenhanced\nset grid\nset key bottom right\n";
  script += fmt::format("set output '{}'\n", (fs::path(dir) / "accuracy.png").string());
  script += "set title 'Test accuracy per epoch (mean over seeds, band = one standard deviation)'\n";
  script += "set xlabel 'epoch'\nset xtics 1\nset ylabel 'test accuracy (%)'\n";
  std::string plot = "plot ";
  for (size_t i = 0; i < variants.size(); ++i) {
    const std::string file = (data / (variants[i] + ".dat")).string();
    plot += fmt::format("{}'{}' using 1:($2-$3):($2+$3) with filledcurves fs transparent solid 0.2 lc {} notitle, "
                        "'{}' using 1:2 with linespoints lc {} lw 2 title '{}'",
                        i ? ", " : "", file, i + 1, file, i + 1, variants[i]);
  }
  script += plot + "\n";
  script += fmt::format("set output '{}'\n", (fs::path(dir) / "accuracy_vs_time.png").string());
  script += "set title 'Test accuracy against training time (mean over seeds)'\n";
  // The epoch plot's one-per-epoch ticks would put a tick at every second here.
  script += "set xlabel 'training time (s, cumulative)'\nset xtics autofreq\nset ylabel 'test accuracy (%)'\n";
  plot = "plot ";
  for (size_t i = 0; i < variants.size(); ++i) {
    plot += fmt::format("{}'{}' using 4:2 with linespoints lc {} lw 2 title '{}'", i ? ", " : "",
                        (data / (variants[i] + ".dat")).string(), i + 1, variants[i]);
  }
  script += plot + "\n";
  const std::string script_path = (fs::path(dir) / "plots.gp").string();
  write_file_atomic(script_path, script, "study");
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) return "";
  const std::string cmd = "gnuplot '" + script_path + "' 2>'" + (fs::path(dir) / "plots.log").string() + "'";
  if (std::system(cmd.c_str()) != 0) return "";
  return "accuracy.png, accuracy_vs_time.png";
}

}  // namespace

std::string StudyConfig::to_json() const {
  json j = json::parse(base.to_json());
  j.erase("seed");
  j.erase("pool");
  j["variants"] = variants;
  j["seeds"] = seeds;
  return j.dump();
}

std::vector<StudyRun> study_grid(const StudyConfig& config) {
  std::vector<StudyRun> grid;
  for (int64_t seed = 1; seed <= config.seeds; ++seed) {
    for (const std::string& v : config.variants) {
      grid.push_back({v, static_cast<uint64_t>(seed), run_dir(config.out_dir, v, static_cast<uint64_t>(seed))});
    }
  }
  return grid;
}

StudySummary run_study(const StudyConfig& config, const DatasetSplit& data, const StudyCallbacks& callbacks) {
  MINICNN_CHECK(!config.variants.empty(), "study: --variants should name at least one pooling variant");
  MINICNN_CHECK(config.seeds >= 1, "study: --seeds should be at least 1, but got ", config.seeds);
  MINICNN_CHECK(config.shard_count >= 1 && config.shard_index >= 0 && config.shard_index < config.shard_count,
                "study: --shard should be i/n with 1 <= i <= n, but got ", config.shard_index + 1, "/", config.shard_count);
  for (size_t i = 0; i < config.variants.size(); ++i) {
    parse_pool_variant(config.variants[i]);
    for (size_t j = 0; j < i; ++j) {
      MINICNN_CHECK(config.variants[i] != config.variants[j], "study: variant '", config.variants[i],
                    "' is listed twice in --variants");
    }
  }
  std::error_code ec;
  fs::create_directories(config.out_dir, ec);
  MINICNN_CHECK(!ec, "study: cannot create '", config.out_dir, "': ", ec.message());
  const std::string study_file = (fs::path(config.out_dir) / kStudyFile).string();
  if (fs::exists(study_file)) {
    const json existing = read_json_file(study_file, "study");
    MINICNN_CHECK(existing.dump() == json::parse(config.to_json()).dump(), "study: '", config.out_dir,
                  "' holds a study with another configuration (", existing.dump(),
                  "); give the same flags to continue it, or choose another --out");
  } else {
    write_file_atomic(study_file, json::parse(config.to_json()).dump(2) + "\n", "study");
  }

  std::vector<StudyRun> mine;
  const std::vector<StudyRun> grid = study_grid(config);
  for (size_t i = 0; i < grid.size(); ++i) {
    if (static_cast<int64_t>(i) % config.shard_count == config.shard_index) mine.push_back(grid[i]);
  }
  for (size_t i = 0; i < mine.size(); ++i) {
    const StudyRun& run = mine[i];
    TrainConfig c = config.base;
    c.seed = run.seed;
    c.spec = apply_pool_variant(config.base.spec, parse_pool_variant(run.variant));
    c.pool_variant = run.variant;
    c.out_dir = run.dir;
    const std::string ckpt = (fs::path(run.dir) / "model.safetensors").string();
    RunDirPolicy policy = RunDirPolicy::Fresh;
    std::string status = "training";
    bool finished = false;
    if (fs::exists(ckpt)) {
      try {
        const Checkpoint existing = load_checkpoint(ckpt);
        if (existing.meta.config_json != c.to_json()) {
          status = "trained with another configuration: training again";
          policy = RunDirPolicy::Overwrite;
        } else if (existing.state.finished) {
          status = "finished earlier";
          finished = true;
        } else {
          status = fmt::format("resuming at epoch {}", existing.state.epochs_done + 1);
          policy = RunDirPolicy::Resume;
        }
      } catch (const Error& e) {
        status = fmt::format("damaged ({}): training again", e.what());
        policy = RunDirPolicy::Overwrite;
      }
    } else if (fs::exists(run.dir) && !fs::is_empty(run.dir)) {
      status = "incomplete (no checkpoint): training again";
      policy = RunDirPolicy::Overwrite;
    }
    if (callbacks.on_run) callbacks.on_run(run, static_cast<int64_t>(i) + 1, static_cast<int64_t>(mine.size()), status);
    if (finished) continue;
    train(c, data, policy, callbacks.train_callbacks ? callbacks.train_callbacks(run) : TrainCallbacks{});
  }
  return write_study_results(config.out_dir);
}

StudySummary write_study_results(const std::string& dir) {
  const json cfg = read_json_file((fs::path(dir) / kStudyFile).string(), "study");
  const std::vector<std::string> variants = cfg.at("variants").get<std::vector<std::string>>();
  const int64_t seeds = cfg.at("seeds").get<int64_t>();
  const int64_t epochs = cfg.at("epochs").get<int64_t>();
  const Shape input_chw(cfg.at("input_shape").get<std::vector<int64_t>>());
  const std::string spec = cfg.at("spec").get<std::string>();

  StudySummary summary;
  // history[variant][seed] = per-epoch metrics of a complete run.
  std::map<std::string, std::map<int64_t, std::vector<EpochMetrics>>> history;
  std::string csv = "variant,seed,epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_sec\n";
  for (int64_t seed = 1; seed <= seeds; ++seed) {
    for (const std::string& v : variants) {
      const std::string rd = run_dir(dir, v, static_cast<uint64_t>(seed));
      std::vector<EpochMetrics> rows;
      try {
        const Checkpoint c = load_checkpoint((fs::path(rd) / "model.safetensors").string());
        if (c.state.finished) rows = history_from_json(c.meta.history_json);
      } catch (const std::exception&) {
        rows.clear();  // missing, damaged or unreadable: the run counts as missing
      }
      if (static_cast<int64_t>(rows.size()) != epochs) {
        summary.missing.push_back(fmt::format("{} seed {}", v, seed));
        continue;
      }
      ++summary.complete_runs;
      for (const EpochMetrics& m : rows) {
        csv += fmt::format("{},{},{},{:.6f},{:.6f},{:.6f},{:.6f},{:.3f},{:.1f}\n", v, seed, m.epoch, m.train_loss,
                           m.train_accuracy, m.test_loss, m.test_accuracy, m.seconds, m.images_per_sec);
      }
      history[v][seed] = rows;
    }
  }
  write_file_atomic((fs::path(dir) / "results.csv").string(), csv, "study");

  // Per-variant statistics over seeds.
  struct VariantResult {
    Stats final_acc, gap, seconds_per_epoch;
    std::vector<double> final_by_seed;  // indexed by seed - 1, NaN when missing
    VariantShape shape;
    bool present = false;
  };
  std::map<std::string, VariantResult> res;
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "plot_data", ec);
  for (const std::string& v : variants) {
    VariantResult r;
    r.shape = describe_variant(apply_pool_variant(spec, parse_pool_variant(v)), input_chw);
    r.final_by_seed.assign(static_cast<size_t>(seeds), std::nan(""));
    std::vector<double> finals, gaps, spe;
    for (const auto& [seed, rows] : history[v]) {
      finals.push_back(rows.back().test_accuracy);
      gaps.push_back(rows.back().train_accuracy - rows.back().test_accuracy);
      double total = 0;
      for (const auto& m : rows) total += m.seconds;
      spe.push_back(total / static_cast<double>(rows.size()));
      r.final_by_seed[static_cast<size_t>(seed - 1)] = rows.back().test_accuracy;
    }
    r.present = !finals.empty();
    r.final_acc = stats_of(finals);
    r.gap = stats_of(gaps);
    r.seconds_per_epoch = stats_of(spe);
    // Plot data: epoch, mean %, sd %, cumulative mean seconds.
    std::string dat;
    double cumulative = 0;
    for (int64_t e = 0; e < epochs && r.present; ++e) {
      std::vector<double> acc, sec;
      for (const auto& [seed, rows] : history[v]) {
        acc.push_back(100 * rows[static_cast<size_t>(e)].test_accuracy);
        sec.push_back(rows[static_cast<size_t>(e)].seconds);
      }
      cumulative += stats_of(sec).mean;
      const Stats a = stats_of(acc);
      dat += fmt::format("{} {:.4f} {:.4f} {:.3f}\n", e + 1, a.mean, a.sd, cumulative);
    }
    write_file_atomic((fs::path(dir) / "plot_data" / (v + ".dat")).string(), dat, "study");
    res[v] = r;
  }

  // Paired differences to the reference (the first variant) over the seeds both completed.
  const std::string& ref = variants.front();
  struct Paired {
    Stats diff;
    double lo = 0, hi = 0;
  };
  std::map<std::string, Paired> paired;
  for (const std::string& v : variants) {
    std::vector<double> d;
    for (int64_t s = 0; s < seeds; ++s) {
      const double a = res[v].final_by_seed[static_cast<size_t>(s)], b = res[ref].final_by_seed[static_cast<size_t>(s)];
      if (!std::isnan(a) && !std::isnan(b)) d.push_back(a - b);
    }
    Paired p;
    p.diff = stats_of(d);
    const double half = p.diff.n > 1 ? t95(p.diff.n - 1) * p.diff.sd / std::sqrt(static_cast<double>(p.diff.n)) : std::nan("");
    p.lo = p.diff.mean - half;
    p.hi = p.diff.mean + half;
    paired[v] = p;
  }

  // report.md
  std::string md = "# Pooling study\n\n";
  md += fmt::format("Data set `{}`, model `{}` ({}), {} epochs, seeds 1..{} (the same seeds for every variant, so "
                    "comparisons are paired), recipe: {} lr {} momentum {} weight decay {}, schedule {}, augmentation {}, "
                    "batch {}{}.\n\n",
                    cfg.at("dataset").get<std::string>(), cfg.at("model").get<std::string>(), spec, epochs, seeds,
                    cfg.at("optimizer").get<std::string>(), cfg.at("lr").get<double>(), cfg.at("momentum").get<double>(),
                    cfg.at("weight_decay").get<double>(), cfg.at("schedule").get<std::string>(),
                    cfg.at("augment").get<std::string>(), cfg.at("batch_size").get<int64_t>(),
                    cfg.at("limit_train").get<int64_t>() > 0
                        ? fmt::format(", {} training images", cfg.at("limit_train").get<int64_t>())
                        : std::string());
  if (!summary.missing.empty()) {
    md += fmt::format("**Incomplete:** {} of {} runs are missing or unfinished ({}); the figures below use the runs that "
                      "finished.\n\n",
                      summary.missing.size(), variants.size() * static_cast<size_t>(seeds),
                      fmt::join(summary.missing, ", "));
  }
  md += "| variant | final test accuracy (mean ± sd) | difference to " + ref +
        " (paired, 95% interval) | train − test accuracy | seconds per epoch | parameters | activation memory per "
        "image | feature maps after pooling | input pixels no window reads |\n";
  md += "|---|---|---|---|---|---|---|---|---|\n";
  for (const std::string& v : variants) {
    const VariantResult& r = res[v];
    const Paired& p = paired[v];
    std::string diff = v == ref ? "(reference)"
                       : p.diff.n > 1 ? fmt::format("{} points ({} to {})", points(p.diff.mean), points(p.lo), points(p.hi))
                       : p.diff.n == 1 ? fmt::format("{} points (one seed: no interval)", points(p.diff.mean))
                                       : "n/a";
    std::vector<std::string> unc;
    for (double u : r.shape.uncovered) unc.push_back(percent(u, 1));
    md += fmt::format("| {} | {} | {} | {} | {:.1f} | {} | {} | {} | {} |\n", v,
                      r.present ? fmt::format("{} ± {}", percent(r.final_acc.mean), percent(r.final_acc.sd)) : "n/a", diff,
                      r.present ? fmt::format("{} points", points(r.gap.mean)) : "n/a", r.seconds_per_epoch.mean,
                      fmt::group_digits(r.shape.parameters), human_mib(r.shape.activation_bytes),
                      fmt::join(r.shape.pooled_maps, ", "), fmt::join(unc, ", "));
  }

  // Findings, each sentence computed from the figures above.
  md += "\n## What the study found\n\n";
  std::vector<std::string> present;
  for (const std::string& v : variants) {
    if (res[v].present) present.push_back(v);
  }
  if (present.empty()) {
    md += "No run has finished yet.\n";
  } else {
    const std::string best = *std::max_element(present.begin(), present.end(), [&](const auto& a, const auto& b) {
      return res[a].final_acc.mean < res[b].final_acc.mean;
    });
    const std::string worst = *std::min_element(present.begin(), present.end(), [&](const auto& a, const auto& b) {
      return res[a].final_acc.mean < res[b].final_acc.mean;
    });
    if (present.size() == 1) {
      md += fmt::format("- One variant has finished runs: **{}**, with a mean final test accuracy of {} (sd {} over {} "
                        "seed(s)).\n",
                        best, percent(res[best].final_acc.mean), percent(res[best].final_acc.sd), res[best].final_acc.n);
    } else {
      md += fmt::format("- Highest mean final test accuracy: **{}** with {} (sd {} over {} seed(s)); lowest: {} with {}.\n",
                        best, percent(res[best].final_acc.mean), percent(res[best].final_acc.sd),
                        res[best].final_acc.n, worst, percent(res[worst].final_acc.mean));
    }
    for (const std::string& v : present) {
      if (v == ref || !res[ref].present) continue;
      const Paired& p = paired[v];
      const VariantResult& r = res[v];
      std::string verdict;
      if (p.diff.n < 2) {
        verdict = "with a single paired seed there is no interval, so this says nothing about noise";
      } else if (p.lo > 0) {
        verdict = "better than " + ref + " on these seeds (the 95% interval excludes zero)";
      } else if (p.hi < 0) {
        verdict = "worse than " + ref + " on these seeds (the 95% interval excludes zero)";
      } else {
        verdict = "not distinguishable from seed-to-seed noise (the 95% interval includes zero)";
      }
      const double time_ratio = res[ref].seconds_per_epoch.mean > 0 ? r.seconds_per_epoch.mean / res[ref].seconds_per_epoch.mean : 0;
      const double mem_ratio = static_cast<double>(r.shape.activation_bytes) / static_cast<double>(res[ref].shape.activation_bytes);
      md += fmt::format("- {} against {}: {} points ({} to {}), {}; it takes {:.2f}x the training time per epoch and "
                        "{:.2f}x the activation memory, with {} parameters ({:+.1f}%).\n",
                        v, ref, points(p.diff.mean), points(p.lo), points(p.hi), verdict, time_ratio, mem_ratio,
                        fmt::group_digits(r.shape.parameters),
                        100.0 * (static_cast<double>(r.shape.parameters) / static_cast<double>(res[ref].shape.parameters) - 1));
    }
    const auto by_gap = [&](const std::string& a, const std::string& b) { return res[a].gap.mean < res[b].gap.mean; };
    const std::string most = *std::max_element(present.begin(), present.end(), by_gap);
    const std::string least = *std::min_element(present.begin(), present.end(), by_gap);
    if (present.size() == 1) {
      md += fmt::format("- Train − test accuracy gap (overfitting): {} points.\n", points(res[most].gap.mean));
    } else {
      md += fmt::format("- Largest train − test accuracy gap (overfitting): {} with {} points; smallest: {} with {} "
                        "points.\n",
                        most, points(res[most].gap.mean), least, points(res[least].gap.mean));
    }
    std::vector<std::string> gaps;
    for (const std::string& v : variants) {
      for (double u : res[v].shape.uncovered) {
        if (u > 0) {
          gaps.push_back(fmt::format("{} ({} of some pooling layer's input is never read)", v, percent(u, 1)));
          break;
        }
      }
    }
    md += gaps.empty() ? "- Every variant's windows read every input pixel.\n"
                       : fmt::format("- Windows that skip pixels: {}.\n", fmt::join(gaps, "; "));
  }
  const std::string plots = draw_plots(dir, variants);
  md += plots.empty() ? "\nPlots: gnuplot is not installed or failed (see plots.log); `plots.gp` and `plot_data/` "
                        "hold what it needs.\n"
                      : "\nPlots: ![test accuracy per epoch](accuracy.png) ![accuracy against training time](accuracy_vs_time.png)\n";
  summary.report_path = (fs::path(dir) / "report.md").string();
  write_file_atomic(summary.report_path, md, "study");
  return summary;
}

StudySummary merge_studies(const std::vector<std::string>& dirs, const std::string& out) {
  MINICNN_CHECK(!dirs.empty(), "study merge: expected at least one study directory");
  std::string config;
  for (const std::string& d : dirs) {
    const json c = read_json_file((fs::path(d) / kStudyFile).string(), "study merge");
    if (config.empty()) config = c.dump();
    MINICNN_CHECK(c.dump() == config, "study merge: '", d, "' holds another study than '", dirs.front(),
                  "' (their study.json differ); only shards of one study can be merged");
  }
  std::error_code ec;
  fs::create_directories(fs::path(out) / "runs", ec);
  MINICNN_CHECK(!ec, "study merge: cannot create '", out, "': ", ec.message());
  const std::string study_file = (fs::path(out) / kStudyFile).string();
  if (fs::exists(study_file)) {
    MINICNN_CHECK(read_json_file(study_file, "study merge").dump() == config, "study merge: '", out,
                  "' holds another study; choose another --out");
  } else {
    write_file_atomic(study_file, json::parse(config).dump(2) + "\n", "study merge");
  }
  for (const std::string& d : dirs) {
    if (fs::equivalent(fs::path(d), fs::path(out), ec)) continue;
    const fs::path runs = fs::path(d) / "runs";
    if (!fs::exists(runs)) continue;
    for (const auto& entry : fs::directory_iterator(runs)) {
      const fs::path target = fs::path(out) / "runs" / entry.path().filename();
      const fs::path ckpt = entry.path() / "model.safetensors";
      bool finished = false;
      try {
        finished = fs::exists(ckpt) && load_checkpoint(ckpt.string()).state.finished;
      } catch (const Error&) {
        finished = false;
      }
      if (!finished) continue;  // only finished runs travel; unfinished ones stay where they can resume
      fs::remove_all(target, ec);
      fs::copy(entry.path(), target, fs::copy_options::recursive, ec);
      MINICNN_CHECK(!ec, "study merge: cannot copy '", entry.path().string(), "' to '", target.string(), "': ", ec.message());
    }
  }
  return write_study_results(out);
}

}  // namespace minicnn
