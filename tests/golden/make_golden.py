#!/usr/bin/python3
"""Writes minicnn's golden files: PyTorch's outputs for a tiny LeNet and for many pooling cases.

Run with Debian's python3 (python3-torch, python3-numpy):  /usr/bin/python3 tests/golden/make_golden.py
The C++ tests (tests/golden_test.cpp, tests/pool_golden_test.cpp) replay these files; CI needs no torch.
The script is deterministic: fixed seeds, one CPU thread, and it rewrites the same bytes on every run.

lenet/  manifest.json (spec, seed, optimizer options, losses), the initial weights under their nn.Sequential
        names (0.weight.npy, ...), x.npy, targets.npy, logits.npy, loss.npy, grad/<name>.npy,
        sgd_losses.npy + sgd/<name>.npy, adam_losses.npy + adam/<name>.npy (weights after 3 steps).
pool/   manifest.json listing every case (op, options, shapes, files); per case <name>.x.npy, <name>.y.npy,
        <name>.indices.npy (max pooling, unpooling), <name>.dy.npy, <name>.dx.npy.
train/  the training pieces of the airbench94 recipe: GELU (both forms) forward and backward, the
        label-smoothed summed cross-entropy and its gradient, the warmup-warmdown learning rates, and a tiny
        model trained 6 steps three ways (Nesterov SGD in two parameter groups; then with frozen parameters;
        then with the lookahead average), its weights after every step.
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from torch_ref import Mul  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240601


def clean_dir(path):
    """Creates `path` and removes the .npy files a previous run left there (so dropped cases disappear)."""
    os.makedirs(path, exist_ok=True)
    for root, _, files in os.walk(path):
        for f in files:
            if f.endswith(".npy"):
                os.remove(os.path.join(root, f))


def save(path, array):
    array = np.ascontiguousarray(array)
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    assert array.dtype in (np.float32, np.int32, np.int64), (path, array.dtype)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, array, allow_pickle=False)


def f32(t):
    return t.detach().cpu().numpy().astype(np.float32)


def write_manifest(folder, manifest):
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


# --------------------------------------------------------------------------------------------------
# LeNet: forward, loss, every gradient, then 3 SGD-momentum steps and 3 Adam steps from the same start.

LENET_SPEC = ("Conv2d(1, 4, 5, padding=2) ReLU MaxPool2d(3, stride=2, padding=1) Conv2d(4, 8, 5) ReLU "
              "AvgPool2d(2) Flatten Linear(200, 24) ReLU Linear(24, 10)")
LENET_BATCH = 8
SGD_OPTIONS = {"lr": 0.05, "momentum": 0.9, "weight_decay": 1e-4}
ADAM_OPTIONS = {"lr": 1e-3}
STEPS = 3


def make_lenet():
    # The same layers, in the same order, as LENET_SPEC (so the nn.Sequential names match minicnn's).
    return nn.Sequential(
        nn.Conv2d(1, 4, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1),
        nn.Conv2d(4, 8, 5), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(200, 24), nn.ReLU(), nn.Linear(24, 10))


def run_steps(model, init_state, make_opt, x, targets, folder):
    model.load_state_dict(init_state)
    opt = make_opt(model.parameters())
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), targets)
        losses.append(loss.item())  # recorded before the step
        loss.backward()
        opt.step()
    for name, p in model.named_parameters():
        save(os.path.join(folder, name + ".npy"), f32(p))
    return losses


def make_lenet_golden(out):
    clean_dir(out)
    torch.manual_seed(SEED)
    model = make_lenet()
    x = torch.randn(LENET_BATCH, 1, 28, 28)
    targets = torch.randint(0, 10, (LENET_BATCH,), dtype=torch.int64)
    init_state = {k: v.clone() for k, v in model.state_dict().items()}
    for name, p in model.named_parameters():
        save(os.path.join(out, name + ".npy"), f32(p))
    save(os.path.join(out, "x.npy"), f32(x))
    save(os.path.join(out, "targets.npy"), targets.numpy().astype(np.int64))

    model.zero_grad()
    logits = model(x)
    loss = F.cross_entropy(logits, targets)
    loss.backward()
    save(os.path.join(out, "logits.npy"), f32(logits))
    save(os.path.join(out, "loss.npy"), np.array([loss.item()], dtype=np.float32))
    for name, p in model.named_parameters():
        save(os.path.join(out, "grad", name + ".npy"), f32(p.grad))

    sgd_losses = run_steps(model, init_state, lambda ps: torch.optim.SGD(ps, **SGD_OPTIONS), x, targets,
                           os.path.join(out, "sgd"))
    adam_losses = run_steps(model, init_state, lambda ps: torch.optim.Adam(ps, **ADAM_OPTIONS), x, targets,
                            os.path.join(out, "adam"))
    save(os.path.join(out, "sgd_losses.npy"), np.array(sgd_losses, dtype=np.float32))
    save(os.path.join(out, "adam_losses.npy"), np.array(adam_losses, dtype=np.float32))

    write_manifest(out, {
        "generator": "tests/golden/make_golden.py",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "seed": SEED,
        "spec": LENET_SPEC,
        "input_chw": [1, 28, 28],
        "batch": LENET_BATCH,
        "loss": "CrossEntropyLoss(reduction='mean')",
        "parameters": [name for name, _ in model.named_parameters()],
        "loss_value": loss.item(),
        "sgd": {"options": SGD_OPTIONS, "steps": STEPS, "losses": sgd_losses},
        "adam": {"options": ADAM_OPTIONS, "steps": STEPS, "losses": adam_losses},
    })
    return 1


# --------------------------------------------------------------------------------------------------
# Pooling cases.

def distinct(shape, gen, scale=4.0):
    """Values that are pairwise distinct (a shuffled grid), so max pooling has no ties."""
    n = int(np.prod(shape))
    perm = torch.randperm(n, generator=gen).to(torch.float32)
    return ((perm + 0.5) / n * scale - scale / 2).reshape(shape)


def normal(shape, gen):
    return torch.randn(shape, generator=gen)


def relu_ties(shape, gen):
    """ReLU of random normals: about half the values are exactly 0, so windows hold ties."""
    return torch.relu(torch.randn(shape, generator=gen))


def all_negative(shape, gen):
    """Distinct values in [-4.1, -0.1): a padding treated as 0 instead of -inf would win every border window."""
    return distinct(shape, gen, scale=4.0) - 2.1


def with_nans(positions):
    """Distinct values with NaN at the given flat positions of every (n, c) plane."""
    def make(shape, gen):
        x = distinct(shape, gen)
        plane = x.reshape(-1, shape[-2] * shape[-1])
        for p in positions:
            plane[:, p] = float("nan")
        return plane.reshape(shape)
    return make


def zeros(shape, gen):
    del gen
    return torch.zeros(shape)


def pool_options_json(kwargs):
    """kwargs as JSON: tuples become [h, w] lists, None stays null."""
    out = {}
    for k, v in kwargs.items():
        out[k] = list(v) if isinstance(v, tuple) else v
    return out


def has_empty_window(shape, kwargs):
    """True when some max-pooling window holds no input element (minicnn returns -inf and -1 there)."""
    probe = torch.zeros(shape)
    y = F.max_pool2d(probe, **kwargs)
    return bool(torch.isinf(y).any())


class PoolCases:
    def __init__(self, folder):
        self.folder = folder
        self.cases = []
        self.gen = torch.Generator().manual_seed(SEED)

    def _files(self, name, arrays):
        files = {}
        for key, arr in arrays.items():
            fname = "{}.{}.npy".format(name, key)
            save(os.path.join(self.folder, fname), arr)
            files[key] = fname
        return files

    def _add(self, name, op, options, note, arrays):
        assert name.replace("_", "").isalnum(), name
        assert all(c["name"] != name for c in self.cases), name
        self.cases.append({
            "name": name, "op": op, "options": pool_options_json(options), "note": note,
            "input_shape": list(arrays["x"].shape), "output_shape": list(arrays["y"].shape),
            "files": self._files(name, arrays),
        })

    def _grad(self, x, fn):
        """Runs fn on a leaf copy of x; returns (outputs, dy, dx) with dy random normal."""
        xr = x.clone().requires_grad_(True)
        outs = fn(xr)
        y = outs[0] if isinstance(outs, tuple) else outs
        dy = torch.randn(y.shape, generator=self.gen)
        (dx,) = torch.autograd.grad(y, xr, dy)
        return outs, dy, dx

    def max(self, name, shape, make, note, **kw):
        assert not has_empty_window(shape, kw), name
        x = make(shape, self.gen)
        (y, idx), dy, dx = self._grad(x, lambda t: F.max_pool2d(t, return_indices=True, **kw))
        self._add(name, "MaxPool2d", kw, note,
                  {"x": f32(x), "y": f32(y), "indices": idx.numpy().astype(np.int64), "dy": f32(dy), "dx": f32(dx)})

    def avg(self, name, shape, make, note, **kw):
        x = make(shape, self.gen)
        y, dy, dx = self._grad(x, lambda t: F.avg_pool2d(t, **kw))
        self._add(name, "AvgPool2d", kw, note, {"x": f32(x), "y": f32(y), "dy": f32(dy), "dx": f32(dx)})

    def adaptive_avg(self, name, shape, make, note, output_size):
        x = make(shape, self.gen)
        layer = nn.AdaptiveAvgPool2d(output_size)
        y, dy, dx = self._grad(x, layer)
        self._add(name, "AdaptiveAvgPool2d", {"output_size": output_size}, note,
                  {"x": f32(x), "y": f32(y), "dy": f32(dy), "dx": f32(dx)})

    def adaptive_max(self, name, shape, make, note, output_size):
        x = make(shape, self.gen)
        layer = nn.AdaptiveMaxPool2d(output_size, return_indices=True)
        (y, idx), dy, dx = self._grad(x, layer)
        self._add(name, "AdaptiveMaxPool2d", {"output_size": output_size}, note,
                  {"x": f32(x), "y": f32(y), "indices": idx.numpy().astype(np.int64), "dy": f32(dy), "dx": f32(dx)})

    def unpool(self, name, source_shape, note, output_size=None, **kw):
        """MaxUnpool2d of a MaxPool2d(**kw) result of distinct values: x and indices in, y out."""
        source = distinct(source_shape, self.gen)
        x, idx = F.max_pool2d(source, return_indices=True, **kw)
        layer = nn.MaxUnpool2d(**kw)
        size = list(source_shape[-2:]) if output_size == "source" else None
        y, dy, dx = self._grad(x, lambda t: layer(t, idx, output_size=size))
        options = dict(kw)
        options["output_size"] = size
        self._add(name, "MaxUnpool2d", options, note,
                  {"x": f32(x), "indices": idx.numpy().astype(np.int64), "y": f32(y), "dy": f32(dy), "dx": f32(dx)})


def make_pool_golden(out):
    clean_dir(out)
    c = PoolCases(out)
    D, N, R, NEG, Z = distinct, normal, relu_ties, all_negative, zeros

    # ---- MaxPool2d
    c.max("max_k2", (2, 3, 8, 8), D, "kernel 2, default stride", kernel_size=2)
    c.max("max_k3_default_stride", (1, 2, 9, 10), D, "kernel 3, stride defaults to 3, floor drops a column",
          kernel_size=3)
    c.max("max_k3_s2_overlap", (2, 2, 9, 9), D, "overlapping windows k3 s2", kernel_size=3, stride=2)
    c.max("max_k2_s1_overlap", (1, 2, 6, 7), D, "overlapping windows k2 s1", kernel_size=2, stride=1)
    c.max("max_k3_s2_p1", (2, 2, 10, 10), D, "k3 s2 p1 (LeNet/ResNet stem)", kernel_size=3, stride=2, padding=1)
    c.max("max_k3_s1_p1_same", (1, 3, 7, 7), D, "same-size output", kernel_size=3, stride=1, padding=1)
    c.max("max_hw_kernel", (1, 2, 7, 9), D, "non-square kernel and stride with padding",
          kernel_size=(2, 3), stride=(1, 2), padding=(1, 1))
    c.max("max_hw_stride", (1, 2, 8, 8), D, "square kernel, non-square stride and padding",
          kernel_size=3, stride=(2, 1), padding=(0, 1))
    c.max("max_hw_pairs_all", (2, 1, 9, 11), D, "every option a pair",
          kernel_size=(3, 2), stride=(2, 3), padding=(1, 0), dilation=(1, 2))
    c.max("max_1x3_kernel", (1, 2, 5, 9), D, "a 1xK kernel", kernel_size=(1, 3), stride=(1, 2))
    c.max("max_stride_gt_kernel", (1, 2, 10, 10), D, "stride larger than kernel skips inputs",
          kernel_size=2, stride=3)
    c.max("max_k1_s2", (1, 2, 7, 7), D, "kernel 1 stride 2 (subsampling)", kernel_size=1, stride=2)
    c.max("max_global_kernel", (2, 3, 5, 6), D, "kernel equal to the input", kernel_size=(5, 6))
    c.max("max_dil2", (1, 2, 11, 11), D, "dilation 2", kernel_size=3, dilation=2)
    c.max("max_dil2_s1_p1", (1, 2, 9, 9), D, "dilation 2, stride 1, padding 1",
          kernel_size=3, stride=1, padding=1, dilation=2)
    c.max("max_dil_hw", (1, 2, 10, 12), D, "dilation (2, 3) with padding",
          kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), dilation=(2, 3))
    c.max("max_dil2_p1_ceil", (1, 2, 10, 10), D, "dilation with ceil_mode and padding",
          kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)
    c.max("max_ceil_drop_last", (1, 2, 5, 5), D,
          "ceil_mode: a 4th window would start in the padding and is dropped (3 outputs)",
          kernel_size=2, stride=2, padding=1, ceil_mode=True)
    c.max("max_ceil_drop_last_k2_h3", (1, 2, 3, 7), D,
          "ceil_mode drop with H=3: 2 rows, not 3", kernel_size=2, stride=2, padding=1, ceil_mode=True)
    c.max("max_ceil_partial_kept", (1, 2, 6, 6), D,
          "ceil_mode keeps a last window that starts inside the input (3 outputs instead of 2)",
          kernel_size=3, stride=3, padding=1, ceil_mode=True)
    c.max("max_ceil_no_padding", (1, 2, 7, 7), D, "ceil_mode without padding: last window of one column",
          kernel_size=2, stride=2, ceil_mode=True)
    c.max("max_ceil_hw", (1, 2, 8, 9), D, "ceil_mode with non-square kernel and stride",
          kernel_size=(3, 2), stride=(2, 3), ceil_mode=True)
    c.max("max_neg_pad", (1, 2, 5, 5), NEG, "all-negative input next to padding: padding is -inf, not 0",
          kernel_size=2, stride=2, padding=1)
    c.max("max_neg_pad_k3_s1", (2, 1, 6, 6), NEG, "all-negative, k3 s1 p1", kernel_size=3, stride=1, padding=1)
    c.max("max_neg_pad_ceil", (1, 2, 6, 7), NEG, "all-negative, padding and ceil_mode",
          kernel_size=3, stride=2, padding=1, ceil_mode=True)
    c.max("max_relu_ties", (2, 3, 8, 8), R, "ReLU ties: first maximum (0) wins", kernel_size=2)
    c.max("max_relu_ties_overlap_pad", (1, 3, 7, 7), R, "ReLU ties with overlap and padding",
          kernel_size=3, stride=1, padding=1)
    c.max("max_relu_ties_dil", (1, 2, 8, 8), R, "ReLU ties with dilation", kernel_size=2, stride=1, dilation=2)
    c.max("max_all_zero_pad", (1, 1, 6, 6), Z, "every value ties, with padding: first valid element wins",
          kernel_size=3, stride=2, padding=1)
    c.max("max_nan", (1, 2, 6, 6), with_nans([0, 7, 20]), "NaN propagates", kernel_size=2)
    c.max("max_nan_two_in_window", (1, 2, 6, 6), with_nans([1, 8, 14, 15]),
          "two NaN in one window: the last NaN's index wins", kernel_size=3)
    c.max("max_nan_overlap_pad", (1, 1, 6, 6), with_nans([7, 9, 10, 28]), "NaN with overlapping padded windows",
          kernel_size=3, stride=1, padding=1)
    c.max("max_unbatched", (3, 7, 7), D, "unbatched (C, H, W) input", kernel_size=3, stride=2, padding=1)
    c.max("max_unbatched_hw", (2, 5, 8), D, "unbatched, non-square kernel", kernel_size=(2, 3))

    # ---- AvgPool2d
    c.avg("avg_k2", (2, 3, 8, 8), N, "kernel 2, default stride", kernel_size=2)
    c.avg("avg_k3_s2_overlap", (1, 2, 9, 9), N, "overlapping k3 s2", kernel_size=3, stride=2)
    c.avg("avg_k2_s1_overlap", (1, 2, 6, 7), N, "overlapping k2 s1", kernel_size=2, stride=1)
    c.avg("avg_k3_s2_p1", (2, 2, 10, 10), N, "padding counted in the divisor", kernel_size=3, stride=2, padding=1)
    c.avg("avg_k3_s2_p1_exclude_pad", (2, 2, 10, 10), N, "count_include_pad=False",
          kernel_size=3, stride=2, padding=1, count_include_pad=False)
    c.avg("avg_hw", (1, 2, 7, 9), N, "non-square kernel, stride and padding",
          kernel_size=(2, 3), stride=(1, 2), padding=(1, 1))
    c.avg("avg_hw_exclude_pad", (1, 2, 7, 9), N, "non-square, count_include_pad=False",
          kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), count_include_pad=False)
    c.avg("avg_default_stride_hw", (1, 2, 9, 8), N, "non-square kernel, stride defaults to it", kernel_size=(3, 2))
    c.avg("avg_ceil_partial", (1, 2, 6, 6), N,
          "ceil_mode keeps a last window overhanging the padding: divisor clipped to H + P",
          kernel_size=3, stride=3, padding=1, ceil_mode=True)
    c.avg("avg_ceil_partial_exclude_pad", (1, 2, 6, 6), N, "the same with count_include_pad=False",
          kernel_size=3, stride=3, padding=1, ceil_mode=True, count_include_pad=False)
    c.avg("avg_ceil_drop_last", (1, 2, 5, 5), N, "ceil_mode drops a window starting in the padding",
          kernel_size=2, stride=2, padding=1, ceil_mode=True)
    c.avg("avg_ceil_no_padding", (1, 2, 7, 7), N, "ceil_mode without padding: last window divides by less",
          kernel_size=2, stride=2, ceil_mode=True)
    c.avg("avg_ceil_hw", (1, 2, 8, 9), N, "ceil_mode, non-square", kernel_size=(3, 2), stride=(2, 3),
          padding=(1, 0), ceil_mode=True)
    c.avg("avg_divisor_override", (1, 2, 7, 7), N, "divisor_override replaces the divisor",
          kernel_size=3, stride=2, padding=1, divisor_override=5)
    c.avg("avg_divisor_override_ceil", (1, 2, 7, 7), N, "divisor_override with ceil_mode",
          kernel_size=2, ceil_mode=True, divisor_override=3)
    c.avg("avg_divisor_override_exclude_pad", (1, 1, 6, 6), N, "divisor_override wins over count_include_pad",
          kernel_size=3, stride=2, padding=1, count_include_pad=False, divisor_override=2)
    c.avg("avg_neg_pad", (1, 2, 5, 5), NEG, "all-negative input: padding averages in zeros",
          kernel_size=2, stride=2, padding=1)
    c.avg("avg_unbatched", (3, 6, 6), N, "unbatched (C, H, W) input", kernel_size=2)
    c.avg("avg_unbatched_exclude_pad", (2, 7, 5), N, "unbatched, padded, count_include_pad=False",
          kernel_size=3, stride=2, padding=1, count_include_pad=False)
    c.avg("avg_k1_s2", (1, 2, 7, 7), N, "kernel 1 stride 2", kernel_size=1, stride=2)

    # ---- AdaptiveAvgPool2d
    c.adaptive_avg("adaptive_avg_global", (2, 3, 7, 9), N, "output 1: global average pooling", 1)
    c.adaptive_avg("adaptive_avg_3", (1, 2, 7, 7), N, "7 -> 3: overlapping, uneven windows", 3)
    c.adaptive_avg("adaptive_avg_2x4", (1, 2, 5, 10), N, "non-square output", (2, 4))
    c.adaptive_avg("adaptive_avg_none_3", (1, 2, 6, 8), N, "None keeps the height", (None, 3))
    c.adaptive_avg("adaptive_avg_unbatched", (3, 10, 10), N, "unbatched, 10 -> 4", 4)
    c.adaptive_avg("adaptive_avg_upsample", (1, 1, 3, 3), N, "output larger than the input", 5)

    # ---- AdaptiveMaxPool2d
    c.adaptive_max("adaptive_max_global", (2, 3, 7, 9), D, "output 1: global max pooling", 1)
    c.adaptive_max("adaptive_max_3", (1, 2, 7, 7), D, "7 -> 3: overlapping windows", 3)
    c.adaptive_max("adaptive_max_2x4", (1, 2, 5, 10), D, "non-square output", (2, 4))
    c.adaptive_max("adaptive_max_relu_ties", (1, 3, 8, 8), R, "ReLU ties: first maximum wins", 3)
    c.adaptive_max("adaptive_max_nan", (1, 2, 6, 6), with_nans([0, 5, 14, 35]), "NaN propagates, last NaN wins", 2)
    c.adaptive_max("adaptive_max_unbatched", (3, 8, 6), D, "unbatched", (3, 2))
    c.adaptive_max("adaptive_max_none_2", (1, 2, 5, 7), D, "None keeps the width", (2, None))

    # ---- MaxUnpool2d (x and indices come from a MaxPool2d with the same options)
    c.unpool("unpool_k2", (2, 2, 6, 6), "kernel 2", kernel_size=2)
    c.unpool("unpool_k2_output_size", (1, 2, 5, 5), "output_size restores an odd input size", "source",
             kernel_size=2)
    c.unpool("unpool_k3_s2_p1", (1, 2, 9, 9), "overlapping windows with padding", kernel_size=3, stride=2,
             padding=1)
    c.unpool("unpool_hw", (1, 2, 6, 9), "non-square kernel and stride", kernel_size=(2, 3), stride=(2, 3))
    c.unpool("unpool_k2_s1_duplicates", (1, 1, 5, 5), "k2 s1: several outputs share one index",
             kernel_size=2, stride=1)
    c.unpool("unpool_unbatched", (2, 6, 6), "unbatched (C, H, W) input", kernel_size=2)

    write_manifest(out, {
        "generator": "tests/golden/make_golden.py",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "seed": SEED,
        "conventions": ("indices are torch's flat h*W + w per (n, c) plane, saved as int64; dy is random normal; "
                        "dx = d(sum(y * dy))/dx; for MaxUnpool2d, x and indices are the inputs"),
        "cases": c.cases,
    })
    return c.cases


# --------------------------------------------------------------------------------------------------
# BatchNorm2d: two Train-mode steps (output, input gradient, parameter gradients, running statistics after
# each), then an Eval-mode forward with the running statistics.

def make_batchnorm_golden(out):
    clean_dir(out)
    gen = torch.Generator().manual_seed(SEED + 7)
    bn = nn.BatchNorm2d(3, momentum=0.2)
    with torch.no_grad():
        bn.weight.copy_(torch.rand(3, generator=gen) + 0.5)
        bn.bias.copy_(torch.randn(3, generator=gen))
    save(os.path.join(out, "weight.npy"), f32(bn.weight))
    save(os.path.join(out, "bias.npy"), f32(bn.bias))
    bn.train()
    for step in range(2):
        x = (torch.randn(4, 3, 5, 6, generator=gen) * 2 + 1).requires_grad_(True)
        dy = torch.randn(4, 3, 5, 6, generator=gen)
        bn.zero_grad()
        y = bn(x)
        y.backward(dy)
        for name, t in (("x", x), ("dy", dy), ("y", y), ("dx", x.grad), ("dweight", bn.weight.grad),
                        ("dbias", bn.bias.grad), ("running_mean", bn.running_mean), ("running_var", bn.running_var)):
            save(os.path.join(out, f"step{step}.{name}.npy"), f32(t))
    bn.eval()
    x = torch.randn(2, 3, 4, 4, generator=gen)
    save(os.path.join(out, "eval.x.npy"), f32(x))
    save(os.path.join(out, "eval.y.npy"), f32(bn(x)))
    write_manifest(out, {"torch": torch.__version__, "seed": SEED + 7, "momentum": 0.2, "eps": 1e-5, "steps": 2,
                         "num_batches_tracked": int(bn.num_batches_tracked)})


# --------------------------------------------------------------------------------------------------
# The airbench94 recipe's pieces, each checked on its own by tests/train_golden_test.cpp.

TRAIN_STEPS = 6


def warmup_warmdown(total, warmup=0.23, start=0.2, end=0.07):
    """airbench94's LambdaLR factor, in Python floats."""
    warmup_steps = int(total * warmup)

    def factor(step):
        if step < warmup_steps:
            frac = step / warmup_steps
            return start * (1 - frac) + 1.0 * frac
        frac = (step - warmup_steps) / (total - warmup_steps)
        return 1.0 * (1 - frac) + end * frac
    return factor


