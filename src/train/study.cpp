// The pooling study: the grid of (variant, seed) runs, resumption, results.csv, report.md (statistics and
// findings computed from the numbers) and gnuplot plots.
#include <minicnn/study.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include <minicnn/check.h>
#include <minicnn/checkpoint.h>
#include <minicnn/file_io.h>
#include <minicnn/optimizer_factory.h>
#include <minicnn/pool2d.h>
#include <minicnn/pool2d_coverage.h>
#include <minicnn/registry.h>
#include <minicnn/runtime.h>

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

std::string percent(double fraction, int digits = 2) {
  return fmt::format("{:.{}f}%", 100 * fraction, digits);
}
std::string points(double fraction) {
  return fmt::format("{:+.2f}", 100 * fraction);
}

std::string human_mib(int64_t bytes) {
  return fmt::format("{:.2f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

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
    plot += fmt::format(
        "{}'{}' using 1:($2-$3):($2+$3) with filledcurves fs transparent solid 0.2 lc {} notitle, "
        "'{}' using 1:2 with linespoints lc {} lw 2 title '{}'",
        i ? ", " : "", file, i + 1, file, i + 1, variants[i]);
  }
  script += plot + "\n";
  script += fmt::format("set output '{}'\n", (fs::path(dir) / "accuracy_vs_time.png").string());
  script += "set title 'Test accuracy against training time (mean over seeds)'\n";
  // The epoch plot's one-per-epoch ticks would put a tick at every second here.
  script +=
      "set xlabel 'training time (s, cumulative)'\nset xtics autofreq\nset ylabel 'test accuracy (%)'\n";
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
  j["first_seed"] = first_seed;
  return j.dump();
}

std::vector<StudyRun> study_grid(const StudyConfig& config) {
  std::vector<StudyRun> grid;
  for (int64_t i = 0; i < config.seeds; ++i) {
    const uint64_t seed = config.first_seed + static_cast<uint64_t>(i);
    for (const std::string& v : config.variants) grid.push_back({v, seed, run_dir(config.out_dir, v, seed)});
  }
  return grid;
}

namespace {

void check_study(const StudyConfig& config) {
  MINICNN_CHECK(!config.variants.empty(), "study: --variants should name at least one pooling variant");
  MINICNN_CHECK(config.seeds >= 1, "study: --seeds should be at least 1, but got ", config.seeds);
  MINICNN_CHECK(config.shard_count >= 1 && config.shard_index >= 0 && config.shard_index < config.shard_count,
                "study: --shard should be i/n with 1 <= i <= n, but got ", config.shard_index + 1, "/",
                config.shard_count);
  for (size_t i = 0; i < config.variants.size(); ++i) {
    parse_pool_variant(config.variants[i]);
    for (size_t j = 0; j < i; ++j) {
      MINICNN_CHECK(config.variants[i] != config.variants[j], "study: variant '", config.variants[i],
                    "' is listed twice in --variants");
    }
  }
}

// A study.json as this version reads it: studies written before --seed had seeds from 1.
json normalised_study_file(json j) {
  if (!j.contains("first_seed")) j["first_seed"] = 1;
  return j;
}

// Writes study.json, or checks that the folder's study is this one (more seeds grow it).
void claim_study_folder(const StudyConfig& config) {
  std::error_code ec;
  fs::create_directories(config.out_dir, ec);
  MINICNN_CHECK(!ec, "study: cannot create '", config.out_dir, "': ", ec.message());
  const std::string study_file = (fs::path(config.out_dir) / kStudyFile).string();
  const json wanted = json::parse(config.to_json());
  if (fs::exists(study_file)) {
    const json existing = normalised_study_file(read_json_file(study_file, "study"));
    json a = existing, b = wanted;
    a.erase("seeds");
    b.erase("seeds");
    MINICNN_CHECK(a == b, "study: '", config.out_dir, "' holds a study with another configuration (",
                  existing.dump(), "); give the same flags to continue it, or choose another --out");
    const int64_t had = existing.at("seeds").get<int64_t>();
    MINICNN_CHECK(config.seeds >= had, "study: '", config.out_dir, "' holds a study of ",
                  count_of(had, "seed", "seeds"), "; --seeds ", config.seeds,
                  " would leave some out; give --seeds ", had, " or more to continue or grow it");
    if (config.seeds == had) return;
  }
  write_file_atomic(study_file, wanted.dump(2) + "\n", "study");
}

// What happens to a run of the grid: "training", "resuming at epoch 2", "finished earlier", ...
struct RunPlan {
  RunDirPolicy policy = RunDirPolicy::Fresh;
  std::string status = "training";
  bool finished = false;
};

RunPlan plan_run(const StudyRun& run, const TrainConfig& c) {
  RunPlan plan;
  const std::string ckpt = (fs::path(run.dir) / "model.safetensors").string();
  if (fs::exists(ckpt)) {
    try {
      const Checkpoint existing = load_checkpoint(ckpt);
      if (existing.meta.config_json != c.to_json()) {
        plan = {RunDirPolicy::Overwrite, "trained with another configuration: training again", false};
      } else if (existing.state.finished) {
        plan = {RunDirPolicy::Fresh, "finished earlier", true};
      } else {
        plan = {RunDirPolicy::Resume, fmt::format("resuming at epoch {}", existing.state.epochs_done + 1),
                false};
      }
    } catch (const Error& e) {
      plan = {RunDirPolicy::Overwrite, fmt::format("damaged ({}): training again", e.what()), false};
    }
  } else if (fs::exists(run.dir) && !fs::is_empty(run.dir)) {
    plan = {RunDirPolicy::Overwrite, "incomplete (no checkpoint): training again", false};
  }
  return plan;
}

}  // namespace

