// The spec parser (a small tokenizer and a Python-style argument binder), layer factories and presets.
#include <minicnn/registry.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <functional>
#include <map>
#include <optional>

#include <minicnn/batchnorm2d.h>
#include <minicnn/check.h>
#include <minicnn/conv2d.h>
#include <minicnn/dropout.h>
#include <minicnn/flatten.h>
#include <minicnn/gelu.h>
#include <minicnn/linear.h>
#include <minicnn/mul.h>
#include <minicnn/pool2d.h>
#include <minicnn/relu.h>

namespace minicnn {
namespace {

// ---------------------------------------------------------------------------------------------------
// Values and the argument binder.

struct Value {
  enum class Kind { Int, Float, Bool, None, Pair, String } kind;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  IntPair pair;
  std::string s;
  std::string text;  // as written, for messages
};

struct Param {
  std::string name;
  std::optional<std::string> default_text;  // nullopt: required
};

struct LayerCall {
  std::string name;
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keywords;
  std::string text;
};

// Binds positionals and keywords to a signature; reads typed values with messages naming the layer.
class Args {
 public:
  Args(std::string where, const LayerCall& call, std::vector<Param> sig) : where_(std::move(where)) {
    MINICNN_CHECK(call.positional.size() <= sig.size(), where_, ": takes at most ", sig.size(),
                  " positional arguments, but got ", call.positional.size());
    for (size_t i = 0; i < call.positional.size(); ++i) values_[sig[i].name] = call.positional[i];
    std::vector<std::string> names;
    for (const auto& p : sig) names.push_back(p.name);
    for (const auto& [key, value] : call.keywords) {
      MINICNN_CHECK(std::find(names.begin(), names.end(), key) != names.end(), where_,
                    ": got an unexpected keyword argument '", key, "'", did_you_mean(key, names));
      MINICNN_CHECK(!values_.count(key), where_, ": got multiple values for argument '", key, "'");
      values_[key] = value;
    }
    for (const auto& p : sig) {
      MINICNN_CHECK(values_.count(p.name) || p.default_text, where_, ": missing required argument '", p.name, "'");
      if (!values_.count(p.name)) values_[p.name] = parse_default(*p.default_text);
    }
  }

  int64_t integer(const std::string& name) const {
    const Value& v = values_.at(name);
    MINICNN_CHECK(v.kind == Value::Kind::Int, where_, ": ", name, " should be an integer, but got ", v.text);
    return v.i;
  }
  double number(const std::string& name) const {
    const Value& v = values_.at(name);
    MINICNN_CHECK(v.kind == Value::Kind::Int || v.kind == Value::Kind::Float, where_, ": ", name,
                  " should be a number, but got ", v.text);
    return v.kind == Value::Kind::Int ? static_cast<double>(v.i) : v.f;
  }
  bool boolean(const std::string& name) const {
    const Value& v = values_.at(name);
    MINICNN_CHECK(v.kind == Value::Kind::Bool, where_, ": ", name, " should be True or False, but got ", v.text);
    return v.b;
  }
  IntPair pair(const std::string& name) const {
    const Value& v = values_.at(name);
    if (v.kind == Value::Kind::Int) return IntPair(v.i);
    MINICNN_CHECK(v.kind == Value::Kind::Pair, where_, ": ", name,
                  " should be an integer or a pair (h, w), but got ", v.text);
    return v.pair;
  }
  std::optional<IntPair> optional_pair(const std::string& name) const {
    if (is_none(name)) return std::nullopt;
    return pair(name);
  }
  bool is_none(const std::string& name) const { return values_.at(name).kind == Value::Kind::None; }
  const Value& raw(const std::string& name) const { return values_.at(name); }
  const std::string& where() const { return where_; }

 private:
  static Value parse_default(const std::string& text);
  std::string where_;
  std::map<std::string, Value> values_;
};

// ---------------------------------------------------------------------------------------------------
// Tokenizer and parser.

class Parser {
 public:
  explicit Parser(const std::string& text) : s_(text) {}

  // The layers of the spec. Pasted PyTorch is read as written: nn.Sequential(...) around the whole list
  // is the same model with the same parameter names ("0.weight", ...), so it is taken apart.
  std::vector<LayerCall> layers() {
    std::vector<LayerCall> out;
    bool in_sequential = false;
    while (true) {
      skip_separators();
      if (in_sequential && peek() == ')') {
        ++pos_;
        skip_separators();
        if (pos_ < s_.size()) {
          detail::throw_error(fmt::format(
              "model spec: expected nothing after nn.Sequential(...), but got '{}'", s_.substr(pos_, 12)));
        }
        break;
      }
      if (pos_ >= s_.size()) {
        if (in_sequential) fail("')' to close nn.Sequential(", "the end of the spec");
        break;
      }
      const size_t start = pos_;
      const std::string name = layer_name(out.size());
      if (name == "Sequential") {
        skip_space();
        if (!out.empty() || in_sequential || peek() != '(') {
          detail::throw_error(fmt::format(
              "model spec: layer {} (Sequential): nn.Sequential can only wrap the whole spec, "
              "since minicnn's models are one flat list of layers; list its layers without Sequential",
              out.size()));
        }
        ++pos_;
        in_sequential = true;
        continue;
      }
      out.push_back(layer(out.size(), name, start));
    }
    return out;
  }

