// Parameter selection by the recipe's selectors ("3.weight", "BatchNorm2d.bias") and what each rule does.
#include <minicnn/parameter_rules.h>

#include <minicnn/check.h>
#include <minicnn/conv2d.h>
#include <minicnn/init.h>

namespace minicnn {
namespace {

// Calls f(parameter, layer index, layer) for every parameter of `model`, in nn.Sequential order.
template <typename F>
void for_each_parameter(Model& model, const F& f) {
  for (size_t i = 0; i < model.size(); ++i) {
    for (Parameter* p : model.layer(i).parameters()) f(*p, static_cast<int64_t>(i), model.layer(i));
  }
}

bool selects(const ParamSelector& selector, const Parameter& p, int64_t index, const Layer& layer) {
  return minicnn::selects(selector, index, layer.type_name(), p.name);
}

}  // namespace

void apply_dirac(Model& model) {
  for (size_t i = 0; i < model.size(); ++i) {
    if (auto* conv = dynamic_cast<Conv2d*>(&model.layer(i))) {
      Tensor& w = conv->weight().value;
      dirac_(w, std::min(w.size(0), w.size(1)));
    }
  }
}

void apply_freeze_rules(Model& model, const std::vector<FreezeRule>& rules, int64_t epoch) {
  for_each_parameter(model, [&](Parameter& p, int64_t index, const Layer& layer) {
    p.requires_grad = true;
    for (const FreezeRule& rule : rules) {
      if (selects(rule.params, p, index, layer) && epoch >= rule.epochs) p.requires_grad = false;
    }
  });
}

std::vector<ParamGroup> parameter_groups(Model& model, const Recipe& recipe) {
  std::vector<ParamGroup> groups;
  for (const GroupRule& rule : recipe.groups) {
    MINICNN_CHECK(rule.lr_scale > 0, "recipe: a parameter group's lr_scale should be positive, but got ",
                  rule.lr_scale);
    groups.push_back({{}, recipe.lr * rule.lr_scale, recipe.weight_decay / rule.lr_scale});
  }
  groups.push_back({{}, recipe.lr, recipe.weight_decay});
  for_each_parameter(model, [&](Parameter& p, int64_t index, const Layer& layer) {
    size_t g = 0;
    while (g < recipe.groups.size() && !selects(recipe.groups[g].params, p, index, layer)) ++g;
    groups[g].params.push_back(&p);
  });
  return groups;
}

}  // namespace minicnn
