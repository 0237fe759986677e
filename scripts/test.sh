#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (packages, and npm's onnxruntime-node for the ONNX Runtime test), builds
# minicnn and runs every test, then builds and runs an outside project against the installed package. Safe to
# run twice.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
command -v npm >/dev/null || scripts/install_deps.sh npm || true
# Where it cannot be installed (offline), OnnxRuntime.* says why and skips.
tests/onnx_runtime_check.sh --install || echo "test: onnxruntime-node not installed; the ONNX Runtime test will skip"
scripts/build.sh
ctest --test-dir "${MINICNN_BUILD_DIR:-build}" --output-on-failure -j "$(nproc)"
scripts/test_consumer.sh