  Value value() {
    skip_space();
    const size_t start = pos_;
    Value v{};
    if (pos_ >= s_.size()) fail("a value", "the end of the spec");
    const char c = s_[pos_];
    if (c == '(') {
      ++pos_;
      Value a = value();
      skip_space();
      expect(',');
      Value b = value();
      skip_space();
      if (peek() == ',') ++pos_;
      skip_space();
      expect(')');
      // None inside a pair (torch's adaptive output sizes) reads as -1: keep that input size.
      auto element = [&](const Value& e) {
        if (e.kind == Value::Kind::None) return int64_t{-1};
        if (e.kind != Value::Kind::Int) fail("a pair of integers", text_from(start));
        return e.i;
      };
      v.kind = Value::Kind::Pair;
      v.pair = IntPair(element(a), element(b));
    } else if (c == '\'' || c == '"') {
      const size_t end = s_.find(c, pos_ + 1);
      if (end == std::string::npos) fail("a closing quote", "the end of the spec");
      v.kind = Value::Kind::String;
      v.s = s_.substr(pos_ + 1, end - pos_ - 1);
      pos_ = end + 1;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' || c == '.') {
      size_t end = pos_ + 1;
      while (end < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[end])) || s_[end] == '.' ||
                                 ((s_[end] == '-' || s_[end] == '+') && (s_[end - 1] == 'e' || s_[end - 1] == 'E')))) {
        ++end;
      }
      const std::string num = s_.substr(pos_, end - pos_);
      pos_ = end;
      const bool is_float = num.find_first_of(".eE") != std::string::npos;
      try {
        size_t used = 0;
        if (is_float) {
          v.kind = Value::Kind::Float;
          v.f = std::stod(num, &used);
        } else {
          v.kind = Value::Kind::Int;
          v.i = std::stoll(num, &used);
        }
        if (used != num.size()) fail("a number", "'" + num + "'");
      } catch (const std::logic_error&) {
        fail("a number", "'" + num + "'");
      }
      // A fraction such as Mul(1/9), as Python would compute it: a float quotient of two numbers.
      if (peek() == '/') {
        ++pos_;
        const Value denominator = value();
        if (denominator.kind != Value::Kind::Int && denominator.kind != Value::Kind::Float) {
          fail("a number after '/'", denominator.text.empty() ? "nothing" : "'" + denominator.text + "'");
        }
        const double d = denominator.kind == Value::Kind::Int ? static_cast<double>(denominator.i) : denominator.f;
        if (d == 0) fail("a denominator other than 0", "'" + denominator.text + "'");
        const double n = v.kind == Value::Kind::Int ? static_cast<double>(v.i) : v.f;
        v.kind = Value::Kind::Float;
        v.f = n / d;
      }
    } else {
      const std::string word = identifier();
      if (word == "True" || word == "true") {
        v.kind = Value::Kind::Bool;
        v.b = true;
      } else if (word == "False" || word == "false") {
        v.kind = Value::Kind::Bool;
      } else if (word == "None") {
        v.kind = Value::Kind::None;
      } else {
        fail("a value (number, True/False, None, (h, w) or 'text')", word.empty() ? text_from(start) : "'" + word + "'");
      }
    }
    v.text = s_.substr(start, pos_ - start);
    return v;
  }

  bool at_end() {
    skip_space();
    return pos_ >= s_.size();
  }

 private:
  // A layer name as written, Conv2d, nn.Conv2d or torch.nn.Conv2d (what a PyTorch model prints and is
  // built from), without the module prefix.
  std::string layer_name(size_t index) {
    const size_t start = pos_;
    std::vector<std::string> parts{identifier()};
    while (!parts.back().empty() && peek() == '.') {
      ++pos_;
      parts.push_back(identifier());
    }
    if (parts.back().empty()) {
      detail::throw_error(fmt::format("model spec: layer {} should start with a layer name such as Conv2d, but got '{}'",
                                      index, s_.substr(start, 12)));
    }
    const std::string name = parts.back();
    parts.pop_back();
    const std::string prefix = fmt::format("{}", fmt::join(parts, "."));
    if (!prefix.empty() && prefix != "nn" && prefix != "torch.nn") {
      detail::throw_error(fmt::format(
          "model spec: layer {} should be a torch.nn layer such as Conv2d or nn.Conv2d, but got '{}'", index,
          s_.substr(start, pos_ - start)));
    }
    return name;
  }

  LayerCall layer(size_t index, const std::string& name, size_t start) {
    LayerCall call;
    call.name = name;
    skip_space();
    if (peek() == '(') {
      ++pos_;
      skip_space();
      while (peek() != ')') {
        skip_space();
        const size_t save = pos_;
        std::string key = identifier();
        skip_space();
        if (!key.empty() && peek() == '=') {
          ++pos_;
          call.keywords.emplace_back(key, value());
        } else {
          pos_ = save;
          if (!call.keywords.empty()) {
            detail::throw_error(fmt::format("model spec: layer {} ({}): a positional argument follows a keyword argument",
                                            index, call.name));
          }
          call.positional.push_back(value());
        }
        skip_space();
        if (peek() == ',') {
          ++pos_;
          skip_space();
        } else if (peek() != ')') {
          detail::throw_error(fmt::format("model spec: layer {} ({}): expected ',' or ')' after an argument, but got {}",
                                          index, call.name, pos_ < s_.size() ? "'" + std::string(1, s_[pos_]) + "'"
                                                                             : std::string("the end of the spec")));
        }
      }
      ++pos_;
    }
    call.text = s_.substr(start, pos_ - start);
    while (!call.text.empty() && std::isspace(static_cast<unsigned char>(call.text.back()))) call.text.pop_back();
    return call;
  }

  std::string identifier() {
    const size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) ++pos_;
    if (pos_ > start && std::isdigit(static_cast<unsigned char>(s_[start]))) {
      pos_ = start;
      return "";
    }
    return s_.substr(start, pos_ - start);
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void skip_separators() {
    while (pos_ < s_.size()) {
      if (std::isspace(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == ',') {
        ++pos_;
      } else if (s_.compare(pos_, 2, "->") == 0) {
        pos_ += 2;
      } else {
        break;
      }
    }
  }
  void expect(char c) {
    if (peek() != c) fail(fmt::format("'{}'", c), pos_ < s_.size() ? fmt::format("'{}'", s_[pos_]) : "the end of the spec");
    ++pos_;
  }
  std::string text_from(size_t start) const { return "'" + s_.substr(start, std::max<size_t>(pos_ - start, 1)) + "'"; }
  [[noreturn]] void fail(const std::string& expected, const std::string& got) const {
    detail::throw_error(fmt::format("model spec: expected {} at character {}, but got {}", expected, pos_ + 1, got));
  }

  const std::string& s_;
  size_t pos_ = 0;
};

