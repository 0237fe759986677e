#!/usr/bin/python3
"""The pooling study of `minicnn study`, run in PyTorch with the same recipe, writing the same results.csv
columns, so the two can be compared table to table (--compare prints both tables and checks that each
variant's mean final test accuracies agree within max(0.5 points, 2*sqrt(s1^2/n + s2^2/n))).

Usage: /usr/bin/python3 bench/study_torch.py --data /usr/share/datasets/fashion-mnist --model mnist-cnn \
           --variants max2,max3s2p1,avg2,max2s1 --seeds 3 --epochs 2 --optimizer sgd --lr 0.01 --momentum 0.9 \
           --weight-decay 0 --schedule none --batch-size 64 --out runs/study-torch [--compare runs/study]
"""

import argparse
import csv
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref  # noqa: E402
import train_torch  # noqa: E402

COLUMNS = ["variant", "seed", "epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds",
           "images_per_sec"]


def final_accuracies(path):
    """variant -> {seed: final test accuracy} from a results.csv."""
    rows = list(csv.DictReader(open(path)))
    last = {}
    for r in rows:
        key = (r["variant"], int(r["seed"]))
        if key not in last or int(r["epoch"]) > int(last[key]["epoch"]):
            last[key] = r
    out = {}
    for (v, seed), r in last.items():
        out.setdefault(v, {})[seed] = float(r["test_accuracy"])
    return out


def compare(ours_csv, torch_csv, variants):
    ours, theirs = final_accuracies(ours_csv), final_accuracies(torch_csv)
    print(f"\n{'variant':<12} {'minicnn mean ± sd':>20} {'PyTorch mean ± sd':>20} {'difference':>11} {'allowed':>8}  agree")
    all_agree = True
    for v in variants:
        a, b = list(ours.get(v, {}).values()), list(theirs.get(v, {}).values())
        if not a or not b:
            print(f"{v:<12} missing runs")
            all_agree = False
            continue
        ma, mb = statistics.mean(a), statistics.mean(b)
        sa = statistics.stdev(a) if len(a) > 1 else 0.0
        sb = statistics.stdev(b) if len(b) > 1 else 0.0
        allowed = max(0.005, 2 * math.sqrt(sa ** 2 / len(a) + sb ** 2 / len(b)))
        agree = abs(ma - mb) <= allowed
        all_agree &= agree
        print(f"{v:<12} {100 * ma:>12.2f} ± {100 * sa:<5.2f} {100 * mb:>12.2f} ± {100 * sb:<5.2f} "
              f"{100 * (ma - mb):>+10.2f} {100 * allowed:>8.2f}  {'yes' if agree else 'NO'}")
    return all_agree


def main():
    ap = train_torch.parser()
    ap.description = __doc__
    ap.formatter_class = argparse.RawDescriptionHelpFormatter
    ap.add_argument("--variants", default="max2,max3s2p1,avg2,max2s1")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", required=True)
    ap.add_argument("--compare", help="a minicnn study folder to compare against")
    args = ap.parse_args()
    variants = args.variants.split(",")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "results.csv")
    done = set()
    if os.path.exists(path):
        for r in csv.DictReader(open(path)):
            done.add((r["variant"], int(r["seed"])))
    else:
        with open(path, "w", newline="") as f:
            csv.writer(f).writerow(COLUMNS)
    preset = args.model
    for seed in range(1, args.seeds + 1):
        for v in variants:
            if (v, seed) in done:
                print(f"{v} seed {seed}: finished earlier")
                continue
            print(f"{v} seed {seed}: training", flush=True)
            args.model = torch_ref.apply_pool_variant(preset, v)
            args.seed = seed
            rows = train_torch.run(args, log=lambda line, v=v, seed=seed: print(f"  {v} seed {seed}  {line}", flush=True))
            with open(path, "a", newline="") as f:
                w = csv.writer(f)
                for r in rows:
                    w.writerow([v, seed, r["epoch"], f"{r['train_loss']:.6f}", f"{r['train_accuracy']:.6f}",
                                f"{r['test_loss']:.6f}", f"{r['test_accuracy']:.6f}", f"{r['seconds']:.3f}",
                                f"{r['images_per_sec']:.1f}"])
    if args.compare:
        return 0 if compare(os.path.join(args.compare, "results.csv"), path, variants) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
