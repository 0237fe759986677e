#!/usr/bin/python3
"""Trains a minicnn spec or preset with PyTorch on MNIST/Fashion-MNIST with the same recipe flags as
`minicnn train`, printing one line per epoch (and optionally a CSV), for side-by-side comparisons.

Usage: /usr/bin/python3 bench/train_torch.py --data data/mnist --model mnist-cnn --epochs 3 \
           --optimizer sgd --lr 0.01 --momentum 0.9 --weight-decay 0 --schedule none --batch-size 64 --seed 1
"""

import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref  # noqa: E402


def make_optimizer(args, params):
    if args.optimizer == "sgd":
        return torch.optim.SGD(params, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    if args.optimizer == "adam":
        return torch.optim.Adam(params, lr=args.lr, weight_decay=args.weight_decay)
    return torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)


def lr_at(args, epoch):
    if args.schedule == "cosine":
        return args.lr * (1 + math.cos(math.pi * epoch / args.epochs)) / 2
    if args.schedule == "step":
        return args.lr * 0.1 ** (epoch // max(1, args.epochs // 3))
    return args.lr


def evaluate(model, x, y, batch=128):
    model.eval()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    total, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out = model(x[i:i + batch])
            total += loss_fn(out, y[i:i + batch]).item()
            correct += (out.argmax(1) == y[i:i + batch]).sum().item()
    model.train()
    return total / len(x), correct / len(x)


def run(args, log=print):
    """Trains once; returns a list of per-epoch dicts (the columns of minicnn's metrics.csv)."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    tx, ty, vx, vy = torch_ref.load_mnist(args.data)
    mean, std = torch_ref.channel_stats(tx)
    rng = np.random.default_rng(args.seed)
    if args.limit_train:
        keep = np.sort(rng.permutation(len(tx))[: args.limit_train])
        tx, ty = tx[keep], ty[keep]
    x = torch_ref.normalize(tx, mean, std)
    y = torch.from_numpy(ty)
    test_x = torch_ref.normalize(vx, mean, std)
    test_y = torch.from_numpy(vy)
    model = torch_ref.build_model(args.model, (1, 28, 28))
    opt = make_optimizer(args, model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    rows = []
    for epoch in range(args.epochs):
        for group in opt.param_groups:
            group["lr"] = lr_at(args, epoch)
        perm = torch.from_numpy(rng.permutation(len(x)))
        seen, correct, loss_sum, train_seconds = 0, 0, 0.0, 0.0
        for i in range(0, len(x), args.batch_size):
            start = time.perf_counter()
            idx = perm[i:i + args.batch_size]
            xb, yb = x[idx], y[idx]
            opt.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            train_seconds += time.perf_counter() - start
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
        eval_start = time.perf_counter()
        test_loss, test_acc = evaluate(model, test_x, test_y)
        eval_seconds = time.perf_counter() - eval_start
        row = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
               "test_loss": test_loss, "test_accuracy": test_acc, "lr": lr_at(args, epoch),
               "seconds": train_seconds, "images_per_sec": seen / train_seconds,
               "eval_images_per_sec": len(test_x) / eval_seconds}
        rows.append(row)
        log(f"epoch {epoch + 1}/{args.epochs}  train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.4f}  "
            f"test loss {test_loss:.4f} acc {test_acc:.4f}  {train_seconds:.1f} s  {row['images_per_sec']:.0f} img/s")
    return rows


def parser():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--model", default="mnist-cnn")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--optimizer", default="sgd", choices=["sgd", "adam", "adamw"])
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--schedule", default="none", choices=["none", "step", "cosine"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit-train", type=int, default=0)
    return ap


if __name__ == "__main__":
    ap = parser()
    ap.add_argument("--json", action="store_true", help="print the last epoch and peak memory as one JSON line")
    args = ap.parse_args()
    rows = run(args, log=(lambda line: None) if args.json else print)
    if args.json:
        import json
        import resource
        rows[-1]["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(rows[-1]))