Value Args::parse_default(const std::string& text) {
  Parser p(text);
  return p.value();
}

// ---------------------------------------------------------------------------------------------------
// Layer factories: torch.nn signatures.

using Factory = std::function<std::unique_ptr<Layer>(const Args&)>;

struct LayerKind {
  std::vector<Param> signature;
  Factory make;
};

IntPair conv_padding(const Args& a, IntPair k, IntPair d, IntPair s) {
  const Value& v = a.raw("padding");
  if (v.kind != Value::Kind::String) return a.pair("padding");
  if (v.s == "valid") return IntPair(0);
  MINICNN_CHECK(v.s == "same", a.where(), ": padding should be an integer, a pair, 'valid' or 'same', but got ", v.text);
  MINICNN_CHECK(s == IntPair(1), a.where(), ": padding='same' needs stride 1, but got stride=", s.pair_str());
  const int64_t th = d.h * (k.h - 1), tw = d.w * (k.w - 1);
  MINICNN_CHECK(th % 2 == 0 && tw % 2 == 0, a.where(),
                ": padding='same' with an even effective kernel needs asymmetric padding, which minicnn does not "
                "support; use an odd kernel_size");
  return IntPair(th / 2, tw / 2);
}

std::unique_ptr<Layer> make_conv(const Args& a, int64_t in_channels) {
  MINICNN_CHECK(a.integer("groups") == 1, a.where(), ": only groups=1 is supported, but got groups=",
                a.integer("groups"));
  const Value& mode = a.raw("padding_mode");
  MINICNN_CHECK(mode.kind == Value::Kind::String && mode.s == "zeros", a.where(),
                ": only padding_mode='zeros' is supported, but got ", mode.text);
  const IntPair k = a.pair("kernel_size"), s = a.pair("stride"), d = a.pair("dilation");
  return std::make_unique<Conv2d>(Conv2dOptions(in_channels, a.integer("out_channels"), k)
                                      .stride(s)
                                      .padding(conv_padding(a, k, d, s))
                                      .dilation(d)
                                      .bias(a.boolean("bias")));
}

std::unique_ptr<Layer> make_batchnorm(const Args& a, int64_t num_features) {
  std::optional<double> momentum;
  if (!a.is_none("momentum")) momentum = a.number("momentum");
  return std::make_unique<BatchNorm2d>(BatchNorm2dOptions(num_features)
                                           .eps(a.number("eps"))
                                           .momentum(momentum)
                                           .affine(a.boolean("affine"))
                                           .track_running_stats(a.boolean("track_running_stats")));
}

