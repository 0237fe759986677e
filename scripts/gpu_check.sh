#!/usr/bin/env bash
# The one GPU check (DESIGN section 7). Run from the repository root on a machine with an H100 or H200
# and PyTorch with CUDA, after scripts/stage_gpu.sh filled .gpu/ on the CPU machine. In this order, so that
# a short lease answers the first questions first: the CUDA tests; airbench94 (one seed) with minicnn and
# with bench/airbench_torch.py (float32, TF32 off) on the same GPU; cifar-cnn for two epochs on the GPU
# and on the CPU; the cuDNN convolution timings. Writes its log (and the runs' summaries) to $OUT. Exits
# non-zero when any stage failed. Every stage has a time limit, and the limits add up to 6 minutes (360 s), so
# the script fits a 15-minute lease with its start-up and one rerun of a failed stage.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-check-out}
mkdir -p "$out"

status=0
stage() {
  local name=$1 start=$SECONDS rc
  shift
  echo "=== stage: $name"
  "$@"
  rc=$?
  echo "=== stage: $name: exit $rc in $((SECONDS - start)) s"
  [ "$rc" -eq 0 ] || status=1
}

# cuDNN and cuBLAS come from the Python packages (nvidia-cudnn-cu13, nvidia-cublas): their lib folders,
# then the toolkit's, then .gpu/lib (Debian's libfmt and libgomp, staged with the binaries).
library_path() {
  python3 - <<'PY'
import glob, os, site
dirs = []
try:
    import nvidia.cudnn
    dirs.append(os.path.join(list(nvidia.cudnn.__path__)[0], "lib"))
except Exception:
    pass
for root in site.getsitepackages() + [site.getusersitepackages()]:
    dirs += sorted(glob.glob(os.path.join(root, "nvidia", "*", "lib")))
dirs += ["/usr/local/cuda/lib64", os.path.abspath(".gpu/lib")]
seen = []
for d in dirs:
    if os.path.isdir(d) and d not in seen:
        seen.append(d)
print(":".join(seen))
PY
}

# A stage's command under a time limit, its wall time printed (the whole command, start-up included).
timed() {
  local limit=$1 start rc
  shift
  start=$(date +%s.%N)
  timeout "$limit" "$@"
  rc=$?
  echo "wall seconds: $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')"
  return "$rc"
}

show() {
  if [ -f "$1" ]; then cat "$1"; echo; fi
}

check() {
  if [ ! -x .gpu/bin/minicnn_tests ]; then
    echo "gpu_check: .gpu/bin is missing; run scripts/stage_gpu.sh on the CPU machine and carry .gpu"
    return 1
  fi
  local python_ld_path=${LD_LIBRARY_PATH:-}  # PyTorch finds its own libraries
  LD_LIBRARY_PATH="$(library_path)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export LD_LIBRARY_PATH
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
  LD_LIBRARY_PATH="$python_ld_path" python3 -c \
    'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' ||
    true
  for b in minicnn minicnn_tests conv_cuda_bench; do
    echo "$b loads:"
    ldd ".gpu/bin/$b" | grep -E "cublas|cudnn|fmt|gomp|not found" || true
  done

  # MINICNN_REQUIRE_CUDA=1: a device the tests cannot reach fails them instead of skipping them.
  stage "CUDA tests" timeout 70 env MINICNN_REQUIRE_CUDA=1 .gpu/bin/minicnn_tests --gtest_filter='Cuda*:*Cuda*'

  local data=/tmp/gpu-check-cifar10
  if [ -f .gpu/cifar10-jpeg.tar.gz ]; then
    mkdir -p "$data" && tar xzf .gpu/cifar10-jpeg.tar.gz -C "$data"
    # Whitening, training and TTA, all inside the timed command (train's own wall_seconds is in summary.json).
    stage "airbench94 on the GPU: minicnn (cuDNN convolutions, float32)" timed 95 .gpu/bin/minicnn train \
      --dataset folder --data "$data" --model airbench94 --seed 0 --device cuda --conv-impl cudnn \
      --out "$out/airbench94" --overwrite
    show "$out/airbench94/summary.json"
    stage "airbench94 on the GPU: PyTorch float32 (TF32 off)" timed 85 env PYTHONUNBUFFERED=1 \
      LD_LIBRARY_PATH="$python_ld_path" python3 bench/airbench_torch.py --device cuda --data "$data" --seed 0 \
      --json "$out/airbench94_torch.json"
    show "$out/airbench94_torch.json"
    local device
    for device in cuda cpu; do
      stage "cifar-cnn, 2 epochs on 10,000 images: $device" timed 45 .gpu/bin/minicnn train --dataset folder \
        --data "$data" --model cifar-cnn --epochs 2 --limit-train 10000 --seed 1 --device "$device" \
        --out "$out/cifar-cnn-$device" --overwrite
      show "$out/cifar-cnn-$device/metrics.csv"
    done
  else
    echo "=== stage: airbench94 and cifar-cnn skipped: .gpu/cifar10-jpeg.tar.gz is missing"
    status=1
  fi
  stage "Conv2d timings: im2col + cuBLAS vs cuDNN" timeout 20 .gpu/bin/conv_cuda_bench

  if [ "$status" -eq 0 ]; then echo "=== gpu_check: every stage passed"; else echo "=== gpu_check: a stage failed"; fi
  return "$status"
}

check 2>&1 | tee "$out/gpu_check.log"
exit "${PIPESTATUS[0]}"
