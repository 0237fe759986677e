// The examples' optional positional arguments: argv[i] as a number, or a default when it is absent; a
// word that is not a positive number ends the program with one sentence, not an exception.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace examples {

inline double number_argument(int argc, char** argv, int i, double fallback, const char* what) {
  if (argc <= i) return fallback;
  char* end = nullptr;
  const double value = std::strtod(argv[i], &end);
  if (end == argv[i] || *end != '\0' || !(value > 0)) {
    std::fprintf(stderr, "%s: argument %d (%s) should be a positive number, but got '%s'\n", argv[0], i, what,
                 argv[i]);
    std::exit(2);
  }
  return value;
}

}  // namespace examples