AdaptiveSize adaptive_size(const Args& a) {
  const Value& v = a.raw("output_size");
  if (v.kind == Value::Kind::Int) return {v.i, v.i};
  MINICNN_CHECK(v.kind == Value::Kind::Pair, a.where(), ": output_size should be an integer or a pair, but got ",
                v.text);
  return {v.pair.h, v.pair.w};
}

const std::map<std::string, LayerKind>& layer_kinds() {
  static const std::map<std::string, LayerKind> kinds = {
      {"Conv2d",
       {{{"in_channels", {}}, {"out_channels", {}}, {"kernel_size", {}}, {"stride", "1"}, {"padding", "0"},
         {"dilation", "1"}, {"groups", "1"}, {"bias", "True"}, {"padding_mode", "'zeros'"}},
        [](const Args& a) { return make_conv(a, a.integer("in_channels")); }}},
      {"LazyConv2d",
       {{{"out_channels", {}}, {"kernel_size", {}}, {"stride", "1"}, {"padding", "0"}, {"dilation", "1"},
         {"groups", "1"}, {"bias", "True"}, {"padding_mode", "'zeros'"}},
        [](const Args& a) { return make_conv(a, -1); }}},
      {"Linear",
       {{{"in_features", {}}, {"out_features", {}}, {"bias", "True"}},
        [](const Args& a) {
          return std::make_unique<Linear>(
              LinearOptions(a.integer("in_features"), a.integer("out_features")).bias(a.boolean("bias")));
        }}},
      {"LazyLinear",
       {{{"out_features", {}}, {"bias", "True"}},
        [](const Args& a) {
          return std::make_unique<Linear>(LinearOptions(-1, a.integer("out_features")).bias(a.boolean("bias")));
        }}},
      {"ReLU", {{{"inplace", "False"}}, [](const Args& a) { return std::make_unique<ReLU>(a.boolean("inplace")); }}},
      {"MaxPool2d",
       {{{"kernel_size", {}}, {"stride", "None"}, {"padding", "0"}, {"dilation", "1"}, {"return_indices", "False"},
         {"ceil_mode", "False"}},
        [](const Args& a) {
          MINICNN_CHECK(!a.boolean("return_indices"), a.where(),
                        ": return_indices=True returns two tensors, which a layer list cannot pass on; use "
                        "MaxPool2d::forward_with_indices from C++ or `minicnn pool --indices`");
          MaxPool2dOptions o(a.pair("kernel_size"));
          if (auto s = a.optional_pair("stride")) o.stride(*s);
          return std::make_unique<MaxPool2d>(
              o.padding(a.pair("padding")).dilation(a.pair("dilation")).ceil_mode(a.boolean("ceil_mode")));
        }}},
      {"AvgPool2d",
       {{{"kernel_size", {}}, {"stride", "None"}, {"padding", "0"}, {"ceil_mode", "False"},
         {"count_include_pad", "True"}, {"divisor_override", "None"}},
        [](const Args& a) {
          AvgPool2dOptions o(a.pair("kernel_size"));
          if (auto s = a.optional_pair("stride")) o.stride(*s);
          if (!a.is_none("divisor_override")) o.divisor_override(a.integer("divisor_override"));
          return std::make_unique<AvgPool2d>(o.padding(a.pair("padding"))
                                                 .ceil_mode(a.boolean("ceil_mode"))
                                                 .count_include_pad(a.boolean("count_include_pad")));
        }}},
      {"AdaptiveAvgPool2d",
       {{{"output_size", {}}}, [](const Args& a) { return std::make_unique<AdaptiveAvgPool2d>(adaptive_size(a)); }}},
      {"AdaptiveMaxPool2d",
       {{{"output_size", {}}, {"return_indices", "False"}},
        [](const Args& a) {
          MINICNN_CHECK(!a.boolean("return_indices"), a.where(),
                        ": return_indices=True returns two tensors, which a layer list cannot pass on");
          return std::make_unique<AdaptiveMaxPool2d>(adaptive_size(a));
        }}},
      {"Flatten",
       {{{"start_dim", "1"}, {"end_dim", "-1"}},
        [](const Args& a) { return std::make_unique<Flatten>(a.integer("start_dim"), a.integer("end_dim")); }}},
      {"BatchNorm2d",
       {{{"num_features", {}}, {"eps", "1e-05"}, {"momentum", "0.1"}, {"affine", "True"},
         {"track_running_stats", "True"}},
        [](const Args& a) { return make_batchnorm(a, a.integer("num_features")); }}},
      {"LazyBatchNorm2d",
       {{{"eps", "1e-05"}, {"momentum", "0.1"}, {"affine", "True"}, {"track_running_stats", "True"}},
        [](const Args& a) { return make_batchnorm(a, -1); }}},
      {"GELU",
       {{{"approximate", "'none'"}},
        [](const Args& a) {
          const Value& v = a.raw("approximate");
          MINICNN_CHECK(v.kind == Value::Kind::String && (v.s == "none" || v.s == "tanh"), a.where(),
                        ": approximate should be 'none' or 'tanh', but got ", v.text);
          return std::make_unique<GELU>(v.s == "tanh" ? GeluApproximate::Tanh : GeluApproximate::None);
        }}},
      {"Mul", {{{"scale", {}}}, [](const Args& a) { return std::make_unique<Mul>(static_cast<float>(a.number("scale"))); }}},
      {"Dropout",
       {{{"p", "0.5"}, {"inplace", "False"}},
        [](const Args& a) {
          return std::make_unique<Dropout>(static_cast<float>(a.number("p")), a.boolean("inplace"));
        }}},
  };
  return kinds;
}

