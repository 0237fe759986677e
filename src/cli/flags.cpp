// Flag values checked in our words before CLI11 converts them, and CLI11's other parse errors restated.
#include "flags.h"

#include "common.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <regex>

namespace minicnn::cli {
namespace {

// Whole-string integer parse; false for empty text, signs where none belong, trailing characters or overflow.
bool parse_int64(const std::string& text, int64_t& out) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text.front()))) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno == ERANGE || end != text.c_str() + text.size()) return false;
  out = v;
  return true;
}

bool parse_double(const std::string& text, double& out) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text.front()))) return false;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (errno == ERANGE || end != text.c_str() + text.size() || !std::isfinite(v)) return false;
  out = v;
  return true;
}

std::string integer_range(int64_t lo, int64_t hi) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (lo == 1 && hi == kMax) return "a positive integer";
  if (lo == 0 && hi == kMax) return "an integer >= 0";
  if (hi == kMax) return fmt::format("an integer >= {}", lo);
  return fmt::format("an integer from {} to {}", lo, hi);
}

std::string number_range(double lo, double hi, bool lo_open, bool hi_open) {
  if (lo == 0 && lo_open && std::isinf(hi)) return "a positive number";
  if (lo == 0 && lo_open && !hi_open) return fmt::format("a positive number up to {}", hi);
  if (lo == 0 && !lo_open && std::isinf(hi)) return "a number >= 0";
  if (std::isinf(hi)) return fmt::format("a number {} {}", lo_open ? ">" : ">=", lo);
  return fmt::format("a number from {} to {}{}{}", lo, hi,
                     lo_open ? " (excluding " + fmt::format("{}", lo) + ")" : "",
                     hi_open ? " (excluding " + fmt::format("{}", hi) + ")" : "");
}

std::string choices_text(const std::vector<std::string>& choices) {
  std::string out;
  for (size_t i = 0; i < choices.size(); ++i) {
    out += i == 0 ? "" : (i + 1 == choices.size() ? " or " : ", ");
    out += choices[i];
  }
  return out;
}

// The names of every option of `cmd` ("--epochs", ...), for suggestions.
std::vector<std::string> flag_names(const CLI::App* cmd) {
  std::vector<std::string> names;
  for (const CLI::Option* o : cmd->get_options()) {
    for (const std::string& n : o->get_lnames()) names.push_back("--" + n);
  }
  return names;
}

// The deepest subcommand that was being parsed ("train", "study merge"), or the app itself.
const CLI::App* parsed_command(const CLI::App& app) {
  const CLI::App* cmd = &app;
  for (bool deeper = true; deeper;) {
    deeper = false;
    for (const CLI::App* sub : cmd->get_subcommands()) {
      if (sub->parsed()) {
        cmd = sub;
        deeper = true;
        break;
      }
    }
  }
  return cmd;
}

std::string command_path(const CLI::App* cmd) {
  std::string path;
  for (const CLI::App* c = cmd; c != nullptr && c->get_parent() != nullptr; c = c->get_parent()) {
    path = c->get_name() + (path.empty() ? "" : " " + path);
  }
  return path.empty() ? "minicnn" : path;
}

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands({})) names.push_back(sub->get_name());
  return names;
}

}  // namespace

IntPair parse_pair(const std::string& text, const char* flag) {
  const Shape s = parse_shape(text, flag, {1, 2});
  return s.rank() == 1 ? IntPair(s[0]) : IntPair(s[0], s[1]);
}

Shape parse_shape(const std::string& text, const char* flag, std::initializer_list<int64_t> ranks) {
  std::vector<int64_t> dims;
  size_t p = 0;
  bool ok = !text.empty();
  while (ok && p <= text.size()) {
    const size_t comma = text.find(',', p);
    const std::string part = text.substr(p, comma == std::string::npos ? std::string::npos : comma - p);
    ok = !part.empty() && part.size() < 12 && part.find_first_not_of("0123456789") == std::string::npos;
    if (ok) dims.push_back(std::stoll(part));
    if (comma == std::string::npos) break;
    p = comma + 1;
  }
  bool rank_ok = false;
  std::string expected;
  for (int64_t r : ranks) {
    rank_ok |= ok && static_cast<int64_t>(dims.size()) == r;
    if (!expected.empty()) expected += " or ";
    expected += std::to_string(r) + (r == 1 ? " number" : " comma-separated numbers");
  }
  if (!rank_ok)
    throw UsageError(fmt::format("{}: expected {} (integers >= 0), but got '{}'", flag, expected, text));
  return Shape(dims);
}

CLI::Validator integer_in(int64_t lo, int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        int64_t v = 0;
        if (parse_int64(text, v) && v >= lo && v <= hi) return "";
        return fmt::format("expected {}, but got '{}'", integer_range(lo, hi), text);
      },
      "", "");
}

