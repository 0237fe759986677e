// The `minicnn` command: subcommands, and the mapping of errors to one sentence and an exit code.
#include <cstdio>
#include <exception>

#include "common.h"
#include "runtime.h"

namespace minicnn::cli {

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
  if (!rank_ok) throw UsageError(fmt::format("{}: expected {}, but got '{}'", flag, expected, text));
  return Shape(dims);
}

}  // namespace minicnn::cli

int main(int argc, char** argv) {
  CLI::App app{"minicnn: train small convolutional classifiers on the CPU and CUDA, and study pooling.", "minicnn"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("minicnn 0.1.0"));
  minicnn::cli::add_train_command(app);
  minicnn::cli::add_eval_command(app);
  minicnn::cli::add_predict_command(app);
  minicnn::cli::add_summary_command(app);
  minicnn::cli::add_pool_command(app);
  minicnn::cli::add_explain_command(app);
  minicnn::cli::add_study_command(app);
  minicnn::set_log_handler([](const std::string& m) { std::fprintf(stderr, "minicnn: warning: %s\n", m.c_str()); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "minicnn: error: %s\nRun 'minicnn --help' (or 'minicnn COMMAND --help') for usage.\n",
                 e.what());
    return 2;
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
