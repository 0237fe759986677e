#!/usr/bin/python3
"""CPU pooling, minicnn against PyTorch on the same shapes in one run.

PyTorch (Debian's python3-torch) runs with 2 threads (--threads) and OPENBLAS_NUM_THREADS=1; minicnn's side
is build/bench/pool_cpu_bench with the same threads. Both time the same operations with the median of repeated calls:
max forward with indices, max backward, average forward and backward. GB/s counts bytes read plus bytes
written, with int32 indices for both (so GB/s ratios equal time ratios); "copy" is a plain two-thread copy
of a buffer the size of the input, measured by minicnn's benchmark in the same run, in turns with its max
forward (one call of each, repeated), so that both see the same state of the machine.

Usage: /usr/bin/python3 bench/pool_vs_torch.py [--bench build/bench/pool_cpu_bench] [--rounds 2]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CASES = [(64, 32, 28, 28, 2, 2, 0), (64, 32, 28, 28, 3, 2, 1), (64, 32, 28, 28, 2, 1, 0),
         (32, 64, 56, 56, 3, 2, 1), (128, 16, 32, 32, 2, 2, 0), (8, 64, 112, 112, 3, 2, 1)]
OPS = ["max_fwd", "max_bwd", "avg_fwd", "avg_bwd"]


def median_ms(f, min_seconds):
    for _ in range(3):
        f()
    times, start = [], time.perf_counter()
    while len(times) < 7 or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def torch_side(min_seconds, threads):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    out = {}
    for case in CASES:
        n, c, h, w, k, s, p = case
        x = torch.randn(n, c, h, w)
        y, idx = F.max_pool2d(x, k, s, p, return_indices=True)
        dy = torch.randn_like(y)
        aten = torch.ops.aten
        out[(case, "max_fwd")] = median_ms(lambda: F.max_pool2d(x, k, s, p, return_indices=True), min_seconds)
        out[(case, "max_bwd")] = median_ms(
            lambda: aten.max_pool2d_with_indices_backward(dy, x, [k, k], [s, s], [p, p], [1, 1], False, idx), min_seconds)
        out[(case, "avg_fwd")] = median_ms(lambda: F.avg_pool2d(x, k, s, p), min_seconds)
        out[(case, "avg_bwd")] = median_ms(
            lambda: aten.avg_pool2d_backward(dy, x, [k, k], [s, s], [p, p], False, True, None), min_seconds)
    return out


def minicnn_side(bench, min_seconds, threads):
    args = [bench, "--threads", str(threads), "--min-seconds", str(min_seconds)]
    args += [f"{n},{c},{h},{w}:{k}:{s}:{p}" for n, c, h, w, k, s, p in CASES]
    out, size = {}, {}
    for line in subprocess.run(args, check=True, capture_output=True, text=True).stdout.splitlines():
        r = json.loads(line)
        case = tuple(r["shape"]) + (r["k"], r["s"], r["p"])
        out[(case, r["op"])] = r["ms"]
        size[(case, r["op"])] = r["bytes"]
    return out, size


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default="build/bench/pool_cpu_bench")
    ap.add_argument("--rounds", type=int, default=2, help="alternate the two sides this many times (medians kept)")
    ap.add_argument("--min-seconds", type=float, default=0.3)
    ap.add_argument("--threads", type=int, default=2, help="threads for both sides")
    args = ap.parse_args()
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    ours, theirs, size = {}, {}, {}
    for _ in range(args.rounds):
        o, size = minicnn_side(args.bench, args.min_seconds, args.threads)
        t = torch_side(args.min_seconds, args.threads)
        for key, v in o.items():
            ours.setdefault(key, []).append(v)
        for key, v in t.items():
            theirs.setdefault(key, []).append(v)
    print(f"{'shape k/s/p':<28} {'op':<8} {'torch ms':>9} {'minicnn ms':>10} {'torch GB/s':>10} {'minicnn GB/s':>12} "
          f"{'speedup':>8} {'% of copy':>9}")
    for case in CASES:
        n, c, h, w, k, s, p = case
        copy_ms = statistics.median(ours[(case, "copy")])
        copy_gbs = size[(case, "copy")] / copy_ms / 1e6
        label = f"({n},{c},{h},{w}) k{k}s{s}" + (f"p{p}" if p else "")
        totals = {"max": [0.0, 0.0], "avg": [0.0, 0.0]}
        for op in OPS:
            t, m = statistics.median(theirs[(case, op)]), statistics.median(ours[(case, op)])
            b = size[(case, op)]
            totals[op[:3]][0] += t
            totals[op[:3]][1] += m
            print(f"{label:<28} {op:<8} {t:>9.3f} {m:>10.3f} {b / t / 1e6:>10.1f} {b / m / 1e6:>12.1f} {t / m:>7.2f}x "
                  f"{100 * (b / m / 1e6) / copy_gbs:>8.0f}%")
        for kind, (t, m) in totals.items():
            print(f"{label:<28} {kind + '_f+b':<8} {t:>9.3f} {m:>10.3f} {'':>10} {'':>12} {t / m:>7.2f}x")
        print(f"{label:<28} {'copy':<8} {'':>9} {copy_ms:>10.3f} {'':>10} {copy_gbs:>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
