#!/usr/bin/env bash
# Installs the built minicnn (build/, or $MINICNN_BUILD_DIR) into a temporary prefix, then builds examples/
# against it as an outside project would (find_package(minicnn CONFIG REQUIRED), minicnn::minicnn,
# <minicnn/...>) and runs each example; compiles one example through the pkg-config file as well.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${MINICNN_BUILD_DIR:-build}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build_dir" --prefix "$prefix" >/dev/null
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S examples -B "$prefix/examples-build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  "${launcher[@]}" >/dev/null
cmake --build "$prefix/examples-build" -j "$(nproc)" >/dev/null
for example in "$prefix"/examples-build/example_*; do
  "$example" >"$prefix/out.txt" 2>&1 || { cat "$prefix/out.txt"; echo "consumer: $(basename "$example") failed" >&2; exit 1; }
  echo "consumer: $(basename "$example") ran"
done
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" c++ -std=c++20 examples/quadrants.cpp -o "$prefix/quadrants-pc" \
  $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs minicnn)
"$prefix/quadrants-pc" >/dev/null
"$prefix/bin/minicnn" --version >/dev/null
echo "consumer: examples built and ran against the installed package (CMake and pkg-config)"