// torch.nn layers that a pasted classifier often ends with to turn its logits into probabilities; the
// loss takes the logits, so these are refused at the end of a model.
bool is_probability_layer(const std::string& name) {
  return name == "Softmax" || name == "LogSoftmax" || name == "Sigmoid";
}

bool has_parameters(const std::string& name) {
  return name == "Conv2d" || name == "LazyConv2d" || name == "Linear" || name == "LazyLinear" ||
         name == "BatchNorm2d" || name == "LazyBatchNorm2d";
}

std::string trimmed(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t\r\n");
  return first == std::string::npos ? "" : s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}


// The spec a preset name stands for, or the spec itself. A lone word that names no preset and no layer
// ("mnist-cn", "lenet") is a mistyped preset far more often than a one-layer model, and would otherwise
// be reported by the parser at the '-' or as an unknown layer.
std::string expand_preset(const std::string& spec_or_preset) {
  if (const Preset* p = find_preset(spec_or_preset)) return p->spec;
  const std::string word = trimmed(spec_or_preset);
  const bool lone_word = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
  if (lone_word && !layer_kinds().count(word) && !is_probability_layer(word) && word != "Sequential") {
    const std::vector<std::string> names = preset_names();
    std::string hint;
    for (const std::string& name : names) {
      // A preset's first word ("mnist", "cifar") is further than did_you_mean's distance from the name.
      if (name.size() > word.size() &&
          std::equal(word.begin(), word.end(), name.begin(), [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
        hint = fmt::format(" (did you mean '{}'?)", name);
        break;
      }
    }
    if (hint.empty()) hint = did_you_mean(word, names);
    if (hint.empty()) hint = did_you_mean(word, known_layers());
    detail::throw_error(fmt::format("model spec: '{}' is neither a preset nor a layer spec{}; presets: {}",
                                    word, hint, fmt::join(names, ", ")));
  }
  return spec_or_preset;
}

}  // namespace

std::vector<std::string> known_layers() {
  std::vector<std::string> names;
  for (const auto& [name, kind] : layer_kinds()) names.push_back(name);
  return names;
}

// airbench94 in torch.nn's terms: BatchNorm2d(w, eps=1e-12, momentum=0.4) is airbench's BatchNorm with
// momentum 0.6 (torch counts the other way), and Mul(1/9) its scaling of the logits.
constexpr const char* kAirbench94Spec =
    "Conv2d(3, 24, 2) GELU "
    "Conv2d(24, 64, 3, padding=1, bias=False) MaxPool2d(2) BatchNorm2d(64, eps=1e-12, momentum=0.4) GELU "
    "Conv2d(64, 64, 3, padding=1, bias=False) BatchNorm2d(64, eps=1e-12, momentum=0.4) GELU "
    "Conv2d(64, 256, 3, padding=1, bias=False) MaxPool2d(2) BatchNorm2d(256, eps=1e-12, momentum=0.4) GELU "
    "Conv2d(256, 256, 3, padding=1, bias=False) BatchNorm2d(256, eps=1e-12, momentum=0.4) GELU "
    "Conv2d(256, 256, 3, padding=1, bias=False) MaxPool2d(2) BatchNorm2d(256, eps=1e-12, momentum=0.4) GELU "
    "Conv2d(256, 256, 3, padding=1, bias=False) BatchNorm2d(256, eps=1e-12, momentum=0.4) GELU "
    "MaxPool2d(3) Flatten Linear(256, 10, bias=False) Mul(1/9)";

// airbench94's hyperparameters, given per 1,024 images and converted to torch.optim's as the recipe does
// (in its order of operations, so the doubles are the same): Nesterov SGD with lr = 11.5 / (1024 (1 +
// 1/(1 - 0.85))) and torch weight decay wd / lr, with wd = 0.0153 * 1024 / (1024 (1 + 1/(1 - 0.85))).
Recipe airbench94_recipe() {
  Recipe r;
  const double momentum = 0.85, batch = 1024;
  const double kilostep_scale = 1024 * (1 + 1 / (1 - momentum));
  const double lr = 11.5 / kilostep_scale;
  const double wd = 0.0153 * batch / kilostep_scale;
  r.optimizer = OptimizerKind::SGD;
  r.lr = lr;
  r.momentum = momentum;
  r.nesterov = true;
  r.weight_decay = wd / lr;
  r.schedule = ScheduleKind::WarmupWarmdown;
  r.augment = Augment::FlipTranslate;
  r.batch_size = 1024;
  r.epochs = 9.9;
  r.drop_last = true;
  r.label_smoothing = 0.2;
  r.sum_loss = true;
  r.tta = 2;
  r.normalize_mean = {0.4914f, 0.4822f, 0.4465f};
  r.normalize_std = {0.2470f, 0.2435f, 0.2616f};
  r.dirac = true;
  r.whiten_images = 5000;
  r.whiten_eps = 5e-4;
  // The whitening weights and BatchNorm's weights do not train; the whitening bias trains for 3 epochs.
  r.frozen = {{"0.weight", 0}, {"BatchNorm2d.weight", 0}, {"0.bias", 3}};
  r.groups = {{"BatchNorm2d.bias", 64}};
  r.lookahead = {5, std::pow(0.95, 5), 3};
  return r;
}

const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = {
      {"mnist-cnn",
       "Conv2d(1, 32, 3, padding=1) ReLU MaxPool2d(2) Conv2d(32, 64, 3, padding=1) ReLU MaxPool2d(2) Flatten "
       "Linear(3136, 128) ReLU Linear(128, 10)",
       {1, 28, 28},
       plain_recipe(OptimizerKind::Adam, 1e-3, 0.9, 0.0, ScheduleKind::Cosine, Augment::None, 64, 3),
       "two 3x3 conv blocks and two linear layers for 28x28 greyscale digits (421,642 parameters)"},
      {"lenet5",
       "Conv2d(1, 6, 5, padding=2) ReLU MaxPool2d(2) Conv2d(6, 16, 5) ReLU MaxPool2d(2) Flatten Linear(400, 120) "
       "ReLU Linear(120, 84) ReLU Linear(84, 10)",
       {1, 28, 28},
       plain_recipe(OptimizerKind::Adam, 2e-3, 0.9, 0.0, ScheduleKind::Cosine, Augment::None, 64, 3),
       "LeNet-5 with ReLU and max pooling for 28x28 greyscale digits (61,706 parameters)"},
      {"cifar-cnn",
       "Conv2d(3, 32, 3, padding=1) BatchNorm2d(32) ReLU Conv2d(32, 32, 3, padding=1) BatchNorm2d(32) ReLU "
       "MaxPool2d(2) Conv2d(32, 64, 3, padding=1) BatchNorm2d(64) ReLU Conv2d(64, 64, 3, padding=1) BatchNorm2d(64) "
       "ReLU MaxPool2d(2) Flatten Linear(4096, 256) ReLU Dropout(0.5) Linear(256, 10)",
       {3, 32, 32},
       plain_recipe(OptimizerKind::SGD, 0.05, 0.9, 5e-4, ScheduleKind::Cosine, Augment::CropFlip, 128, 8),
       "four 3x3 conv layers with BatchNorm, two max pools and two linear layers for 32x32 colour images"},
      {"airbench94", kAirbench94Spec, {3, 32, 32}, airbench94_recipe(),
       "airbench94 (Jordan 2024: 94% on CIFAR-10 in 3.83 s on an A100): a whitening 2x2 conv, three blocks of "
       "conv, 2x2 max pool, BatchNorm, GELU, conv, BatchNorm, GELU (64, 256, 256 wide), a 3x3 max pool head "
       "(1,972,792 parameters)"},
  };
  return all;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const Preset& p : presets()) names.push_back(p.name);
  return names;
}