StudySummary run_study(const StudyConfig& config, const DatasetSplit& data, const StudyCallbacks& callbacks) {
  check_study(config);
  claim_study_folder(config);
  std::vector<StudyRun> mine;
  const std::vector<StudyRun> grid = study_grid(config);
  for (size_t i = 0; i < grid.size(); ++i) {
    if (static_cast<int64_t>(i) % config.shard_count == config.shard_index) mine.push_back(grid[i]);
  }
  for (size_t i = 0; i < mine.size(); ++i) {
    const StudyRun& run = mine[i];
    TrainConfig c = config.base;
    c.seed = run.seed;
    c.spec = apply_pool_variant(config.base.spec, parse_pool_variant(run.variant), &config.base.input_chw);
    c.pool_variant = run.variant;
    c.out_dir = run.dir;
    c.measure_train_accuracy = true;
    const RunPlan plan = plan_run(run, c);
    if (callbacks.on_run)
      callbacks.on_run(run, static_cast<int64_t>(i) + 1, static_cast<int64_t>(mine.size()), plan.status);
    if (plan.finished) continue;
    const TrainResult r = train(
        c, data, plan.policy, callbacks.train_callbacks ? callbacks.train_callbacks(run) : TrainCallbacks{});
    if (r.interrupted) {
      StudySummary summary;
      summary.interrupted = true;
      summary.interrupted_run = fmt::format("{} seed {}", run.variant, run.seed);
      return summary;
    }
  }
  return write_study_results(config.out_dir);
}

