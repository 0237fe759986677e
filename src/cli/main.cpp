// The `minicnn` command: subcommands, and the mapping of errors to one sentence and an exit code.
#include <cstdio>
#include <exception>

#include "common.h"
#include "flags.h"
#include "interrupt.h"
#include <minicnn/runtime.h>

int main(int argc, char** argv) {
  CLI::App app{"minicnn: train small convolutional classifiers on the CPU and CUDA, and study pooling.",
               "minicnn"};
  app.require_subcommand(1);
  minicnn::cli::apply_flag_conventions(app);
  app.set_version_flag("--version", std::string("minicnn 0.1.0"));
  minicnn::cli::add_train_command(app);
  minicnn::cli::add_eval_command(app);
  minicnn::cli::add_predict_command(app);
  minicnn::cli::add_summary_command(app);
  minicnn::cli::add_pool_command(app);
  minicnn::cli::add_explain_command(app);
  minicnn::cli::add_study_command(app);
  minicnn::cli::add_export_command(app);
  minicnn::set_log_handler(
      [](const std::string& m) { std::fprintf(stderr, "minicnn: warning: %s\n", m.c_str()); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "minicnn: error: %s\n", minicnn::cli::usage_sentence(e, app).c_str());
    return 2;
  } catch (const minicnn::cli::Interrupted& e) {
    std::fprintf(stderr, "minicnn: %s\n", e.what());
    return e.code();
  } catch (const minicnn::cli::UsageError& e) {
    std::fprintf(stderr, "minicnn: error: %s\n", e.what());
    return 2;
  } catch (const minicnn::Error& e) {
    std::fprintf(stderr, "minicnn: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "minicnn: error: out of memory; try a smaller --batch-size or model\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "minicnn: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
