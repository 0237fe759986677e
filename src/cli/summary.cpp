// `minicnn summary`: the layer table of a spec or preset for a given input shape.
#include <cstdio>

#include "common.h"
#include <minicnn/parameter_rules.h>
#include <minicnn/registry.h>

namespace minicnn::cli {

void add_summary_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("summary", "Print a model's layers, output shapes, parameters, receptive field "
                                            "and activation memory");
  auto model = std::make_shared<std::string>("mnist-cnn");
  auto shape = std::make_shared<std::string>();
  cmd->add_option("--model", *model, "A preset name (mnist-cnn, lenet5, ...) or a spec in torch.nn syntax")
      ->capture_default_str();
  cmd->add_option("--input-shape", *shape, "Per-image input shape C,H,W (default: the preset's)");
  cmd->callback([model, shape] {
    Model m = parse_model(*model);
    Shape input;
    if (!shape->empty()) {
      input = parse_shape(*shape, "--input-shape", {3});
    } else if (const Preset* p = find_preset(*model)) {
      input = p->input_chw;
    } else {
      throw UsageError("summary: --input-shape C,H,W is needed for a spec that is not a preset");
    }
    m.build(input, 0);
    // A preset's parameters that start frozen (airbench94's whitening weights) as training starts them.
    if (const Preset* p = find_preset(*model)) apply_freeze_rules(m, p->recipe.frozen, 0);
    std::printf("model: %s\n\n%s", *model == m.spec() ? "custom spec" : model->c_str(), m.summary(input).c_str());
  });
}

}  // namespace minicnn::cli