namespace {

// The study as study.json records it.
struct StudyRecord {
  json cfg;
  std::vector<std::string> variants;
  std::vector<uint64_t> seeds;
  double epochs = 0;  // as recorded; runs have ceil(epochs) rows
  Shape input_chw;
  std::string spec;
  Recipe recipe;
};

StudyRecord read_study_record(const std::string& dir) {
  StudyRecord r;
  r.cfg = normalised_study_file(read_json_file((fs::path(dir) / kStudyFile).string(), "study"));
  r.variants = r.cfg.at("variants").get<std::vector<std::string>>();
  const uint64_t first = r.cfg.at("first_seed").get<uint64_t>();
  for (int64_t i = 0; i < r.cfg.at("seeds").get<int64_t>(); ++i)
    r.seeds.push_back(first + static_cast<uint64_t>(i));
  r.epochs = r.cfg.at("epochs").get<double>();
  r.input_chw = Shape(r.cfg.at("input_shape").get<std::vector<int64_t>>());
  r.spec = r.cfg.at("spec").get<std::string>();
  r.recipe.optimizer = parse_optimizer(r.cfg.at("optimizer").get<std::string>());
  r.recipe.lr = r.cfg.at("lr").get<double>();
  r.recipe.momentum = r.cfg.at("momentum").get<double>();
  r.recipe.weight_decay = r.cfg.at("weight_decay").get<double>();
  r.recipe.schedule = parse_schedule(r.cfg.at("schedule").get<std::string>());
  r.recipe.augment = parse_augment(r.cfg.at("augment").get<std::string>());
  r.recipe.batch_size = r.cfg.at("batch_size").get<int64_t>();
  r.recipe.epochs = r.epochs;
  return r;
}

// history[variant][seed] = the per-epoch metrics of each complete run.
using RunHistories = std::map<std::string, std::map<uint64_t, std::vector<EpochMetrics>>>;

RunHistories read_complete_runs(const std::string& dir, const StudyRecord& study, StudySummary& summary) {
  RunHistories history;
  for (uint64_t seed : study.seeds) {
    for (const std::string& v : study.variants) {
      std::vector<EpochMetrics> rows;
      try {
        const Checkpoint c =
            load_checkpoint((fs::path(run_dir(dir, v, seed)) / "model.safetensors").string());
        if (c.state.finished) rows = history_from_json(c.meta.history_json);
      } catch (const std::exception&) {
        rows.clear();  // missing, damaged or unreadable: the run counts as missing
      }
      if (static_cast<double>(rows.size()) != std::ceil(study.epochs)) {
        summary.missing.push_back(fmt::format("{} seed {}", v, seed));
        continue;
      }
      ++summary.complete_runs;
      history[v][seed] = rows;
    }
  }
  return history;
}

std::string results_csv(const StudyRecord& study, const RunHistories& history) {
  std::string csv =
      "variant,seed,epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_sec,train_"
      "eval_accuracy\n";
  for (uint64_t seed : study.seeds) {
    for (const std::string& v : study.variants) {
      auto runs = history.find(v);
      if (runs == history.end() || !runs->second.count(seed)) continue;
      for (const EpochMetrics& m : runs->second.at(seed)) {
        csv += fmt::format("{},{},{},{:.6f},{:.6f},{:.6f},{:.6f},{:.3f},{:.1f},{}\n", v, seed, m.epoch,
                           m.train_loss, m.train_accuracy, m.test_loss, m.test_accuracy, m.seconds,
                           m.images_per_sec,
                           m.has_train_eval_accuracy() ? fmt::format("{:.6f}", m.train_eval_accuracy) : "");
      }
    }
  }
  return csv;
}

// A variant's figures over its complete runs.
struct VariantResult {
  Stats final_acc, gap, seconds_per_epoch;
  std::map<uint64_t, double> final_by_seed;
  VariantShape shape;
  bool present = false;
  bool gap_measured = false;  // every run measured its Eval-mode training accuracy
};

VariantResult variant_result(const StudyRecord& study, const std::string& v,
                             const std::map<uint64_t, std::vector<EpochMetrics>>& runs) {
  VariantResult r;
  r.shape = describe_variant(apply_pool_variant(study.spec, parse_pool_variant(v), &study.input_chw), study.input_chw);
  std::vector<double> finals, gaps, spe;
  r.gap_measured = !runs.empty();
  for (const auto& [seed, rows] : runs) {
    finals.push_back(rows.back().test_accuracy);
    if (rows.back().has_train_eval_accuracy()) {
      gaps.push_back(rows.back().train_eval_accuracy - rows.back().test_accuracy);
    } else {
      r.gap_measured = false;
    }
    double total = 0;
    for (const auto& m : rows) total += m.seconds;
    spe.push_back(total / static_cast<double>(rows.size()));
    r.final_by_seed[seed] = rows.back().test_accuracy;
  }
  r.present = !finals.empty();
  r.final_acc = stats_of(finals);
  r.gap = stats_of(gaps);
  r.seconds_per_epoch = stats_of(spe);
  return r;
}

// Plot data of one variant: epoch, mean %, sd %, cumulative mean seconds.
std::string plot_data(int64_t epochs, const std::map<uint64_t, std::vector<EpochMetrics>>& runs) {
  std::string dat;
  double cumulative = 0;
  for (int64_t e = 0; e < epochs && !runs.empty(); ++e) {
    std::vector<double> acc, sec;
    for (const auto& [seed, rows] : runs) {
      acc.push_back(100 * rows[static_cast<size_t>(e)].test_accuracy);
      sec.push_back(rows[static_cast<size_t>(e)].seconds);
    }
    cumulative += stats_of(sec).mean;
    const Stats a = stats_of(acc);
    dat += fmt::format("{} {:.4f} {:.4f} {:.3f}\n", e + 1, a.mean, a.sd, cumulative);
  }
  return dat;
}

// The paired difference of a variant to the reference over the seeds both completed, with its 95%
// interval when there are at least two.
struct Paired {
  Stats diff;
  double lo = 0, hi = 0;
  bool has_interval() const { return diff.n > 1; }
};

Paired paired_difference(const VariantResult& v, const VariantResult& ref) {
  std::vector<double> d;
  for (const auto& [seed, acc] : v.final_by_seed) {
    if (auto it = ref.final_by_seed.find(seed); it != ref.final_by_seed.end()) d.push_back(acc - it->second);
  }
  Paired p;
  p.diff = stats_of(d);
  if (p.has_interval()) {
    const double half = t95(p.diff.n - 1) * p.diff.sd / std::sqrt(static_cast<double>(p.diff.n));
    p.lo = p.diff.mean - half;
    p.hi = p.diff.mean + half;
  }
  return p;
}

// "89.17% ± 0.39%", or "89.17% (sd n/a: one seed)".
std::string mean_sd(const Stats& s) {
  return s.n > 1 ? fmt::format("{} ± {}", percent(s.mean), percent(s.sd))
                 : fmt::format("{} (sd n/a: one seed)", percent(s.mean));
}

std::string seeds_text(const std::vector<uint64_t>& seeds) {
  return seeds.size() == 1 ? fmt::format("seed {}", seeds.front())
                           : fmt::format("seeds {}..{}", seeds.front(), seeds.back());
}

std::string report_header(const StudyRecord& study, const StudySummary& summary) {
  const json& cfg = study.cfg;
  std::string md = "# Pooling study\n\n";
  md += fmt::format(
      "Data set `{}`, model `{}` ({}), {}, {} for every variant (paired comparisons), recipe: {}, {}, {} "
      "augmentation, batch {}{}.\n\n",
      cfg.at("dataset").get<std::string>(), cfg.at("model").get<std::string>(), study.spec,
      count_of(study.epochs, "epoch", "epochs"), seeds_text(study.seeds), describe_optimizer(study.recipe),
      describe_schedule(study.recipe.schedule),
      study.recipe.augment == Augment::None ? "no" : augment_name(study.recipe.augment),
      study.recipe.batch_size,
      cfg.at("limit_train").get<int64_t>() > 0
          ? fmt::format(", {} training images", cfg.at("limit_train").get<int64_t>())
          : std::string());
  if (!summary.missing.empty()) {
    md += fmt::format(
        "**Incomplete:** {} of {} runs are missing or unfinished ({}); the figures below use the runs that "
        "finished.\n\n",
        summary.missing.size(), study.variants.size() * study.seeds.size(), fmt::join(summary.missing, ", "));
  }
  return md;
}

std::string report_table(const StudyRecord& study, const std::map<std::string, VariantResult>& res,
                         const std::map<std::string, Paired>& paired) {
  const std::string& ref = study.variants.front();
  std::string md =
      "| variant | final test accuracy (mean ± sd) | difference to " + ref +
      " (paired, points, 95% interval) | train − test accuracy (points; train measured in eval mode) | "
      "seconds per epoch | parameters | activation memory per image | feature maps after pooling | input "
      "pixels no window reads |\n";
  md += "|---|---|---|---|---|---|---|---|---|\n";
  for (const std::string& v : study.variants) {
    const VariantResult& r = res.at(v);
    const Paired& p = paired.at(v);
    const std::string diff =
        v == ref           ? "(reference)"
        : p.has_interval() ? fmt::format("{} ({} to {})", points(p.diff.mean), points(p.lo), points(p.hi))
        : p.diff.n == 1    ? fmt::format("{} (n/a: one seed)", points(p.diff.mean))
                           : "n/a";
    std::vector<std::string> unc;
    for (double u : r.shape.uncovered) unc.push_back(percent(u, 1));
    md += fmt::format(
        "| {} | {} | {} | {} | {:.1f} | {} | {} | {} | {} |\n", v, r.present ? mean_sd(r.final_acc) : "n/a",
        diff, r.present && r.gap_measured ? points(r.gap.mean) : "n/a (not measured)",
        r.seconds_per_epoch.mean, fmt::group_digits(r.shape.parameters), human_mib(r.shape.activation_bytes),
        fmt::join(r.shape.pooled_maps, ", "), fmt::join(unc, ", "));
  }
  return md;
}

std::string verdict_against(const Paired& p, const std::string& ref) {
  if (!p.has_interval())
    return "with a single paired seed there is no interval, so this says nothing about noise";
  if (p.lo > 0) return "better than " + ref + " on these seeds (the 95% interval excludes zero)";
  if (p.hi < 0) return "worse than " + ref + " on these seeds (the 95% interval excludes zero)";
  return "not distinguishable from seed-to-seed noise (the 95% interval includes zero)";
}

// Overfitting from figures that compare: training accuracy measured in Eval mode at the end against the
// test accuracy (a running mean over an epoch in Train mode lags behind both).
std::string gap_finding(const std::vector<std::string>& present,
                        const std::map<std::string, VariantResult>& res) {
  std::vector<std::string> measured;
  for (const std::string& v : present) {
    if (res.at(v).gap_measured) measured.push_back(v);
  }
  if (measured.empty()) {
    return "- Overfitting: not measured (these runs did not record their training accuracy in eval mode).\n";
  }
  const auto by_gap = [&](const std::string& a, const std::string& b) {
    return res.at(a).gap.mean < res.at(b).gap.mean;
  };
  const std::string most = *std::max_element(measured.begin(), measured.end(), by_gap);
  const std::string least = *std::min_element(measured.begin(), measured.end(), by_gap);
  const double top = res.at(most).gap.mean;
  const std::string reading =
      top > 0 ? ""
              : "; no variant fits its training images better than the test images, so none overfits yet";
  if (measured.size() == 1) {
    return fmt::format(
        "- Train − test accuracy gap (training accuracy measured in eval mode): {} points for {}{}.\n",
        points(top), most, reading);
  }
  return fmt::format(
      "- Train − test accuracy gap (training accuracy measured in eval mode): largest {} with {} points, "
      "smallest {} with {} points{}.\n",
      most, points(top), least, points(res.at(least).gap.mean), reading);
}

std::string coverage_finding(const std::vector<std::string>& variants,
                             const std::map<std::string, VariantResult>& res) {
  std::vector<std::string> gaps;
  for (const std::string& v : variants) {
    for (double u : res.at(v).shape.uncovered) {
      if (u > 0) {
        gaps.push_back(fmt::format("{} ({} of some pooling layer's input is never read)", v, percent(u, 1)));
        break;
      }
    }
  }
  return gaps.empty() ? "- Every variant's windows read every input pixel.\n"
                      : fmt::format("- Windows that skip pixels: {}.\n", fmt::join(gaps, "; "));
}

// The findings, each sentence computed from the figures of the table.
std::string report_findings(const StudyRecord& study, const std::map<std::string, VariantResult>& res,
                            const std::map<std::string, Paired>& paired) {
  std::string md = "\n## What the study found\n\n";
  const std::string& ref = study.variants.front();
  std::vector<std::string> present;
  for (const std::string& v : study.variants) {
    if (res.at(v).present) present.push_back(v);
  }
  if (present.empty()) return md + "No run has finished yet.\n";
  const auto by_accuracy = [&](const std::string& a, const std::string& b) {
    return res.at(a).final_acc.mean < res.at(b).final_acc.mean;
  };
  const std::string best = *std::max_element(present.begin(), present.end(), by_accuracy);
  const std::string worst = *std::min_element(present.begin(), present.end(), by_accuracy);
  const VariantResult& b = res.at(best);
  const std::string spread = b.final_acc.n > 1
                                 ? fmt::format("sd {} over {} seeds", percent(b.final_acc.sd), b.final_acc.n)
                                 : std::string("one seed");
  if (present.size() == 1) {
    md +=
        fmt::format("- One variant has finished runs: **{}**, with a mean final test accuracy of {} ({}).\n",
                    best, percent(b.final_acc.mean), spread);
  } else {
    md += fmt::format("- Highest mean final test accuracy: **{}** with {} ({}); lowest: {} with {}.\n", best,
                      percent(b.final_acc.mean), spread, worst, percent(res.at(worst).final_acc.mean));
  }
  for (const std::string& v : present) {
    if (v == ref || !res.at(ref).present) continue;
    const Paired& p = paired.at(v);
    const VariantResult& r = res.at(v);
    const VariantResult& rr = res.at(ref);
    const double time_ratio =
        rr.seconds_per_epoch.mean > 0 ? r.seconds_per_epoch.mean / rr.seconds_per_epoch.mean : 0;
    const double mem_ratio =
        static_cast<double>(r.shape.activation_bytes) / static_cast<double>(rr.shape.activation_bytes);
    md += fmt::format(
        "- {} against {}: {} points{}, {}; it takes {:.2f}x the training time per epoch and {:.2f}x the "
        "activation memory, with {} parameters ({:+.1f}%).\n",
        v, ref, points(p.diff.mean),
        p.has_interval() ? fmt::format(" ({} to {})", points(p.lo), points(p.hi)) : std::string(),
        verdict_against(p, ref), time_ratio, mem_ratio, fmt::group_digits(r.shape.parameters),
        100.0 * (static_cast<double>(r.shape.parameters) / static_cast<double>(rr.shape.parameters) - 1));
  }
  md += gap_finding(present, res);
  md += coverage_finding(study.variants, res);
  return md;
}

}  // namespace

