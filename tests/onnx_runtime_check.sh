#!/usr/bin/env bash
# Exports checkpoints to ONNX, runs them in ONNX Runtime (npm onnxruntime-node, from Node) and compares the
# logits with `minicnn predict --logits` (no test-time augmentation) on the same images: argmax identical and
# the largest difference at most 1e-4 of the logits' scale (tests/onnx_runtime_check.js). One line per model.
# Usage: tests/onnx_runtime_check.sh [--minicnn BIN] IMAGES.npy CHECKPOINT...   (pixel values 0..255)
#        tests/onnx_runtime_check.sh --install    (installs onnxruntime-node into $MINICNN_ORT_DIR)
# onnxruntime-node lives in $MINICNN_ORT_DIR (default ~/.cache/minicnn/onnxruntime-node). Exit status: 0 all
# agree, 1 a model disagrees or fails, 2 usage, 77 Node or onnxruntime-node missing (a skip for test runners).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ort_dir=${MINICNN_ORT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/minicnn/onnxruntime-node}
minicnn=${MINICNN_BIN:-$here/../build/minicnn}
# The version the README's comparison was measured with; a newer one is taken only by changing this line.
ort_version=1.31.1
installed_version() {
  node -p "require('$ort_dir/node_modules/onnxruntime-node/package.json').version" 2>/dev/null || true
}

if [ "${1:-}" = "--install" ]; then
  command -v npm >/dev/null || { echo "onnx_runtime_check: npm is missing (Debian: nodejs npm)" >&2; exit 77; }
  [ "$(installed_version)" = "$ort_version" ] && exit 0
  mkdir -p "$ort_dir"
  # Its install script downloads GPU binaries (and fails offline); the CPU runtime is inside the package.
  (cd "$ort_dir" && npm install --ignore-scripts --no-audit --no-fund "onnxruntime-node@$ort_version" >/dev/null)
  echo "onnx_runtime_check: onnxruntime-node $(installed_version) in $ort_dir"
  exit 0
fi
if [ "${1:-}" = "--minicnn" ]; then
  minicnn=$2
  shift 2
fi
if [ $# -lt 2 ]; then
  echo "usage: tests/onnx_runtime_check.sh [--minicnn BIN] IMAGES.npy CHECKPOINT...  |  --install" >&2
  exit 2
fi
command -v node >/dev/null || { echo "onnx_runtime_check: skipped: node is missing (Debian: nodejs)"; exit 77; }
if [ ! -d "$ort_dir/node_modules/onnxruntime-node" ]; then
  echo "onnx_runtime_check: skipped: onnxruntime-node is not in $ort_dir (tests/onnx_runtime_check.sh --install)"
  exit 77
fi
images=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for checkpoint in "$@"; do
  # A checkpoint that cannot be exported or predicted is reported (minicnn's sentence above) and the others
  # are still checked.
  if ! "$minicnn" export --checkpoint "$checkpoint" --output "$work/model.onnx" >/dev/null ||
    ! "$minicnn" predict --checkpoint "$checkpoint" --npy "$images" --logits "$work/logits.npy" --quiet; then
    echo "$checkpoint: not compared: minicnn could not export or predict it"
    status=1
    continue
  fi
  result=$(MINICNN_ORT_DIR=$ort_dir node "$here/onnx_runtime_check.js" "$work/model.onnx" "$images" "$work/logits.npy") ||
    status=1
  echo "$checkpoint: $result"
done
exit $status
