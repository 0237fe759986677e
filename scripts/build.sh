#!/usr/bin/env bash
# Configures and builds minicnn (Release, tuned for this machine) into build/ ; extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${MINICNN_BUILD_DIR:-build}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" "$@" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
