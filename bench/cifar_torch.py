#!/usr/bin/python3
"""The cifar-cnn preset and its default recipe in PyTorch, on an image-folder copy of CIFAR-10, printing test
accuracy and cumulative wall time after every epoch, so `minicnn train --dataset folder --model cifar-cnn`
can be compared with PyTorch's time to a given accuracy on the same machine.

Recipe (minicnn's cifar-cnn default): SGD lr 0.05, momentum 0.9, weight decay 5e-4, cosine schedule over
--epochs, batch 128, random crop with padding 4 and horizontal flip, per-channel normalisation with the
training set's mean and std. PyTorch runs with --threads threads and OPENBLAS_NUM_THREADS=1.

Usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/cifar_torch.py --data data/cifar10-jpeg --epochs 15
"""

import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref  # noqa: E402

SPEC = ("Conv2d(3, 32, 3, padding=1) BatchNorm2d(32) ReLU Conv2d(32, 32, 3, padding=1) BatchNorm2d(32) ReLU "
        "MaxPool2d(2) Conv2d(32, 64, 3, padding=1) BatchNorm2d(64) ReLU Conv2d(64, 64, 3, padding=1) BatchNorm2d(64) "
        "ReLU MaxPool2d(2) Flatten Linear(4096, 256) ReLU Dropout(0.5) Linear(256, 10)")


def load_split(folder):
    classes = sorted(d for d in os.listdir(folder) if not d.startswith("."))
    images, labels = [], []
    for label, c in enumerate(classes):
        for f in sorted(os.listdir(os.path.join(folder, c))):
            with Image.open(os.path.join(folder, c, f)) as im:
                images.append(np.asarray(im.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1))
            labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.int64)


def crop_flip(batch_u8, rng):
    n, c, h, w = batch_u8.shape
    padded = np.zeros((n, c, h + 8, w + 8), dtype=np.uint8)
    padded[:, :, 4:4 + h, 4:4 + w] = batch_u8
    out = np.empty_like(batch_u8)
    dy, dx, flip = rng.integers(0, 9, n), rng.integers(0, 9, n), rng.integers(0, 2, n)
    for i in range(n):
        crop = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        out[i] = crop[:, :, ::-1] if flip[i] else crop
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/cifar10-jpeg")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    tx, ty = load_split(os.path.join(args.data, "train"))
    vx, vy = load_split(os.path.join(args.data, "test"))
    mean, std = torch_ref.channel_stats(tx)
    test_x = torch_ref.normalize(vx, mean, std)
    test_y = torch.from_numpy(vy)
    print(f"data loaded in {time.perf_counter() - start:.1f} s", flush=True)
    model = torch_ref.build_model(SPEC, (3, 32, 32))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    train_seconds = 0.0
    for epoch in range(args.epochs):
        for group in opt.param_groups:
            group["lr"] = 0.05 * (1 + math.cos(math.pi * epoch / args.epochs)) / 2
        model.train()
        perm = rng.permutation(len(tx))
        epoch_start = time.perf_counter()
        for i in range(0, len(tx), 128):
            idx = perm[i:i + 128]
            xb = torch_ref.normalize(crop_flip(tx[idx], rng), mean, std)
            yb = torch.from_numpy(ty[idx])
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        epoch_seconds = time.perf_counter() - epoch_start
        train_seconds += epoch_seconds
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(test_x), 500):
                correct += (model(test_x[i:i + 500]).argmax(1) == test_y[i:i + 500]).sum().item()
        print(f"epoch {epoch + 1}/{args.epochs}  test acc {correct / len(test_x):.4f}  epoch {epoch_seconds:.1f} s  "
              f"{len(tx) / epoch_seconds:.0f} img/s  wall {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
