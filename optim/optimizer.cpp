// Optimizer: gradient clearing and state movement shared by every optimizer.
#include <minicnn/optimizer.h>

#include <fmt/format.h>

#include <minicnn/adam.h>
#include <minicnn/check.h>
#include <minicnn/sgd.h>

namespace minicnn {

Optimizer::Optimizer(std::vector<Parameter*> params, double lr) : params_(std::move(params)), lr_(lr) {
  MINICNN_CHECK(lr >= 0.0, "Optimizer: lr should be >= 0, but got ", lr);
  for (Parameter* p : params_) MINICNN_ASSERT(p != nullptr && p->value.defined() && p->grad.defined());
}

void Optimizer::zero_grad() {
  for (Parameter* p : params_) p->grad.zero_();
}

void Optimizer::to(Device device) {
  for (auto& [name, t] : state()) *t = t->to(device);
}

std::string describe_optimizer(const Recipe& recipe) {
  if (recipe.optimizer == "sgd") {
    return fmt::format("SGD lr {:g}, momentum {:g}, weight decay {:g}", recipe.lr, recipe.momentum, recipe.weight_decay);
  }
  return fmt::format("{} lr {:g}, betas (0.9, 0.999), weight decay {:g}", recipe.optimizer == "adamw" ? "AdamW" : "Adam",
                     recipe.lr, recipe.weight_decay);
}

std::unique_ptr<Optimizer> make_optimizer(const Recipe& recipe, std::vector<Parameter*> params) {
  if (recipe.optimizer == "sgd") {
    return std::make_unique<SGD>(std::move(params),
                                 SGDOptions(recipe.lr).momentum(recipe.momentum).weight_decay(recipe.weight_decay));
  }
  if (recipe.optimizer == "adam") {
    return std::make_unique<Adam>(std::move(params), AdamOptions(recipe.lr).weight_decay(recipe.weight_decay));
  }
  if (recipe.optimizer == "adamw") {
    return std::make_unique<AdamW>(std::move(params), AdamOptions(recipe.lr).weight_decay(recipe.weight_decay));
  }
  detail::throw_error("optimizer: expected 'sgd', 'adam' or 'adamw', but got '" + recipe.optimizer + "'");
}

}  // namespace minicnn
