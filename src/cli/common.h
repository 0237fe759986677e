// Helpers shared by the CLI's commands: value parsers for pairs and shapes, and the usage-error type.
#pragma once

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <cstdint>
#include <string>

#include <minicnn/check.h>
#include "flags.h"
#include <minicnn/pool2d.h>
#include <minicnn/tensor.h>

namespace minicnn::cli {

/// Parses "K" or "KH,KW" for option `flag`.
IntPair parse_pair(const std::string& text, const char* flag);
/// Parses "C,H,W" or "N,C,H,W" (positive integers) for option `flag`; `ranks` lists accepted ranks.
Shape parse_shape(const std::string& text, const char* flag, std::initializer_list<int64_t> ranks);

/// Adds each command's subcommand and its handler to the app.
void add_summary_command(CLI::App& app);
void add_pool_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_explain_command(CLI::App& app);
void add_study_command(CLI::App& app);
void add_export_command(CLI::App& app);

}  // namespace minicnn::cli