const Preset* find_preset(const std::string& name) {
  const std::string word = trimmed(name);
  for (const Preset& p : presets()) {
    if (p.name == word) return &p;
  }
  return nullptr;
}

Model parse_model(const std::string& spec_or_preset) {
  const std::string spec = expand_preset(spec_or_preset);
  Parser parser(spec);
  const std::vector<LayerCall> calls = parser.layers();
  if (calls.empty()) {
    detail::throw_error(
        fmt::format("model spec: expected at least one layer or a preset name ({}), but got an empty spec",
                    fmt::join(preset_names(), ", ")));
  }
  Model model;
  const auto names = known_layers();
  for (size_t i = 0; i < calls.size(); ++i) {
    const LayerCall& call = calls[i];
    auto it = layer_kinds().find(call.name);
    const bool at_the_end = std::none_of(calls.begin() + static_cast<std::ptrdiff_t>(i) + 1, calls.end(),
                                         [](const LayerCall& c) { return has_parameters(c.name); });
    if (is_probability_layer(call.name) && at_the_end) {
      detail::throw_error(
          fmt::format("model spec: layer {} ({}): minicnn's CrossEntropyLoss applies log-softmax to "
                      "the logits itself, as torch.nn.CrossEntropyLoss does, so the model should end "
                      "with its last Linear; remove {}",
                      i, call.name, call.name));
    }
    if (it == layer_kinds().end()) {
      std::string hint = did_you_mean(call.name, names);
      if (hint.empty() && calls.size() == 1) hint = did_you_mean(call.name, preset_names());
      detail::throw_error(fmt::format("model spec: layer {} '{}' is not a known layer{}; known layers: {}", i,
                                      call.name, hint, fmt::join(names, ", ")));
    }
    const std::string where = fmt::format("model spec: layer {} ({})", i, call.name);
    try {
      Args args(where, call, it->second.signature);
      model.add(it->second.make(args));
    } catch (const Error& e) {
      std::string msg = e.what();
      if (msg.rfind("model spec: ", 0) == 0) throw;
      // A layer's own validation ("MaxPool2d: ...") gets the position in front.
      const std::string prefix = call.name + ": ";
      if (msg.rfind(prefix, 0) == 0) msg = msg.substr(prefix.size());
      throw Error(fmt::format("{}: {}", where, msg));
    }
  }
  model.set_spec(spec);
  return model;
}

