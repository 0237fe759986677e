"""PyTorch counterparts of minicnn's pieces, for side-by-side checks: the spec language (which is torch.nn's
own syntax) to nn.Sequential, the presets, IDX data, and safetensors checkpoints read with numpy only.

Use Debian's /usr/bin/python3 (python3-torch, python3-numpy).
"""

import gzip
import json
import os
import re
import struct

import numpy as np
import torch
import torch.nn as nn

PRESETS = {
    "mnist-cnn": "Conv2d(1, 32, 3, padding=1) ReLU MaxPool2d(2) Conv2d(32, 64, 3, padding=1) ReLU MaxPool2d(2) "
                 "Flatten Linear(3136, 128) ReLU Linear(128, 10)",
    "lenet5": "Conv2d(1, 6, 5, padding=2) ReLU MaxPool2d(2) Conv2d(6, 16, 5) ReLU MaxPool2d(2) Flatten "
              "Linear(400, 120) ReLU Linear(120, 84) ReLU Linear(84, 10)",
}


class Mul(nn.Module):
    """minicnn's Mul(scale), which torch.nn lacks: multiplies by a constant (airbench94 keeps its logits small
    at initialisation with it, so that label smoothing with a summed loss trains stably)."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return x * self.scale

    def extra_repr(self):
        return f"scale={self.scale}"


# Layers of minicnn's spec language that torch.nn does not have, by name.
EXTRA_LAYERS = {"Mul": Mul}


def split_spec(spec):
    """Splits a spec into layer calls at parenthesis depth 0 (separators: spaces, commas, '->')."""
    layers, current, depth, i = [], "", 0, 0
    while i < len(spec):
        c = spec[i]
        if depth == 0 and (c.isspace() or c == "," or spec.startswith("->", i)):
            if current:
                layers.append(current)
                current = ""
            i += 2 if spec.startswith("->", i) else 1
            continue
        depth += c == "("
        depth -= c == ")"
        current += c
        i += 1
    if current:
        layers.append(current)
    return layers


def build_model(spec, input_chw=None):
    """nn.Sequential for a minicnn spec or preset name; lazy layers are materialised with a dummy input."""
    spec = PRESETS.get(spec, spec)
    mods = []
    for call in split_spec(spec):
        name = call.split("(")[0]
        if not hasattr(nn, name) and name not in EXTRA_LAYERS:
            raise ValueError(f"unknown layer {name}")
        prefix = "" if name in EXTRA_LAYERS else "nn."
        mods.append(eval(prefix + (call if "(" in call else call + "()"), {"nn": nn, **EXTRA_LAYERS}))
    model = nn.Sequential(*mods)
    if input_chw is not None and any(isinstance(m, nn.modules.lazy.LazyModuleMixin) for m in mods):
        with torch.no_grad():
            model(torch.zeros(1, *input_chw))
    return model


def parse_pool_variant(name):
    """'max3s2p1' -> 'MaxPool2d(3, stride=2, padding=1)' (minicnn's variant names: max{k}[s{s}][p{p}][d{d}][c],
    avg{k}[s{s}][p{p}][c])."""
    m = re.fullmatch(r"(max|avg)(\d+)(?:s(\d+))?(?:p(\d+))?(?:d(\d+))?(c?)", name)
    if not m or (m.group(1) == "avg" and m.group(5)):
        raise ValueError(f"pool variant: expected max{{k}}[s{{s}}][p{{p}}][d{{d}}][c] or avg{{k}}[s{{s}}][p{{p}}][c], got {name!r}")
    kind, k = m.group(1), int(m.group(2))
    s, p, d = int(m.group(3) or k), int(m.group(4) or 0), int(m.group(5) or 1)
    out = f"{'MaxPool2d' if kind == 'max' else 'AvgPool2d'}({k}"
    out += f", stride={s}" if s != k else ""
    out += f", padding={p}" if p else ""
    out += f", dilation={d}" if d != 1 else ""
    out += ", ceil_mode=True" if m.group(6) else ""
    return out + ")"


def apply_pool_variant(spec, variant):
    """The spec with every pooling layer replaced by the variant and the first Linear after Flatten made lazy."""
    spec = PRESETS.get(spec, spec)
    layer = parse_pool_variant(variant)
    out, after_flatten = [], False
    for call in split_spec(spec):
        name = call.split("(")[0]
        if name in ("MaxPool2d", "AvgPool2d"):
            out.append(layer)
        elif name == "Linear" and after_flatten:
            lin = eval("nn." + call, {"nn": nn})
            out.append(f"LazyLinear({lin.out_features}" + ("" if lin.bias is not None else ", bias=False") + ")")
            after_flatten = False
        else:
            out.append(call)
            after_flatten = after_flatten or name == "Flatten"
    return " ".join(out)


def read_idx(path):
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    rank = magic & 0xFF
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load_mnist(folder):
    """(train_x, train_y, test_x, test_y) as uint8 images (N, 1, 28, 28) and int64 labels."""
    def find(stem):
        for name in (stem, stem + ".gz"):
            if os.path.exists(os.path.join(folder, name)):
                return os.path.join(folder, name)
        raise FileNotFoundError(os.path.join(folder, stem))
    tx = read_idx(find("train-images-idx3-ubyte"))[:, None]
    ty = read_idx(find("train-labels-idx1-ubyte")).astype(np.int64)
    vx = read_idx(find("t10k-images-idx3-ubyte"))[:, None]
    vy = read_idx(find("t10k-labels-idx1-ubyte")).astype(np.int64)
    return tx, ty, vx, vy


def normalize(images_u8, mean, std):
    x = torch.from_numpy(images_u8.astype(np.float32) / 255.0)
    mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return (x - mean) / std


def channel_stats(images_u8):
    x = images_u8.astype(np.float64) / 255.0
    return list(x.mean(axis=(0, 2, 3))), list(x.std(axis=(0, 2, 3)))


def read_safetensors(path):
    """(tensors: dict name -> np.ndarray, metadata: dict) with the standard library and numpy only."""
    with open(path, "rb") as f:
        data = f.read()
    n, = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    dtypes = {"F32": np.float32, "I32": np.int32, "I64": np.int64}
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(body[begin:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"]).copy()
    return tensors, meta


def load_checkpoint_into_torch(path):
    """nn.Sequential built from a minicnn checkpoint's spec, with its weights; plus the metadata."""
    tensors, meta = read_safetensors(path)
    input_chw = json.loads(meta["minicnn.input_shape"])
    model = build_model(meta["minicnn.spec"], input_chw)
    # The model's tensors are named as nn.Sequential names them ("0.weight"); the training state beside them
    # (optimizer.*, lookahead.*) is not the model's.
    state = {k: torch.from_numpy(v) for k, v in tensors.items() if k.split(".")[0].isdigit()}
    model.load_state_dict(state, strict=True)
    return model, meta
