#!/usr/bin/python3
"""airbench94's training speed side by side: minicnn's preset and bench/airbench_torch.py (the same recipe in
PyTorch float32) take turns over the same number of steps of batch 1024 on the same image folder, --rounds
times, and the script prints each round's images/s, the ratio and its range. Alternating the two sides keeps
the machine's drift (10-40% within an hour on shared machines) out of the ratio.

minicnn's images/s are its summary.json's train_images_per_sec: training images over the training loop's
time (batch assembly, forward, loss, backward, optimizer step, lookahead), first step included. PyTorch's
are over --steps steps after 2 untimed warm-up steps, with OPENBLAS_NUM_THREADS=1 (its best setting here;
airbench_torch.py prints the BLAS and kernel it ran with). Both use --threads threads.

Usage: /usr/bin/python3 bench/airbench_vs_torch.py [--data data/cifar10-jpeg] [--steps 10] [--rounds 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS_PER_EPOCH = 48  # 50,000 images in batches of 1024, the partial batch dropped


def minicnn_run(binary, data, steps, threads, workdir):
    # ceil(48 * epochs) steps: epochs just under steps / 48 gives exactly `steps`.
    epochs = (steps - 0.5) / STEPS_PER_EPOCH
    out = os.path.join(workdir, "minicnn")
    subprocess.run([binary, "train", "--dataset", "folder", "--data", data, "--model", "airbench94",
                    "--epochs", f"{epochs:.6f}", "--tta", "0", "--threads", str(threads), "--out", out,
                    "--overwrite"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    return summary["train_images_per_sec"], summary.get("peak_rss_mib", float("nan"))


def torch_run(data, steps, threads, workdir):
    result = os.path.join(workdir, "torch.json")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    subprocess.run([sys.executable, os.path.join(HERE, "airbench_torch.py"), "--data", data, "--steps", str(steps),
                    "--warmup-steps", "2", "--threads", str(threads), "--json", result],
                   check=True, stdout=subprocess.DEVNULL, env=env)
    with open(result) as f:
        r = json.load(f)
    return r["images_per_s"], r["peak_rss_mib"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="data/cifar10-jpeg")
    ap.add_argument("--binary", default="build/minicnn")
    ap.add_argument("--steps", type=int, default=10, help="timed steps per run (default 10)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if not 1 <= args.steps <= 470:
        sys.exit(f"airbench_vs_torch: --steps should be in 1..470, but got {args.steps}")
    ratios = []
    with tempfile.TemporaryDirectory() as workdir:
        print(f"airbench94, batch 1024, {args.steps} steps per run, {args.threads} threads, {args.rounds} rounds")
        print(f"{'round':>5}  {'minicnn img/s':>13}  {'torch img/s':>11}  {'ratio':>6}  {'minicnn MiB':>11}  "
              f"{'torch MiB':>9}")
        for r in range(args.rounds):
            # The side that goes first alternates too.
            if r % 2 == 0:
                ours, our_mib = minicnn_run(args.binary, args.data, args.steps, args.threads, workdir)
                theirs, their_mib = torch_run(args.data, args.steps, args.threads, workdir)
            else:
                theirs, their_mib = torch_run(args.data, args.steps, args.threads, workdir)
                ours, our_mib = minicnn_run(args.binary, args.data, args.steps, args.threads, workdir)
            ratios.append(ours / theirs)
            print(f"{r + 1:>5}  {ours:>13.1f}  {theirs:>11.1f}  {ratios[-1]:>5.2f}x  {our_mib:>11.0f}  "
                  f"{their_mib:>9.0f}", flush=True)
    print(f"training images/s, minicnn / PyTorch: median {statistics.median(ratios):.2f}x, "
          f"range {min(ratios):.2f}x to {max(ratios):.2f}x over {len(ratios)} rounds")


if __name__ == "__main__":
    main()
