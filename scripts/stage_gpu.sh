#!/usr/bin/env bash
# On the CPU machine: builds the CUDA binaries that travel to a GPU machine (static CUDA runtime, cuDNN,
# -march=x86-64-v3 instead of -march=native, Eigen's CPU GEMM instead of oneDNN's 40 MB library) in
# build-gpu/, and stages them stripped, with the CIFAR-10 JPEG archive (19 MB; gzipped MNIST instead when
# it is missing), in .gpu/ (ignored by git). Carry .gpu/ to the GPU machine and run scripts/gpu_check.sh
# there. Refuses to leave more than the 60 MiB that fit the 64 MiB carried with the working tree.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=build-gpu
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DMINICNN_CUDA=ON -DMINICNN_CUDNN=ON -DMINICNN_STATIC_CUDART=ON \
  -DMINICNN_NATIVE=OFF -DMINICNN_ARCH_FLAGS=-march=x86-64-v3 -DMINICNN_BUILD_EXAMPLES=OFF -DMINICNN_ONEDNN=OFF "${launcher[@]}" >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target minicnn_cli minicnn_tests conv_cuda_bench

rm -rf .gpu
mkdir -p .gpu/bin
strip -o .gpu/bin/minicnn "$build_dir/minicnn"
strip -o .gpu/bin/minicnn_tests "$build_dir/tests/minicnn_tests"
strip -o .gpu/bin/conv_cuda_bench "$build_dir/bench/conv_cuda_bench"
# The shared libraries the GPU machine may lack (Debian's libfmt, libgomp, zlib) travel too; the C and C++
# runtimes are the machine's own, and cuBLAS/cuDNN come from its Python packages (scripts/gpu_check.sh).
mkdir -p .gpu/lib
for lib in $(ldd .gpu/bin/* | awk '$2 == "=>" && $3 ~ /^\// {print $1 " " $3}' | sort -u | \
             grep -vE '^((libc|libm|libdl|librt|libpthread|libgcc_s|libstdc\+\+)\.so|ld-linux|libcublas|libcudnn|libcudart|libnv)' | \
             awk '{print $2}'); do
  cp -L "$lib" .gpu/lib/
done
cifar=""
for candidate in data/cifar10-jpeg.tar.gz ../shared/datasets/cifar10-jpeg.tar.gz; do
  if [ -f "$candidate" ]; then cifar=$candidate; break; fi
done
if [ -n "$cifar" ]; then
  cp "$cifar" .gpu/cifar10-jpeg.tar.gz
elif [ -d data/mnist ]; then
  echo "stage_gpu: no cifar10-jpeg.tar.gz (data/ or ../shared/datasets/): staging MNIST, so only its run works" >&2
  mkdir -p .gpu/mnist
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    if [ -f "data/mnist/$f.gz" ]; then
      cp "data/mnist/$f.gz" .gpu/mnist/
    elif [ -f "data/mnist/$f" ]; then
      gzip -9 -c "data/mnist/$f" >".gpu/mnist/$f.gz"
    fi
  done
else
  echo "stage_gpu: neither the CIFAR-10 archive nor data/mnist is here, so the GPU runs will have no data" >&2
fi
du -sh .gpu
staged_kib=$(du -sk .gpu | cut -f1)
if [ "$staged_kib" -gt $((60 * 1024)) ]; then
  echo "stage_gpu: .gpu holds ${staged_kib} KiB, more than the 60 MiB that travel beside the working tree" >&2
  exit 1
fi