TINY_SPEC = ("Conv2d(3, 4, 2) GELU BatchNorm2d(4, eps=1e-12, momentum=0.4) GELU MaxPool2d(2) Flatten "
             "Linear(36, 5, bias=False) Mul(1/9)")


def make_tiny():
    return nn.Sequential(nn.Conv2d(3, 4, 2), nn.GELU(), nn.BatchNorm2d(4, eps=1e-12, momentum=0.4), nn.GELU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 5, bias=False), Mul(1 / 9))


def blend(model, average, decay):
    """The lookahead update: the average moves towards the weights by 1 - decay, then the weights are set to it."""
    for k, v in model.state_dict().items():
        if v.dtype == torch.float32:
            average[k].lerp_(v, 1 - decay)
            v.copy_(average[k])


def train_tiny(init, batches, freeze, lookahead):
    """Six steps of the recipe's optimizer on the tiny model: Nesterov SGD (momentum 0.85), BatchNorm biases
    in a group with 64x the lr and the same decay per step, label smoothing 0.2 summed over the batch, the
    warmup-warmdown schedule over 6 steps; `freeze`: conv weight and BatchNorm weight frozen throughout and
    the conv bias from step 3 on (given no gradient); `lookahead`: every 2 steps, and after the last."""
    model = make_tiny()
    model.load_state_dict(init)
    if freeze:
        model[0].weight.requires_grad = False
        model[2].weight.requires_grad = False
    lr, wd = 0.02, 0.5
    biases = [model[2].bias]
    others = [p for n, p in model.named_parameters() if p.requires_grad and n != "2.bias"]
    opt = torch.optim.SGD([dict(params=biases, lr=lr * 64, weight_decay=wd / 64),
                           dict(params=others, lr=lr, weight_decay=wd)], momentum=0.85, nesterov=True)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_warmdown(TRAIN_STEPS))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.2, reduction="sum")
    average = {k: v.clone() for k, v in model.state_dict().items()}
    # airbench94 tabulates the decay as a float32 tensor.
    alpha = 0.95 ** 5 * (torch.arange(TRAIN_STEPS + 1) / TRAIN_STEPS) ** 3
    weights, losses = [], []
    for step in range(1, TRAIN_STEPS + 1):
        if freeze and step == 3:
            model[0].bias.requires_grad = False
        x, t = batches[step - 1]
        loss = loss_fn(model(x), t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if lookahead and step % 2 == 0:
            blend(model, average, alpha[step].item())
        if lookahead and step == TRAIN_STEPS:
            blend(model, average, 1.0)
        losses.append(loss.item())
        weights.append({k: v.detach().clone() for k, v in model.state_dict().items() if v.dtype == torch.float32})
    return losses, weights


def make_train_golden(out):
    clean_dir(out)
    gen = torch.Generator().manual_seed(SEED + 11)
    manifest = {"torch": torch.__version__, "generator": "tests/golden/make_golden.py", "seed": SEED + 11}
    # GELU, exact and tanh, forward and backward.
    x = (torch.randn(3, 4, 5, generator=gen) * 3).requires_grad_(True)
    dy = torch.randn(3, 4, 5, generator=gen)
    save(os.path.join(out, "gelu.x.npy"), f32(x))
    save(os.path.join(out, "gelu.dy.npy"), f32(dy))
    for approximate in ("none", "tanh"):
        x.grad = None
        y = F.gelu(x, approximate=approximate)
        y.backward(dy)
        save(os.path.join(out, f"gelu.{approximate}.y.npy"), f32(y))
        save(os.path.join(out, f"gelu.{approximate}.dx.npy"), f32(x.grad))
    # Cross-entropy with label smoothing 0.2, summed over the batch.
    logits = (torch.randn(7, 10, generator=gen) * 2).requires_grad_(True)
    targets = torch.randint(0, 10, (7,), generator=gen)
    loss = nn.CrossEntropyLoss(label_smoothing=0.2, reduction="sum")(logits, targets)
    loss.backward()
    save(os.path.join(out, "ce.logits.npy"), f32(logits))
    save(os.path.join(out, "ce.targets.npy"), targets.numpy().astype(np.int64))
    save(os.path.join(out, "ce.dlogits.npy"), f32(logits.grad))
    manifest["ce_loss"] = loss.item()
    # The warmup-warmdown schedule of a 476-step run, as LambdaLR sets it on a base lr.
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0014648437500000002)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_warmdown(476))
    lrs = []
    for _ in range(476):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    manifest["warmup_warmdown_476"] = lrs
    # The tiny model trained three ways from the same start and batches.
    torch.manual_seed(SEED + 12)
    init = make_tiny().state_dict()
    for k, v in init.items():
        if v.dtype == torch.float32:
            save(os.path.join(out, f"tiny.init.{k}.npy"), f32(v))
    batches = [((torch.rand(8, 3, 7, 7, generator=gen) * 4 - 2), torch.randint(0, 5, (8,), generator=gen))
               for _ in range(TRAIN_STEPS)]
    for i, (bx, bt) in enumerate(batches):
        save(os.path.join(out, f"tiny.x{i}.npy"), f32(bx))
        save(os.path.join(out, f"tiny.t{i}.npy"), bt.numpy().astype(np.int64))
    manifest["tiny"] = {"spec": TINY_SPEC, "steps": TRAIN_STEPS, "lr": 0.02, "weight_decay": 0.5, "momentum": 0.85,
                        "bias_lr_scale": 64, "label_smoothing": 0.2, "lookahead_every": 2}
    for run, (freeze, lookahead) in {"groups": (False, False), "frozen": (True, False),
                                     "lookahead": (True, True)}.items():
        losses, weights = train_tiny(init, batches, freeze, lookahead)
        manifest["tiny"][run + "_losses"] = losses
        for step, state in enumerate(weights, start=1):
            for k, v in state.items():
                save(os.path.join(out, f"tiny.{run}.step{step}.{k}.npy"), f32(v))
    write_manifest(out, manifest)


def main():
    torch.set_num_threads(1)
    make_train_golden(os.path.join(HERE, "train"))
    make_lenet_golden(os.path.join(HERE, "lenet"))
    make_batchnorm_golden(os.path.join(HERE, "batchnorm"))
    cases = make_pool_golden(os.path.join(HERE, "pool"))
    counts = {}
    for case in cases:
        counts[case["op"]] = counts.get(case["op"], 0) + 1
    print("torch", torch.__version__, "- lenet: 1 case; pool:", len(cases), "cases", counts, file=sys.stderr)


if __name__ == "__main__":
    main()
