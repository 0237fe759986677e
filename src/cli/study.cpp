// `minicnn study`: the pooling study over variants and paired seeds, and `study merge` for its shards.
#include <cstdio>

#include "interrupt.h"
#include "progress.h"
#include <minicnn/registry.h>
#include <minicnn/runtime.h>
#include <minicnn/study.h>
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
  std::printf("%s complete%s\nreport: %s\n", count_of(s.complete_runs, "run").c_str(),
              s.missing.empty() ? "" : fmt::format(", {} missing", s.missing.size()).c_str(),
              s.report_path.c_str());
}

void run(const StudyCommand& c) {
  c.flags.dataset_name("study");
  if (c.out.empty())
    throw UsageError(
        "study: --out DIR is required (the study's folder; run the same command again to continue it)");
  if (!c.flags.model || !find_preset(*c.flags.model)) {
    throw UsageError(
        fmt::format("study: --model should name a preset ({}), whose pooling layers each variant replaces",
                    fmt::join(preset_names(), ", ")));
  }
  InterruptGuard interrupt;
  StudyConfig config;
  config.variants = split_commas(c.variants);
  for (const std::string& v : config.variants) parse_pool_variant(v);
  config.seeds = c.seeds;
  config.first_seed = c.flags.seed.value_or(1);
  config.out_dir = c.out;
  if (!c.shard.empty()) {
    const size_t slash = c.shard.find('/');
    const auto number = [&](const std::string& t) {
      return !t.empty() && t.size() < 10 && t.find_first_not_of("0123456789") == std::string::npos
                 ? std::stoll(t)
                 : 0LL;
    };
    const long long i = slash == std::string::npos ? 0 : number(c.shard.substr(0, slash));
    const long long n = slash == std::string::npos ? 0 : number(c.shard.substr(slash + 1));
    if (n < 1 || i < 1 || i > n)
      throw UsageError("--shard: expected i/n with 1 <= i <= n, but got '" + c.shard + "'");
    config.shard_index = i - 1;
    config.shard_count = n;
  }
  require_device(Device::parse(c.flags.device.value_or("cpu")), "study");
  set_num_threads(c.flags.threads.value_or(0));
  const DatasetSplit data = load_flagged_dataset(c.flags, "study");
  std::vector<std::string> notes;
  config.base = c.flags.config(data, nullptr, &notes);
  if (InterruptGuard::requested()) {
    throw Interrupted(InterruptGuard::exit_code(),
                      "interrupted before the study started; nothing was changed");
  }
  const int64_t total = static_cast<int64_t>(config.variants.size()) * config.seeds;
  const uint64_t last_seed = config.first_seed + static_cast<uint64_t>(config.seeds - 1);
  std::printf("study of %s x %s (%s%s) of %s on %s, %s each, %s, in %s\n",
              count_of(static_cast<int64_t>(config.variants.size()), "pooling variant").c_str(),
              count_of(config.seeds, "seed").c_str(), count_of(total, "run").c_str(),
              config.shard_count > 1
                  ? fmt::format("; shard {}/{}", config.shard_index + 1, config.shard_count).c_str()
                  : "",
              config.base.model_name.c_str(), data.train.name.c_str(),
              count_of(config.base.recipe.epochs, "epoch").c_str(),
              config.seeds == 1 ? fmt::format("seed {}", config.first_seed).c_str()
                                : fmt::format("seeds {}..{}", config.first_seed, last_seed).c_str(),
              config.out_dir.c_str());
  for (const std::string& n : notes) std::printf("note: %s\n", n.c_str());
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
    TrainCallbacks cb = displays.back()->callbacks();
    cb.should_stop = [] { return InterruptGuard::requested(); };
    return cb;
  };
  const StudySummary summary = run_study(config, data, callbacks);
  if (summary.interrupted) {
    throw Interrupted(
        InterruptGuard::exit_code(),
        fmt::format("interrupted during {}; finished runs are kept and this run keeps its last checkpoint; "
                    "run the same command again to continue the study",
                    summary.interrupted_run));
  }
  print_summary(summary);
}

}  // namespace

void add_study_command(CLI::App& app) {
  auto c = std::make_shared<StudyCommand>();
  auto* cmd =
      app.add_subcommand("study",
                         "Train every pooling variant with every seed and report which pooling to use "
                         "(accuracy with spreads, paired differences, costs, plots); resumable");
  c->flags.add_to(cmd, false);
  cmd->get_option("--seed")->description(
      "First seed: the runs use seeds S..S+N-1 (N = --seeds) for every variant (default 1)");
  cmd->add_option(
         "--variants", c->variants,
         "Comma-separated pooling variants; each replaces every MaxPool2d and AvgPool2d of the preset but a "
         "head that pools to 1x1 (airbench94: its blocks' three pools, not its MaxPool2d(3) head; the Linear "
         "after Flatten adapts to the new size); the first is the reference")
      ->capture_default_str();
  cmd->add_option("--seeds", c->seeds,
                  "Number of seeds, the same for every variant (paired comparisons); a larger "
                  "number grows an existing study")
      ->capture_default_str()
      ->check(integer_in(1, 1000));
  cmd->add_option("--out", c->out, "The study's folder (runs/, results.csv, report.md, plots)");
  cmd->add_option("--shard", c->shard,
                  "i/n: train only the i-th of n slices of the grid (merge them with `study merge`)");
  auto* merge =
      cmd->add_subcommand("merge", "Combine the folders of a study's shards into one and write its results");
  merge->add_option("DIR", c->merge_dirs, "Study folders: the shards of one study")->required();
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
