#!/usr/bin/python3
"""Loads a minicnn checkpoint into nn.Sequential built from the same spec and checks both give the same
predictions on the first N test images.

Usage: /usr/bin/python3 tests/golden/load_in_torch.py CHECKPOINT DATA_DIR [--n 100] [--minicnn build/minicnn]

The checkpoint is read with the standard library and numpy (Debian has no safetensors package). The same
uint8 images go to PyTorch (normalised with the checkpoint's mean/std) and to `minicnn predict --npy`,
whose logits come back as .npy. Exit status 0 when every prediction agrees.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import torch_ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("data_dir")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--minicnn", default="build/minicnn")
    args = ap.parse_args()

    model, meta = torch_ref.load_checkpoint_into_torch(args.checkpoint)
    model.eval()
    norm = json.loads(meta["minicnn.normalization"])
    _, _, test_x, test_y = torch_ref.load_mnist(args.data_dir)
    images = np.ascontiguousarray(test_x[: args.n])
    with torch.no_grad():
        torch_logits = model(torch_ref.normalize(images, norm["mean"], norm["std"])).numpy()

    with tempfile.TemporaryDirectory() as tmp:
        np.save(os.path.join(tmp, "x.npy"), images)
        subprocess.run([args.minicnn, "predict", "--checkpoint", args.checkpoint, "--npy", os.path.join(tmp, "x.npy"),
                        "--logits", os.path.join(tmp, "logits.npy"), "--quiet"], check=True)
        ours = np.load(os.path.join(tmp, "logits.npy"))

    agree = int((ours.argmax(1) == torch_logits.argmax(1)).sum())
    max_diff = float(np.abs(ours - torch_logits).max())
    accuracy = float((torch_logits.argmax(1) == test_y[: args.n]).mean())
    print(f"spec: {meta['minicnn.spec']}")
    print(f"{agree}/{args.n} predictions agree; largest logit difference {max_diff:.2e}; "
          f"PyTorch accuracy on these images {accuracy:.4f}")
    return 0 if agree == args.n and max_diff < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
