// Out-of-line construction of minicnn::Error, so the checks stay cheap where they pass, and the
// nearest-name suggestion and the counted nouns its sentences share.
#include <minicnn/check.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

namespace minicnn {
namespace detail {

void throw_error(std::string message) { throw Error(std::move(message)); }

void throw_internal(const char* file, int line, const char* condition, std::string detail) {
  std::string message = concat("internal error at ", file, ":", line, ": ", condition, " failed");
  if (!detail.empty()) message += concat(" (", detail, ")");
  message += "; please report this as a minicnn bug";
  throw Error(message);
}

}  // namespace detail

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cur = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) == std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (same ? 0 : 1)});
      prev = cur;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string did_you_mean(const std::string& word, const std::vector<std::string>& options) {
  std::string best;
  size_t best_d = 3;
  for (const auto& o : options) {
    const size_t d = edit_distance(word, o);
    if (d < best_d) {
      best_d = d;
      best = o;
    }
  }
  return best.empty() ? "" : detail::concat(" (did you mean '", best, "'?)");
}

std::string count_of(double n, const std::string& singular, const std::string& plural) {
  const std::string number =
      n == std::floor(n) ? fmt::format("{}", static_cast<long long>(n)) : fmt::format("{:g}", n);
  return fmt::format("{} {}", number, n == 1 ? singular : (plural.empty() ? singular + "s" : plural));
}

}  // namespace minicnn