std::string PoolVariant::layer_spec() const {
  std::string out = fmt::format("{}({}", max ? "MaxPool2d" : "AvgPool2d", k);
  if (s != k) out += fmt::format(", stride={}", s);
  if (p != 0) out += fmt::format(", padding={}", p);
  if (d != 1) out += fmt::format(", dilation={}", d);
  if (ceil) out += ", ceil_mode=True";
  return out + ")";
}

PoolVariant parse_pool_variant(const std::string& name) {
  const auto fail = [&name]() {
    detail::throw_error(fmt::format("pool variant: expected max{{k}}[s{{s}}][p{{p}}][d{{d}}][c] or avg{{k}}[s{{s}}][p{{p}}][c] "
                                    "(e.g. max2, max3s2p1, avg2), but got '{}'",
                                    name));
  };
  PoolVariant v;
  v.name = name;
  if (name.rfind("max", 0) == 0) {
    v.max = true;
  } else if (name.rfind("avg", 0) == 0) {
    v.max = false;
  } else {
    fail();
  }
  size_t pos = 3;
  auto number = [&]() -> int64_t {
    const size_t start = pos;
    while (pos < name.size() && std::isdigit(static_cast<unsigned char>(name[pos])) && pos - start < 4) ++pos;
    if (pos == start || (pos < name.size() && std::isdigit(static_cast<unsigned char>(name[pos])))) fail();
    return std::stoll(name.substr(start, pos - start));
  };
  v.k = number();
  v.s = v.k;
  if (pos < name.size() && name[pos] == 's') {
    ++pos;
    v.s = number();
  }
  if (pos < name.size() && name[pos] == 'p') {
    ++pos;
    v.p = number();
  }
  if (v.max && pos < name.size() && name[pos] == 'd') {
    ++pos;
    v.d = number();
  }
  if (pos < name.size() && name[pos] == 'c') {
    ++pos;
    v.ceil = true;
  }
  if (pos != name.size()) fail();
  // The layer checks the options (kernel > 0, padding at most half the effective kernel, ...).
  try {
    if (v.max) {
      MaxPool2d(MaxPool2dOptions(v.k).stride(v.s).padding(v.p).dilation(v.d).ceil_mode(v.ceil));
    } else {
      AvgPool2d(AvgPool2dOptions(v.k).stride(v.s).padding(v.p).ceil_mode(v.ceil));
    }
  } catch (const Error& e) {
    detail::throw_error(fmt::format("pool variant '{}': {}", name, e.what()));
  }
  return v;
}