StudySummary write_study_results(const std::string& dir) {
  const StudyRecord study = read_study_record(dir);
  StudySummary summary;
  const RunHistories history = read_complete_runs(dir, study, summary);
  write_file_atomic((fs::path(dir) / "results.csv").string(), results_csv(study, history), "study");

  std::map<std::string, VariantResult> res;
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "plot_data", ec);
  const std::map<uint64_t, std::vector<EpochMetrics>> none;
  for (const std::string& v : study.variants) {
    const auto runs = history.find(v);
    const auto& rows = runs == history.end() ? none : runs->second;
    res[v] = variant_result(study, v, rows);
    write_file_atomic((fs::path(dir) / "plot_data" / (v + ".dat")).string(), plot_data(static_cast<int64_t>(std::ceil(study.epochs)), rows),
                      "study");
  }
  std::map<std::string, Paired> paired;
  for (const std::string& v : study.variants)
    paired[v] = paired_difference(res[v], res[study.variants.front()]);

  std::string md =
      report_header(study, summary) + report_table(study, res, paired) + report_findings(study, res, paired);
  const std::string plots = draw_plots(dir, study.variants);
  md += plots.empty()
            ? "\nPlots: gnuplot is not installed or failed (see plots.log); `plots.gp` and `plot_data/` "
              "hold what it needs.\n"
            : "\nPlots: ![test accuracy per epoch](accuracy.png) ![accuracy against training "
              "time](accuracy_vs_time.png)\n";
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
      MINICNN_CHECK(!ec, "study merge: cannot copy '", entry.path().string(), "' to '", target.string(),
                    "': ", ec.message());
    }
  }
  return write_study_results(out);
}

}  // namespace minicnn
