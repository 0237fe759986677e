// The training memory estimate, the check that refuses what cannot fit, and the process's peak memory.
#include <minicnn/training_memory.h>

#include <fmt/format.h>
#include <sys/resource.h>

#include <fstream>

#include <minicnn/check.h>
#include <minicnn/runtime.h>
#include <minicnn/trainer.h>

namespace minicnn {
namespace {

// MemAvailable from /proc/meminfo in bytes, or 0 when it cannot be read.
double available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024.0;
  }
  return 0;
}

std::string gib(double bytes) {
  return fmt::format("{:.1f} GiB", bytes / (1024.0 * 1024.0 * 1024.0));
}

}  // namespace

double estimate_training_bytes(const Model& model, const Shape& input_chw, int64_t batch,
                               OptimizerKind optimizer) {
  // Parameters with their gradients and optimizer state.
  int64_t params = 0;
  for (size_t i = 0; i < model.size(); ++i) {
    for (Parameter* p : const_cast<Layer&>(model.layer(i)).parameters()) params += p->value.numel();
  }
  const double state = optimizer == OptimizerKind::SGD ? 1 : 2;
  double bytes = static_cast<double>(params) * 4.0 * (2.0 + state);
  // Activations: each layer's output, what backward keeps of it and a gradient of the same size, per image;
  // plus the convolutions' column buffers (per thread, 2 per backward).
  double per_image = static_cast<double>(input_chw.numel()) * 4.0;
  double columns = 0;
  Shape in({1, input_chw[0], input_chw[1], input_chw[2]});
  for (const LayerSummary& row : model.summary_rows(input_chw)) {
    per_image += 3.0 * static_cast<double>(row.activation_bytes);
    if (auto w = model.layer(static_cast<size_t>(row.index)).window();
        w && row.output_shape.rank() == 4 && in.rank() == 4) {
      columns = std::max(
          columns,
          2.0 * static_cast<double>(in[1] * w->KH * w->KW * row.output_shape[2] * row.output_shape[3]) * 4.0);
    }
    in = row.output_shape;
  }
  return bytes + per_image * static_cast<double>(batch) + columns * num_threads();
}

void check_training_memory(const Model& model, const Shape& input_chw, int64_t batch, OptimizerKind optimizer,
                           const std::string& model_name) {
  const double need = estimate_training_bytes(model, input_chw, batch, optimizer);
  const double have = available_memory_bytes();
  if (have <= 0 || need <= have) return;
  const double per_image = estimate_training_bytes(model, input_chw, 2, optimizer) -
                           estimate_training_bytes(model, input_chw, 1, optimizer);
  const double fixed = need - per_image * static_cast<double>(batch);
  const int64_t fits = per_image > 0 && have > fixed ? static_cast<int64_t>((have - fixed) / per_image) : 0;
  detail::throw_error(fmt::format(
      "train: training {} with batch size {} needs about {} of memory ({} for parameters, gradients and "
      "optimizer "
      "state, {} per image of the batch), but only {} is available; {}",
      model_name, batch, gib(need), gib(fixed), fmt::format("{:.1f} MiB", per_image / (1024.0 * 1024.0)),
      gib(have),
      fits > 0 ? fmt::format("use --batch-size {} or less", fits) : std::string("choose a smaller model")));
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

}  // namespace minicnn