CLI::Validator seed_value() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const bool digits =
            !text.empty() && text.size() <= 20 && text.find_first_not_of("0123456789") == std::string::npos;
        errno = 0;
        if (digits) {
          std::strtoull(text.c_str(), nullptr, 10);
          if (errno != ERANGE) return "";
        }
        return fmt::format("expected an integer from 0 to {}, but got '{}'",
                           std::numeric_limits<uint64_t>::max(), text);
      },
      "", "");
}

CLI::Validator number_in(double lo, double hi, bool lo_open, bool hi_open) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        double v = 0;
        if (parse_double(text, v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi)) return "";
        return fmt::format("expected {}, but got '{}'", number_range(lo, hi, lo_open, hi_open), text);
      },
      "", "");
}

CLI::Validator one_of(std::vector<std::string> choices) {
  return CLI::Validator(
      [choices](std::string& text) -> std::string {
        for (const std::string& c : choices) {
          if (c == text) return "";
        }
        return fmt::format("expected {}, but got '{}'{}", choices_text(choices), text,
                           did_you_mean(text, choices));
      },
      "", "");
}

CLI::Validator true_or_false() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        std::string lower = text;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        if (lower == "true" || lower == "false" || lower == "1" || lower == "0") return "";
        return fmt::format("expected true or false (or 1 or 0), but got '{}'", text);
      },
      "", "");
}

void add_tta_option(CLI::App* cmd, int64_t& tta) {
  cmd->add_option(
         "--tta", tta,
         "Test-time augmentation: 0 none (the default), 1 average each image's logits with its mirror's, "
         "2 also with one-pixel shifts up-left and down-right (airbench94's)")
      ->check(integer_in(0, 2));
}

namespace {

// The sentence for words CLI11 could not place: the first of them, with the nearest flag of `cmd`.
std::string extras_sentence(const CLI::App* cmd, const std::vector<std::string>& extra) {
  const std::string& word = extra.front();
  const std::string name = word.substr(0, word.find('='));
  const std::string where = command_path(cmd);
  if (name.rfind("-", 0) == 0) {
    std::string hint = did_you_mean(name, flag_names(cmd));
    if (hint.empty() && cmd->get_name() == "study" && name == "--pool") {
      hint = " (a study names the pooling layers it compares with --variants, e.g. --variants max2,max3s2p1)";
    }
    return fmt::format("{}: unknown flag '{}'{}; see 'minicnn {} --help'", where, name, hint, where);
  }
  return fmt::format("{}: unexpected argument '{}'; see 'minicnn {} --help'", where, word, where);
}

}  // namespace

void apply_flag_conventions(CLI::App& app) {
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

std::string usage_sentence(const CLI::ParseError& e, const CLI::App& app) {
  const std::string what = e.what();
  const CLI::App* cmd = parsed_command(app);
  const std::string where = command_path(cmd);
  std::smatch m;
  if (dynamic_cast<const CLI::ValidationError*>(&e)) return what;  // our validators already speak our words
  if (dynamic_cast<const CLI::RequiredError*>(&e)) {
    if (what.rfind("A subcommand", 0) == 0 || cmd == &app) {
      const std::vector<std::string> extra = app.remaining(true);
      if (!extra.empty()) {
        return fmt::format("'{}' is not a minicnn command{}; commands: {}", extra.front(),
                           did_you_mean(extra.front(), command_names(app)), choices_text(command_names(app)));
      }
      return fmt::format("expected a command ({}), but got none; see 'minicnn --help'",
                         choices_text(command_names(app)));
    }
    static const std::regex required(R"(^(\S+) is required$)");
    if (std::regex_match(what, m, required)) {
      const CLI::Option* o = cmd->get_option_no_throw(m[1].str());
      return fmt::format(
          "{}: {} is required{}", where, m[1].str(),
          o && !o->get_description().empty() ? " (" + o->get_description() + ")" : std::string());
    }
  }
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e)) {
    static const std::regex missing(R"(^(\S+): \d+ required \S+ missing$)");
    if (std::regex_match(what, m, missing)) {
      return fmt::format("{}: expected a value, but got none", m[1].str());
    }
  }
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
    const std::vector<std::string> extra = app.remaining(true);
    if (!extra.empty() && cmd != &app) return extras_sentence(cmd, extra);
    const std::string word = extra.empty() ? std::string("?") : extra.front();
    return fmt::format("'{}' is not a minicnn command{}; commands: {}", word,
                       did_you_mean(word, command_names(app)), choices_text(command_names(app)));
  }
  if (dynamic_cast<const CLI::ConversionError*>(&e)) {
    static const std::regex flag_value(R"(^(\S+): Should be true/false or a number$)");
    if (std::regex_match(what, m, flag_value)) {
      return fmt::format("{}: takes no value (it is a switch: give it or leave it out)", m[1].str());
    }
    static const std::regex not_converted(R"(^Could not convert: (\S+) = (.*)$)");
    if (std::regex_match(what, m, not_converted)) {
      return fmt::format("{}: expected a value of its type, but got '{}'", m[1].str(), m[2].str());
    }
  }
  return fmt::format("{}: {}", where, what);
}

}  // namespace minicnn::cli