std::string apply_pool_variant(const std::string& spec_or_preset, const PoolVariant& variant, const Shape* input_chw) {
  const std::string spec = expand_preset(spec_or_preset);
  Parser parser(spec);
  const std::vector<LayerCall> calls = parser.layers();
  // A pooling layer whose output is 1x1 pools globally: the classifier's head, not the experiment.
  std::vector<bool> head(calls.size(), false);
  const Preset* preset = find_preset(trimmed(spec_or_preset));
  if (!input_chw && preset) input_chw = &preset->input_chw;
  if (input_chw) {
    const Model model = parse_model(spec);
    Shape shape({1, (*input_chw)[0], (*input_chw)[1], (*input_chw)[2]});
    for (size_t i = 0; i < model.size(); ++i) {
      shape = model.layer(i).output_shape(shape);
      head[i] = shape.rank() == 4 && shape[2] == 1 && shape[3] == 1;
    }
  }
  std::vector<std::string> out;
  bool after_flatten = false, replaced_pool = false;
  for (size_t i = 0; i < calls.size(); ++i) {
    const LayerCall& call = calls[i];
    if ((call.name == "MaxPool2d" || call.name == "AvgPool2d") && !head[i]) {
      out.push_back(variant.layer_spec());
      replaced_pool = true;
    } else if (call.name == "Linear" && after_flatten) {
      const Args args(fmt::format("model spec: layer {} (Linear)", i), call, layer_kinds().at("Linear").signature);
      out.push_back(fmt::format("LazyLinear({}{})", args.integer("out_features"), args.boolean("bias") ? "" : ", bias=False"));
      after_flatten = false;
    } else {
      out.push_back(call.text);
      if (call.name == "Flatten") after_flatten = true;
      // Only the Linear that reads the flattened features depends on the pooled size.
      if (call.name == "LazyLinear") after_flatten = false;
    }
  }
  MINICNN_CHECK(replaced_pool, "pool variant: the model has no MaxPool2d or AvgPool2d layer to replace with '",
                variant.name, "'");
  return fmt::format("{}", fmt::join(out, " "));
}

std::string adapt_classifier(const std::string& spec_or_preset, int64_t classes) {
  MINICNN_CHECK(classes >= 1, "model spec: the number of classes should be at least 1, but got ", classes);
  const std::string spec = expand_preset(spec_or_preset);
  Parser parser(spec);
  const std::vector<LayerCall> calls = parser.layers();
  std::vector<std::string> out;
  for (const LayerCall& call : calls) out.push_back(call.text);
  size_t last = calls.size();
  for (size_t i = 0; i < calls.size(); ++i) {
    if (calls[i].name == "Linear" || calls[i].name == "LazyLinear") last = i;
  }
  MINICNN_CHECK(last < calls.size(), "model spec: expected a Linear or LazyLinear layer to give ", classes,
                " class scores, but the model has none; end it with Flatten LazyLinear(", classes, ")");
  const LayerCall& call = calls[last];
  const std::string where = fmt::format("model spec: layer {} ({})", last, call.name);
  const Args args(where, call, layer_kinds().at(call.name).signature);
  const std::string bias = args.boolean("bias") ? "" : ", bias=False";
  out[last] = call.name == "Linear"
                  ? fmt::format("Linear({}, {}{})", args.integer("in_features"), classes, bias)
                  : fmt::format("LazyLinear({}{})", classes, bias);
  return fmt::format("{}", fmt::join(out, " "));
}

void check_classifier(const Model& built_model, int64_t classes, const std::string& dataset_name) {
  MINICNN_ASSERT(built_model.built(), "check_classifier needs a built model");
  const std::vector<LayerSummary> rows = built_model.summary_rows(built_model.input_shape());
  const Shape& got = rows.back().output_shape;
  if (got == Shape({1, classes})) return;
  std::string fix;
  if (got.rank() != 2) {
    fix = fmt::format("end the model with Flatten and a Linear, e.g. Flatten LazyLinear({})", classes);
  } else {
    // The Linear that gives the scores: the last one, if every layer after it keeps its output shape.
    std::optional<size_t> scores;
    for (size_t i = rows.size(); i-- > 0;) {
      if (rows[i].output_shape != got) break;
      if (dynamic_cast<const Linear*>(&built_model.layer(i))) {
        scores = i;
        break;
      }
    }
    if (scores) {
      const auto& linear = dynamic_cast<const Linear&>(built_model.layer(*scores));
      fix = fmt::format(
          "change the out_features of the last Linear (layer {}) to {}: Linear({}, {}) or LazyLinear({})",
          *scores, classes, linear.options().in_features_, classes, classes);
    } else {
      fix =
          fmt::format("end the model with a Linear that gives {} outputs, LazyLinear({})", classes, classes);
    }
  }
  detail::throw_error(
      fmt::format("Model: the output for one image should be [1, {}], one score for each of the {} "
                  "classes of {}, but got {}; {}",
                  classes, classes, dataset_name, got.str(), fix));
}

void set_pool_impl(Model& model, PoolImpl impl) {
  for (size_t i = 0; i < model.size(); ++i) {
    if (auto* max = dynamic_cast<MaxPool2d*>(&model.layer(i))) max->set_impl(impl);
    if (auto* avg = dynamic_cast<AvgPool2d*>(&model.layer(i))) avg->set_impl(impl);
  }
}

void set_conv_impl(Model& model, ConvImpl impl) {
  for (size_t i = 0; i < model.size(); ++i) {
    if (auto* conv = dynamic_cast<Conv2d*>(&model.layer(i))) conv->set_impl(impl);
  }
}

std::string model_to_spec(const Model& model) {
  std::string out;
  for (size_t i = 0; i < model.size(); ++i) {
    if (i) out += " ";
    out += model.layer(i).repr();
  }
  return out;
}

}  // namespace minicnn
