#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: installs what is needed, brings real MNIST, builds minicnn,
# trains the default model (mnist-cnn, 3 epochs) with a progress bar and prints its test accuracy.
# Safe to run twice (each run writes a new run directory under runs/). Extra arguments go to `minicnn train`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v npm >/dev/null || scripts/install_deps.sh npm
scripts/install_deps.sh
scripts/get_mnist.sh
scripts/build.sh
build/minicnn train --dataset mnist --data data/mnist --model mnist-cnn "$@"
