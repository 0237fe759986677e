#!/usr/bin/env bash
# Installs the built minicnn (build/, or $MINICNN_BUILD_DIR) into a temporary prefix, then configures, builds
# and runs tests/consumer against it as an outside project would: find_package(minicnn CONFIG REQUIRED),
# minicnn::minicnn, <minicnn/minicnn.h>. Also checks the pkg-config file and the installed command.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${MINICNN_BUILD_DIR:-build}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build_dir" --prefix "$prefix" >/dev/null
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S tests/consumer -B "$prefix/consumer-build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  "${launcher[@]}" >/dev/null
cmake --build "$prefix/consumer-build" -j "$(nproc)" >/dev/null
"$prefix/consumer-build/consumer"
# The same program through pkg-config and a plain compiler line.
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" c++ -std=c++20 tests/consumer/consumer.cpp -o "$prefix/consumer-pc" \
  $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs minicnn)
"$prefix/consumer-pc" >/dev/null
"$prefix/bin/minicnn" --version
echo "consumer: built and ran against the installed package (CMake and pkg-config)"
