#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ and runs each for SECONDS (default 60)
# on its scratch corpus build-fuzz/corpus/<target>/ (kept between runs, ignored by git), seeded by
# make_seeds and by tests/fuzz/regressions/<target>/. Prints each target's time, executions and result;
# exits non-zero when any target crashes, leaks, hangs or runs out of memory (the input is saved under
# build-fuzz/findings/; replay it with build-fuzz/tests/fuzz/fuzz_<target> FILE).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]     e.g. nice -n 19 scripts/fuzz.sh 300 image npy
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
[ $# -gt 0 ] && shift
build_dir=${MINICNN_FUZZ_BUILD_DIR:-build-fuzz}
all_targets=(idx idx_gzip cifar10 image npy safetensors model_spec pool_variant)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")

scripts/install_deps.sh clang-14 libclang-rt-14-dev libomp-14-dev
# The parsers under test do no matrix products, and oneDNN is built for GCC's OpenMP runtime, not clang's:
# this build uses Eigen's GEMM.
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build_dir" -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMINICNN_FUZZ=ON -DMINICNN_BUILD_TESTS=OFF -DMINICNN_BUILD_BENCH=OFF \
  -DMINICNN_BUILD_EXAMPLES=OFF -DMINICNN_ONEDNN=OFF "${launcher[@]}" >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target make_seeds "${targets[@]/#/fuzz_}"

bin="$build_dir/tests/fuzz"
rm -rf "$build_dir/seeds"
"$bin/make_seeds" "$build_dir/seeds" >/dev/null
mkdir -p "$build_dir/findings" "$build_dir/logs"

# Per target: the largest single allocation allowed (MB) and the largest input (bytes). A file parser
# may allocate about what its input announces once the announcement is checked against the input's
# size; an image may legitimately decode to far more than its bytes (a deflate stream expands up to
# 1032 times, a 1-bit palette image 32 times more), hence its larger limit.
malloc_limit() { case $1 in image) echo 512 ;; *) echo 64 ;; esac; }
max_len() { case $1 in model_spec) echo 1024 ;; pool_variant) echo 64 ;; *) echo 4096 ;; esac; }

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=()
printf '%-13s %8s %12s %8s  %s\n' target seconds executions corpus result
for t in "${targets[@]}"; do
  corpus="$build_dir/corpus/$t"
  mkdir -p "$corpus"
  dirs=("$corpus" "$build_dir/seeds/$t")
  [ -d "tests/fuzz/regressions/$t" ] && dirs+=("tests/fuzz/regressions/$t")
  options=(-max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb="$(malloc_limit "$t")" -timeout=30
           -max_len="$(max_len "$t")" -print_final_stats=1 -artifact_prefix="$build_dir/findings/$t-")
  [ -f "tests/fuzz/$t.dict" ] && options+=(-dict="tests/fuzz/$t.dict")
  log="$build_dir/logs/$t.log"
  start=$SECONDS
  rc=0
  "$bin/fuzz_$t" "${options[@]}" "${dirs[@]}" >"$log" 2>&1 || rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  files=$(find "$corpus" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $rc): $(grep -m1 -E '^==[0-9]+==ERROR|^SUMMARY|BrokenInvariant|what\(\)' "$log" || echo 'see log'); log $log"
    failed+=("$t")
  fi
  printf '%-13s %8d %12s %8d  %s\n' "$t" $((SECONDS - start)) "${execs:-?}" "$files" "$result"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${failed[*]} failed; inputs in $build_dir/findings/" >&2
  exit 1
fi
