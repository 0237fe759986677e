#!/usr/bin/python3
"""CPU training and evaluation speed and memory: minicnn against PyTorch on real MNIST, the same recipe
(SGD lr 0.01 momentum 0.9, batch 64), the same number of steps, 2 threads each, alternating the two sides
--rounds times and keeping medians. PyTorch gets its fastest settings here: Debian's python3-torch with
OpenBLAS (libopenblas0-pthread) and OPENBLAS_NUM_THREADS=1 (set for the PyTorch side only).

Images/s count training images over the time of the training loop alone (batch assembly, forward, loss,
backward, optimizer step); evaluation images/s over the 10,000 test images at batch 128. Peak memory is
the process's peak resident set. It also prints each model's multiply-adds and the training step's
GFLOP/s: "train" counts the model's multiply-adds (a direct convolution's), "done" the arithmetic minicnn
really does (fewer where its CPU path uses Winograd; PyTorch's is counted as direct), against the practical
peak of this machine, minicnn's CPU GEMM (oneDNN's sgemm) of 1024^3 on the same threads
(build/bench/layers_bench --benchmark_filter=sgemm_1024).

Usage: /usr/bin/python3 bench/train_vs_torch.py [--data data/mnist] [--steps 938] [--rounds 3]
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


# minicnn's CPU rules for its Winograds (layers/conv2d.h): oneDNN's F(4x4, 3x3) from kOnednnMinChannels
# (a build with oneDNN on an AVX-512 CPU, as the default build here), else its own F(2x2, 3x3)
# (kWinogradMinChannels, kWinogradMaxImageBytes).
ONEDNN_MIN_CHANNELS = 16
WINOGRAD_MIN_CHANNELS = 8
WINOGRAD_MAX_IMAGE_BYTES = 4 << 20


def multiply_adds(spec):
    """(forward multiply-adds per image, those of the first layer, those minicnn's CPU path does) for conv
    and linear layers: a 3x3 stride-1 convolution with enough channels runs as Winograd there, F(4x4, 3x3)
    (36 multiply-adds per 4x4 output tile and channel pair instead of 144) or F(2x2, 3x3) (16 per 2x2 tile
    instead of 36), in each of its three products."""
    model = torch_ref.build_model(spec, (1, 28, 28))
    x, total, first, done = torch.zeros(1, 1, 28, 28), 0, None, 0
    for m in model:
        y = m(x)
        macs = done_here = 0
        if isinstance(m, nn.Conv2d):
            macs = done_here = y.numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1]
            tiles = ((y.shape[2] + 1) // 2) * ((y.shape[3] + 1) // 2)
            tiles4 = ((y.shape[2] + 3) // 4) * ((y.shape[3] + 3) // 4)
            winograd = (m.kernel_size == (3, 3) and m.stride == (1, 1) and m.dilation == (1, 1)
                        and m.groups == 1)
            channels = min(m.in_channels, m.out_channels)
            if winograd and channels >= ONEDNN_MIN_CHANNELS:
                done_here = 36 * tiles4 * m.in_channels * m.out_channels
            elif (winograd and channels >= WINOGRAD_MIN_CHANNELS
                    and 16 * (m.in_channels + m.out_channels) * tiles * 4 <= WINOGRAD_MAX_IMAGE_BYTES):
                done_here = 16 * tiles * m.in_channels * m.out_channels
        elif isinstance(m, nn.Linear):
            macs = done_here = m.in_features * m.out_features
        if macs and first is None:
            first = macs
        total += macs
        done += done_here
        x = y
    return total, first, done


def minicnn_run(binary, data, model, steps, threads):
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([binary, "train", "--dataset", "mnist", "--data", data, "--model", model, "--epochs", "1",
                        "--limit-train", str(min(steps * 64, 60000)), "--optimizer", "sgd", "--lr", "0.01", "--momentum", "0.9",
                        "--weight-decay", "0", "--schedule", "none", "--augment", "none", "--batch-size", "64",
                        "--threads", str(threads), "--out", out, "--overwrite"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        s = json.load(open(os.path.join(out, "summary.json")))
    return s["train_images_per_sec"], s["eval_images_per_sec"], s["peak_rss_mib"]


def torch_run(data, model, steps, threads):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, os.path.join(HERE, "train_torch.py"), "--data", data, "--model", model,
                          "--epochs", "1", "--limit-train", str(min(steps * 64, 60000)), "--threads", str(threads), "--json"],
                         check=True, capture_output=True, text=True, env=env).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["images_per_sec"], r["eval_images_per_sec"], r["peak_rss_mib"]


def sgemm_peak(bench, threads):
    out = subprocess.run([bench, "--benchmark_filter=sgemm_1024", "--benchmark_min_time=1"], check=True,
                         capture_output=True, text=True, env=dict(os.environ, MINICNN_THREADS=str(threads))).stdout
    m = re.search(r"GFLOP/s=([0-9.]+)([kMG]?)", out)
    scale = {"": 1e-9, "k": 1e-6, "M": 1e-3, "G": 1.0}[m.group(2)]
    return float(m.group(1)) * scale


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--minicnn", default="build/minicnn")
    ap.add_argument("--layers-bench", default="build/bench/layers_bench")
    ap.add_argument("--models", default="mnist-cnn,lenet5")
    ap.add_argument("--steps", type=int, default=938, help="training steps of batch 64 (938: one epoch)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    peak = sgemm_peak(args.layers_bench, args.threads) if os.path.exists(args.layers_bench) else None
    print(f"{'model':<10} {'side':<8} {'train img/s':>12} {'eval img/s':>11} {'peak MiB':>9} {'train GFLOP/s':>14} "
          f"{'done GFLOP/s':>13}")
    for model in args.models.split(","):
        macs, first, done = multiply_adds(model)
        # Forward, weight gradients and input gradients (none for the first layer), 2 FLOPs per multiply-add.
        step_flops = 2 * (3 * macs - first)
        done_flops = {"minicnn": 2 * (3 * done - first), "pytorch": step_flops}
        res = {"minicnn": [], "pytorch": []}
        for _ in range(args.rounds):
            res["minicnn"].append(minicnn_run(args.minicnn, args.data, model, args.steps, args.threads))
            res["pytorch"].append(torch_run(args.data, model, args.steps, args.threads))
        med = {side: [statistics.median(v[i] for v in rows) for i in range(3)] for side, rows in res.items()}
        for side in ("minicnn", "pytorch"):
            train, evals, rss = med[side]
            print(f"{model:<10} {side:<8} {train:>12.0f} {evals:>11.0f} {rss:>9.0f} {train * step_flops / 1e9:>14.1f} "
                  f"{train * done_flops[side] / 1e9:>13.1f}")
        print(f"{model:<10} {'ratio':<8} {med['minicnn'][0] / med['pytorch'][0]:>11.2f}x {med['minicnn'][1] / med['pytorch'][1]:>10.2f}x "
              f"{med['minicnn'][2] / med['pytorch'][2]:>8.2f}x   ({macs / 1e6:.2f} M multiply-adds forward per image)")
    if peak:
        print(f"practical peak (minicnn's CPU GEMM of 1024^3, {args.threads} threads): {peak:.0f} GFLOP/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
