// The command line's own words: value checks for flags (run by CLI11 before it converts anything, so a bad
// value is refused in our sentence), and CLI11's remaining parse errors restated in the same style.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <minicnn/check.h>

namespace minicnn::cli {

/// A mistake in how the command was called (exit code 2), as opposed to a failure while running it (1).
class UsageError : public Error {
 public:
  using Error::Error;
};

/// Accepts an integer in [lo, hi]: "--epochs: expected a positive integer, but got 'abc'".
CLI::Validator integer_in(int64_t lo, int64_t hi = std::numeric_limits<int64_t>::max());
/// Accepts an unsigned 64-bit integer (a seed): 0 to 18446744073709551615.
CLI::Validator seed_value();
/// Accepts a finite number in [lo, hi] (or (lo, hi] with `lo_open`): "--lr: expected a positive number, ...".
CLI::Validator number_in(double lo, double hi, bool lo_open = false, bool hi_open = false);
/// Accepts one of `choices`: "--optimizer: expected sgd, adam or adamw, but got 'sgdd'".
CLI::Validator one_of(std::vector<std::string> choices);
/// Accepts true, false, 1 or 0 (any case) for a boolean option: "--nesterov: expected true or false (or 1 or
/// 0), but got '2'" (CLI11 alone would read any non-zero number, or yes/on/enable, as true).
CLI::Validator true_or_false();

/// `--tta` of eval and predict: test-time augmentation level 0 (none, the default), 1 or 2.
void add_tta_option(CLI::App* cmd, int64_t& tta);

/// Sets the conventions every command shares on `app` before commands are added: a repeated flag takes
/// its last value (as Python's argparse does).
void apply_flag_conventions(CLI::App& app);

/// CLI11's parse error restated as one sentence in the style of the rest (flag, what was expected, what
/// was got), for `minicnn: error: ...`: an unknown flag is named with the nearest flag of its command.
std::string usage_sentence(const CLI::ParseError& e, const CLI::App& app);

}  // namespace minicnn::cli
