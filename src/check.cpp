// Out-of-line construction of minicnn::Error, so the checks stay cheap where they pass.
#include "check.h"

namespace minicnn::detail {

void throw_error(std::string message) { throw Error(std::move(message)); }

void throw_internal(const char* file, int line, const char* condition, std::string detail) {
  std::string message = concat("internal error at ", file, ":", line, ": ", condition, " failed");
  if (!detail.empty()) message += concat(" (", detail, ")");
  message += "; please report this as a minicnn bug";
  throw Error(message);
}

}  // namespace minicnn::detail
