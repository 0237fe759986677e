#!/usr/bin/env bash
# Installs the built minicnn (build/, or $MINICNN_BUILD_DIR) into a temporary prefix, then builds examples/
# against it as an outside project would (find_package(minicnn CONFIG REQUIRED), minicnn::minicnn,
# <minicnn/...>) and runs each example on a small input, its test; compiles one example through the
# pkg-config file as well. The MNIST and Fashion-MNIST examples read data/mnist (scripts/get_mnist.sh) and
# Debian's dataset-fashion-mnist (installed here, so the pooling comparisons run on real images), or
# $MINICNN_MNIST_DIR and $MINICNN_FASHION_MNIST_DIR; without MNIST the mnist example trains on stand-in
# images of the same shape and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${MINICNN_FASHION_MNIST_DIR:-}" ] || scripts/install_deps.sh dataset-fashion-mnist
build_dir=${MINICNN_BUILD_DIR:-build}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build_dir" --prefix "$prefix" >/dev/null
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S examples -B "$prefix/examples-build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  "${launcher[@]}" >/dev/null
cmake --build "$prefix/examples-build" -j "$(nproc)" >/dev/null
mnist=${MINICNN_MNIST_DIR:-$PWD/data/mnist}
fashion=${MINICNN_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
for example in "$prefix"/examples-build/example_*; do
  name=$(basename "$example")
  args=()
  case $name in
    example_mnist) args=("$mnist" 1000 1 "$prefix/mnist-cnn.safetensors") ;;
    example_export_onnx) args=("$prefix/model.onnx" "$mnist") ;;
    example_pooling_overlap | example_max_vs_avg) args=("$fashion") ;;
  esac
  (cd "$prefix" && "$example" "${args[@]}") >"$prefix/out.txt" 2>&1 ||
    { cat "$prefix/out.txt"; echo "consumer: $name failed" >&2; exit 1; }
  echo "consumer: $name ran: $(tail -n 1 "$prefix/out.txt")"
done
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" c++ -std=c++20 examples/custom_dataset.cpp -o "$prefix/custom-dataset-pc" \
  $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs minicnn)
"$prefix/custom-dataset-pc" >/dev/null
"$prefix/bin/minicnn" --version >/dev/null
echo "consumer: examples built and ran against the installed package (CMake and pkg-config)"
