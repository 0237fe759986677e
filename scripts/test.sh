#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (packages), builds minicnn and runs every test, then builds and runs an
# outside project against the installed package. Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
ctest --test-dir "${MINICNN_BUILD_DIR:-build}" --output-on-failure -j "$(nproc)"
scripts/test_consumer.sh
