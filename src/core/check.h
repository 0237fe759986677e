// Errors: minicnn::Error for user mistakes, MINICNN_CHECK to raise it, MINICNN_ASSERT for our own bugs.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace minicnn {

/// The one exception type of minicnn: a single sentence naming the component, what was expected and
/// what was got, e.g. "MaxPool2d: expected 3D (C, H, W) or 4D (N, C, H, W) input, but got shape [7, 7]".
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

[[noreturn]] void throw_error(std::string message);
[[noreturn]] void throw_internal(const char* file, int line, const char* condition, std::string detail);

}  // namespace detail

/// The suggestion an error sentence ends with for a mistyped name: " (did you mean 'ReLU'?)" for the
/// option closest to `word` (case-insensitive edit distance at most 2), or "" when none is that close.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& options);

/// A count with its noun for sentences: "1 epoch", "3 epochs", "9.9 epochs"; `plural` defaults to
/// `singular` + "s".
std::string count_of(double n, const std::string& singular, const std::string& plural = "");

}  // namespace minicnn

/// Throws minicnn::Error built from the message parts, only when `cond` is false.
#define MINICNN_CHECK(cond, ...)                                                  \
  do {                                                                           \
    if (!(cond)) [[unlikely]] {                                                  \
      ::minicnn::detail::throw_error(::minicnn::detail::concat(__VA_ARGS__));    \
    }                                                                            \
  } while (0)

/// Marks an invariant of minicnn itself; failing it is our bug ("internal error", file:line).
#define MINICNN_ASSERT(cond, ...)                                                                \
  do {                                                                                          \
    if (!(cond)) [[unlikely]] {                                                                 \
      ::minicnn::detail::throw_internal(__FILE__, __LINE__, #cond,                              \
                                        ::minicnn::detail::concat("" __VA_OPT__(, ) __VA_ARGS__)); \
    }                                                                                           \
  } while (0)
