#!/usr/bin/env python3
"""PyTorch's CUDA pooling, timed as bench/pool_cuda_bench.cu times minicnn's and cuDNN's, same table.

Usage: python3 bench/pool_torch_cuda.py [--mode max|avg] [--iters N]

Bytes counted: max forward reads x and writes y and its int64 indices (PyTorch's); max backward reads dy
and the indices and writes dx; average pooling reads x (dy) and writes y (dx). CUDA events, after a
warm-up, with inputs rotated over enough copies that the small cases do not sit in L2.
"""
import argparse
import sys

import torch
import torch.nn.functional as F

CASES = [(64, 32, 28, 28, 2, 2, 0), (64, 32, 28, 28, 3, 2, 1), (256, 64, 56, 56, 3, 2, 1),
         (128, 128, 112, 112, 2, 2, 0), (256, 256, 32, 32, 2, 1, 0)]


def time_ms(fn, sets, iters):
    for i in range(max(3, sets)):
        fn(i % sets)
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for i in range(iters):
        fn(i % sets)
    stop.record()
    stop.synchronize()
    return start.elapsed_time(stop) / iters


def copy_rate_gbs():
    a = torch.ones(1 << 28, device="cuda")
    b = torch.empty_like(a)
    ms = time_ms(lambda _: b.copy_(a), 1, 10)
    return 2.0 * a.numel() * 4 / (ms * 1e6)


def row(impl, pazz, case, ms, nbytes, copy_gbs):
    n, c, h, w, k, s, p = case
    gbs = nbytes / (ms * 1e6)
    print(f"{impl:<8} {pazz:<4} {f'{n}x{c}x{h}x{w}':<18} {k:2d} {s:2d} {p:2d} {ms * 1e3:11.1f} {gbs:9.1f} "
          f"{100.0 * gbs / copy_gbs:6.1f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["max", "avg"], default="max")
    ap.add_argument("--iters", type=int, default=50)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("pool_torch_cuda: PyTorch sees no CUDA device", file=sys.stderr)
        return 1
    props = torch.cuda.get_device_properties(0)
    l2 = float(getattr(props, "L2_cache_size", 50 << 20))
    copy_gbs = copy_rate_gbs()
    print(f"# device: {props.name}, {props.multi_processor_count} SMs, L2 {l2 / (1 << 20):.0f} MiB; mode {args.mode}; "
          f"torch {torch.__version__}")
    print(f"# d2d copy: {copy_gbs:.1f} GB/s (bytes read + written, 1 GiB buffer)")
    print(f"{'impl':<8} {'pass':<4} {'shape':<18} {'k':>2} {'s':>2} {'p':>2} {'time_us':>11} {'GB/s':>9} {'%copy':>6}")
    torch.manual_seed(0)
    with torch.no_grad():
        for case in CASES:
            n, c, h, w, k, s, p = case
            oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            fin, fout = 4.0 * n * c * h * w, 4.0 * n * c * oh * ow
            sets = int(min(16.0, max(1.0, 3.0 * l2 / (fin + fout) + 1.0)))
            xs = [torch.rand(n, c, h, w, device="cuda") - 0.5 for _ in range(sets)]
            dys = [torch.rand(n, c, oh, ow, device="cuda") - 0.5 for _ in range(sets)]
            if args.mode == "max":
                idxs = [F.max_pool2d(x, k, s, p, return_indices=True)[1] for x in xs]
                ms = time_ms(lambda i: F.max_pool2d(xs[i], k, s, p, return_indices=True), sets, args.iters)
                row("torch", "fwd", case, ms, fin + fout + 2 * fout, copy_gbs)
                ms = time_ms(lambda i: torch.ops.aten.max_pool2d_with_indices_backward(
                    dys[i], xs[i], [k, k], [s, s], [p, p], [1, 1], False, idxs[i]), sets, args.iters)
                row("torch", "bwd", case, ms, fout + 2 * fout + fin, copy_gbs)
            else:
                ms = time_ms(lambda i: F.avg_pool2d(xs[i], k, s, p), sets, args.iters)
                row("torch", "fwd", case, ms, fin + fout, copy_gbs)
                ms = time_ms(lambda i: torch.ops.aten.avg_pool2d_backward(
                    dys[i], xs[i], [k, k], [s, s], [p, p], False, True, None), sets, args.iters)
                row("torch", "bwd", case, ms, fout + fin, copy_gbs)
            del xs, dys
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
