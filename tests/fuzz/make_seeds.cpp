// Writes the seed corpus of every fuzz target: make_seeds DIR fills DIR/<target>/ (see fuzz_seeds.h).
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>

#include "fuzz_seeds.h"
#include "fuzz_targets.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds DIR\n");
    return 2;
  }
  namespace fs = std::filesystem;
  try {
    for (const minicnn::fuzz::Target& t : minicnn::fuzz::targets()) {
      const fs::path dir = fs::path(argv[1]) / t.name;
      fs::create_directories(dir);
      const auto seeds = minicnn::fuzz::seeds(t.name);
      for (const minicnn::fuzz::Seed& s : seeds) {
        std::ofstream(dir / s.name, std::ios::binary)
            .write(s.bytes.data(), static_cast<std::streamsize>(s.bytes.size()));
      }
      std::printf("%-13s %zu seeds\n", t.name, seeds.size());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
