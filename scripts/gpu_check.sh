#!/usr/bin/env bash
# The one GPU check (DESIGN section 7). Run from the repository root on a machine with an H100 or H200
# and PyTorch with CUDA, after scripts/stage_gpu.sh filled .gpu/ on the CPU machine: it runs the CUDA
# tests, the pooling benchmark (minicnn native vs cuDNN vs PyTorch) and a short MNIST training run on the
# GPU, and writes its log to $OUT/gpu_check.log. Exits non-zero when any stage failed. Every stage has a
# time limit; together they stay under 8 minutes.
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
  for b in minicnn minicnn_tests pool_cuda_bench; do
    echo "$b loads:"
    ldd ".gpu/bin/$b" | grep -E "cublas|cudnn|fmt|gomp|not found" || true
  done

  stage "CUDA tests" timeout 120 .gpu/bin/minicnn_tests --gtest_filter='Cuda*:*Cuda*'
  local mode
  for mode in max avg; do
    stage "$mode pooling benchmark: minicnn and cuDNN" timeout 60 .gpu/bin/pool_cuda_bench --mode "$mode"
    stage "$mode pooling benchmark: PyTorch" timeout 60 env PYTHONUNBUFFERED=1 LD_LIBRARY_PATH="$python_ld_path" \
      python3 bench/pool_torch_cuda.py --mode "$mode"
  done
  if [ -d .gpu/mnist ]; then
    stage "MNIST training on the GPU" timeout 120 .gpu/bin/minicnn train --dataset mnist --data .gpu/mnist \
      --model mnist-cnn --epochs 1 --batch-size 256 --device cuda --out "$out/run"
    if [ -f "$out/run/summary.json" ]; then cat "$out/run/summary.json"; fi
  else
    echo "=== stage: MNIST training skipped: .gpu/mnist is missing"
    status=1
  fi

  if [ "$status" -eq 0 ]; then echo "=== gpu_check: every stage passed"; else echo "=== gpu_check: a stage failed"; fi
  return "$status"
}

check 2>&1 | tee "$out/gpu_check.log"
exit "${PIPESTATUS[0]}"
