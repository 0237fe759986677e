// `minicnn study`: the pooling study over variants and paired seeds, and `study merge` for its shards.
#include <cstdio>

#include "progress.h"
#include "registry.h"
#include "runtime.h"
#include "study.h"
#include "train_flags.h"

namespace minicnn::cli {
namespace {

struct StudyCommand {
  TrainFlags flags;
  std::string variants = "max2,max3s2p1,avg2,max2s1";
  int64_t seeds = 3;
  std::string out, shard;
  std::vector<std::string> merge_dirs;
  std::string merge_out;
};

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p <= text.size()) {
    const size_t comma = text.find(',', p);
    out.push_back(text.substr(p, comma == std::string::npos ? std::string::npos : comma - p));
    if (comma == std::string::npos) break;
    p = comma + 1;
  }
  return out;
}

void print_summary(const StudySummary& s) {
  std::printf("%lld runs complete%s\nreport: %s\n", static_cast<long long>(s.complete_runs),
              s.missing.empty() ? "" : fmt::format(", {} missing", s.missing.size()).c_str(), s.report_path.c_str());
}

void run(const StudyCommand& c) {
  if (c.flags.dataset.empty()) throw UsageError("study: --dataset is required");
  if (c.out.empty()) throw UsageError("study: --out DIR is required (the study's folder; run the same command again to continue it)");
  if (c.flags.model.empty() || !find_preset(c.flags.model)) {
    throw UsageError("study: --model should name a preset (mnist-cnn, lenet5, cifar-cnn), whose pooling layers each variant replaces");
  }
  StudyConfig config;
  config.variants = split_commas(c.variants);
  for (const std::string& v : config.variants) parse_pool_variant(v);
  config.seeds = c.seeds;
  config.out_dir = c.out;
  if (!c.shard.empty()) {
    const Shape s = parse_shape(c.shard.find('/') == std::string::npos ? c.shard : c.shard.substr(0, c.shard.find('/')) + "," +
                                                                                         c.shard.substr(c.shard.find('/') + 1),
                                "--shard", {2});
    if (s[1] < 1 || s[0] < 1 || s[0] > s[1]) throw UsageError("--shard: expected i/n with 1 <= i <= n, but got '" + c.shard + "'");
    config.shard_index = s[0] - 1;
    config.shard_count = s[1];
  }
  require_device(Device::parse(c.flags.device), "study");
  set_num_threads(c.flags.threads);
  const DatasetSplit data = load_dataset(c.flags.dataset, c.flags.data_dir(), c.flags.dataset_options());
  config.base = c.flags.config(data);
  const int64_t total = static_cast<int64_t>(config.variants.size()) * config.seeds;
  std::printf("study of %zu pooling variants x %lld seeds (%lld runs%s) of %s on %s, %lld epochs each, in %s\n",
              config.variants.size(), static_cast<long long>(config.seeds), static_cast<long long>(total),
              config.shard_count > 1 ? fmt::format("; shard {}/{}", config.shard_index + 1, config.shard_count).c_str() : "",
              config.base.model_name.c_str(), data.train.name.c_str(), static_cast<long long>(config.base.recipe.epochs),
              config.out_dir.c_str());
  std::fflush(stdout);
  std::vector<std::unique_ptr<ProgressDisplay>> displays;
  StudyCallbacks callbacks;
  callbacks.on_run = [](const StudyRun& r, int64_t i, int64_t n, const std::string& status) {
    std::printf("run %lld/%lld: %s seed %llu: %s\n", static_cast<long long>(i), static_cast<long long>(n),
                r.variant.c_str(), static_cast<unsigned long long>(r.seed), status.c_str());
    std::fflush(stdout);
  };
  callbacks.train_callbacks = [&displays](const StudyRun& r) {
    displays.push_back(std::make_unique<ProgressDisplay>(fmt::format("{} seed {}", r.variant, r.seed)));
    return displays.back()->callbacks();
  };
  print_summary(run_study(config, data, callbacks));
}

}  // namespace

void add_study_command(CLI::App& app) {
  auto c = std::make_shared<StudyCommand>();
  auto* cmd = app.add_subcommand("study", "Train every pooling variant with every seed and report which pooling to use "
                                          "(accuracy with spreads, paired differences, costs, plots); resumable");
  c->flags.add_to(cmd, false);
  cmd->add_option("--variants", c->variants, "Comma-separated pooling variants; the first is the reference")
      ->capture_default_str();
  cmd->add_option("--seeds", c->seeds, "Seeds 1..N for every variant (paired comparisons)")->capture_default_str();
  cmd->add_option("--out", c->out, "The study's folder (runs/, results.csv, report.md, plots)");
  cmd->add_option("--shard", c->shard, "i/n: train only the i-th of n slices of the grid (merge them with `study merge`)");
  auto* merge = cmd->add_subcommand("merge", "Combine the folders of a study's shards into one and write its results");
  merge->add_option("dirs", c->merge_dirs, "Study folders (shards of one study)")->required();
  merge->add_option("--out", c->merge_out, "Where the merged study goes (default: the first folder)");
  merge->callback([c] {
    const std::string out = c->merge_out.empty() ? c->merge_dirs.front() : c->merge_out;
    print_summary(merge_studies(c->merge_dirs, out));
  });
  cmd->callback([c, merge] {
    if (merge->parsed()) return;
    run(*c);
  });
}

}  // namespace minicnn::cli
