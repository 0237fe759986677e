#!/usr/bin/python3
"""The airbench94 recipe in plain PyTorch (float32), as the reference that minicnn's airbench preset is compared
with on the same data, step for step and second for second.

The recipe is the one of Keller Jordan's "94% on CIFAR-10 in 3.29 seconds on a single GPU" (arXiv:2404.00498):
a Conv/BatchNorm/GELU/MaxPool network of 1,972,792 parameters (1,971,352 trainable) whose first layer is a
frozen 2x2 whitening convolution computed from training patches, Nesterov SGD with decoupled hyperparameters
and 64x the learning rate on BatchNorm biases, label smoothing 0.2, a warmup/warmdown schedule, a Lookahead-style
EMA every 5 steps, alternating-flip and +-2 pixel translation augmentation, batch 1024, 9.9 epochs (476 steps),
and test-time augmentation (mirror and one-pixel translations) for the final accuracy. This file is written from
the paper's description and the recipe as minicnn specifies it; no code is taken from the original.

Data: an image-folder copy of CIFAR-10 (<data>/train/<class>/*.jpg and <data>/test/<class>/*.jpg), read with PIL
in sorted class order and sorted file order, as minicnn's folder reader does, so labels and image order agree.

Randomness (all from --seed, all on the CPU so a CUDA run sees the same draws): torch.manual_seed(seed) before the
model is built (default init, then dirac); a generator seeded with `seed` picks the 5,000 whitening images with
torch.randperm; a second generator seeded with `seed` draws, in this order, the initial per-image flip, then each
epoch the translations and the shuffle.

Fair timing against minicnn on the CPU. In Debian's torch 1.13 the float32 convolutions of this network, forward
and backward, run in oneDNN (torch.profiler shows aten::mkldnn_convolution), and only the matrix products (here
the final Linear) go through whatever libblas.so.3 the Debian alternatives select. So the BLAS hardly moves this
benchmark, but it does move others, and the setup should be the same everywhere. Run it with:
  * libopenblas0-pthread installed (otherwise libblas.so.3 is the slow reference BLAS);
  * OPENBLAS_NUM_THREADS=1 for the PyTorch side only, so OpenBLAS's own threads do not fight torch's
    --threads OpenMP threads for the same cores;
  * where OpenBLAS 0.3.21 does not recognise the CPU and falls back to a generic kernel, a named kernel, e.g.
    OPENBLAS_CORETYPE=SkylakeX on AVX-512 machines (the project measured 16 GFLOP/s without and 88 with it for a
    1024^3 sgemm on an Intel Xeon). The script prints the kernel OpenBLAS chose (openblas_get_corename) at start.

Usage:
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/airbench_torch.py                      # the full 9.9-epoch run
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/airbench_torch.py --epochs 0.2 --log-every 1
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/airbench_torch.py --steps 20 --warmup-steps 3   # images/s only
  /usr/bin/python3 bench/airbench_torch.py --device cuda --json runs/airbench_torch.json
"""

import argparse
import ctypes
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_ref import Mul  # noqa: E402

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)

BATCH_SIZE = 1024
WIDTHS = (64, 256, 256)
WHITEN_WIDTH = 24            # 2 x (3 channels x 2 x 2 patch): each eigenvector with both signs
WHITEN_EPS = 5e-4
WHITEN_IMAGES = 5000
WHITEN_BIAS_EPOCHS = 3
BN_EPS = 1e-12
BN_MOMENTUM = 0.4            # torch's convention: running = (1 - 0.4) * running + 0.4 * batch
OUTPUT_SCALE = 1 / 9
LABEL_SMOOTHING = 0.2
MOMENTUM = 0.85
LR_PER_1024 = 11.5           # decoupled: the step size per 1024 examples, whatever the momentum
WD_PER_1024 = 0.0153         # decoupled: the decay per 1024 examples, whatever the lr
BIAS_LR_SCALE = 64.0
WARMUP_FRACTION = 0.23
LOOKAHEAD_EVERY = 5
TRANSLATE = 2
EVAL_BATCH = 2000


# --------------------------------------------------------------------------- environment report

def blas_report():
    """What the BLAS under torch is and how it was told to run: the first thing to check when timings disagree."""
    info = {
        "torch": torch.__version__,
        "libblas.so.3": os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3"),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(not set)"),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "(not set)"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "(not set)"),
    }
    # torch links libblas.so.3, so dlopen returns the copy already loaded; OpenBLAS can then say which kernel
    # its DYNAMIC_ARCH dispatch picked (a generic one means the CPU was not recognised).
    try:
        lib = ctypes.CDLL("libblas.so.3")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        lib.openblas_get_config.restype = ctypes.c_char_p
        info["openblas_corename"] = lib.openblas_get_corename().decode()
        info["openblas_config"] = lib.openblas_get_config().decode()
        info["openblas_num_threads"] = lib.openblas_get_num_threads()
    except (OSError, AttributeError):
        info["openblas_corename"] = "(libblas.so.3 is not OpenBLAS)"
    return info


def print_environment(args, blas):
    print(torch.__config__.show())
    print(torch.__config__.parallel_info())
    for key, value in blas.items():
        print(f"{key}: {value}")
    print(f"device {args.device}, torch threads {torch.get_num_threads()}, seed {args.seed}", flush=True)


# --------------------------------------------------------------------------- data

def load_split(folder):
    """uint8 NCHW images and int64 labels, classes and files in sorted order (minicnn's folder reader order)."""
    classes = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    images, labels = [], []
    for label, name in enumerate(classes):
        class_dir = os.path.join(folder, name)
        for f in sorted(os.listdir(class_dir)):
            with Image.open(os.path.join(class_dir, f)) as im:
                images.append(np.asarray(im.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1))
            labels.append(label)
    return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64), classes


def normalize(images_u8):
    mean = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    return (images_u8.float() / 255 - mean) / std


def random_flip(images, gen):
    """Each image mirrored left-right with probability 1/2 (done once, before training)."""
    flip = (torch.rand(len(images), generator=gen) < 0.5).view(-1, 1, 1, 1).to(images.device)
    return torch.where(flip, images.flip(-1), images)


def random_translate(padded, size, gen):
    """A size x size window of each padded image at a random offset in [-r, r] on both axes.

    One advanced-indexing gather builds the whole epoch's images: row and column indices per image."""
    n, r = len(padded), (padded.shape[-1] - size) // 2
    shifts = torch.randint(-r, r + 1, (n, 2), generator=gen).to(padded.device)
    grid = torch.arange(size, device=padded.device)
    rows = (shifts[:, 0:1] + r + grid).view(n, 1, size, 1)
    cols = (shifts[:, 1:2] + r + grid).view(n, 1, 1, size)
    batch = torch.arange(n, device=padded.device).view(n, 1, 1, 1)
    chans = torch.arange(padded.shape[1], device=padded.device).view(1, -1, 1, 1)
    return padded[batch, chans, rows, cols]


def epoch_images(padded, epoch, gen):
    """The training images of one epoch (0-based): a fresh translation of the pre-flipped set, and every
    second epoch all of them mirrored, so that over two epochs each image is seen both ways."""
    images = random_translate(padded, 32, gen)
    if epoch % 2 == 1:
        images = images.flip(-1)
    return images


# --------------------------------------------------------------------------- model

def conv3x3(cin, cout):
    """Default torch init, then identity on the first cin filters: each block starts close to passing its input."""
    conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
    with torch.no_grad():
        nn.init.dirac_(conv.weight[:cin])
    return conv


def batchnorm(width):
    """BatchNorm with the scale frozen at 1: only the shift is learnt."""
    bn = nn.BatchNorm2d(width, eps=BN_EPS, momentum=BN_MOMENTUM)
    bn.weight.requires_grad = False
    return bn


def build_model():
    """One flat nn.Sequential, so parameter names (0.weight, 0.bias, 3.weight, ...) are minicnn's."""
    whiten = nn.Conv2d(3, WHITEN_WIDTH, 2, bias=True)
    whiten.weight.requires_grad = False
    with torch.no_grad():
        whiten.bias.zero_()
    layers = [whiten, nn.GELU()]
    cin = WHITEN_WIDTH
    for w in WIDTHS:
        layers += [conv3x3(cin, w), nn.MaxPool2d(2), batchnorm(w), nn.GELU(),
                   conv3x3(w, w), batchnorm(w), nn.GELU()]
        cin = w
    layers += [nn.MaxPool2d(3), nn.Flatten(), nn.Linear(WIDTHS[-1], 10, bias=False), Mul(OUTPUT_SCALE)]
    return nn.Sequential(*layers)


def count_parameters(model):
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


def init_whitening(conv, images, chunk=500):
    """Set the 2x2 whitening filters from the (uncentred) covariance of all 2x2x3 patches of `images`.

    Each eigenvector of the covariance, scaled by 1/sqrt(eigenvalue + eps), is a filter whose response has
    unit variance over the patches; with both signs (then GELU) no direction is lost. Accumulated in float64
    so the small eigenvalues, which get the largest scale, are not swamped by rounding."""
    c, kh, kw = conv.weight.shape[1:]
    cov = torch.zeros(c * kh * kw, c * kh * kw, dtype=torch.float64)
    n = 0
    for part in images.split(chunk):
        # (N, C, H', W', kh, kw) -> one row per patch, features in conv weight order (c, kh, kw)
        patches = part.double().unfold(2, kh, 1).unfold(3, kw, 1)
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * kh * kw)
        cov += patches.T @ patches
        n += len(patches)
    cov /= n
    eigenvalues, eigenvectors = torch.linalg.eigh(cov)           # ascending
    eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)
    filters = (eigenvectors.T / torch.sqrt(eigenvalues + WHITEN_EPS).view(-1, 1)).reshape(-1, c, kh, kw)
    with torch.no_grad():
        conv.weight.copy_(torch.cat([filters, -filters]).float())
    return eigenvalues


# --------------------------------------------------------------------------- optimisation

def make_optimizer(model):
    """Nesterov SGD with the decoupled hyperparameters turned into torch's coupled lr and weight_decay.

    With momentum m, Nesterov's steady-state step is (1 + 1/(1-m)) times the gradient, so the lr is divided
    by that to keep the per-1024-examples step at LR_PER_1024; weight_decay = wd / lr keeps the decay per step
    at wd whatever the lr. BatchNorm biases take 64x the lr but the same decay per step."""
    lr = LR_PER_1024 / (BATCH_SIZE * (1 + 1 / (1 - MOMENTUM)))
    wd = WD_PER_1024 * BATCH_SIZE / (BATCH_SIZE * (1 + 1 / (1 - MOMENTUM)))
    lr_bias = BIAS_LR_SCALE * lr
    bn_params = {id(p) for m in model.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters()}
    bn_biases = [p for p in model.parameters() if id(p) in bn_params and p.requires_grad]
    others = [p for p in model.parameters() if id(p) not in bn_params and p.requires_grad]
    groups = [dict(params=bn_biases, lr=lr_bias, weight_decay=wd / lr_bias),
              dict(params=others, lr=lr, weight_decay=wd / lr)]
    return torch.optim.SGD(groups, lr=lr, momentum=MOMENTUM, nesterov=True)


def lr_factor(total_steps):
    """Linear warmup 0.2 -> 1 over the first 23% of steps, then linear 1 -> 0.07 to the end."""
    warmup = int(total_steps * WARMUP_FRACTION)

    def factor(step):
        if step < warmup:
            frac = step / warmup
            return 0.2 * (1 - frac) + 1.0 * frac
        frac = (step - warmup) / (total_steps - warmup)
        return 1.0 * (1 - frac) + 0.07 * frac
    return factor


class Lookahead:
    """An EMA of the float state (parameters and BatchNorm running stats) that the live weights are reset to.

    The decay grows as (step/total)^3: early on the live weights lead, at the end the average does."""

    def __init__(self, model):
        self.pairs = [(v.detach().clone(), v) for v in model.state_dict().values() if v.is_floating_point()]

    @torch.no_grad()
    def update(self, decay):
        for ema, live in self.pairs:
            ema.lerp_(live, 1 - decay)          # ema = decay * ema + (1 - decay) * live
            live.copy_(ema)


# --------------------------------------------------------------------------- evaluation

@torch.no_grad()
def predict(model, images, tta_level=0):
    """Logits for `images` (normalised float); tta_level 2 = mirror + one-pixel translations."""
    model.eval()

    def mirrored(x):
        return 0.5 * model(x) + 0.5 * model(x.flip(-1))

    out = []
    for x in images.split(EVAL_BATCH):
        if tta_level == 0:
            logits = model(x)
        else:
            logits = mirrored(x)
            padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
            # The two one-pixel translations (diagonally, both ways) share the remaining half of the weight.
            shifted = 0.5 * mirrored(padded[:, :, 0:32, 0:32]) + 0.5 * mirrored(padded[:, :, 2:34, 2:34])
            logits = 0.5 * logits + 0.5 * shifted
        out.append(logits)
    return torch.cat(out)


def accuracy(model, images, labels, tta_level=0):
    return (predict(model, images, tta_level).argmax(1) == labels).float().mean().item()


# --------------------------------------------------------------------------- run

def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def prepare_train_images(train_x, gen):
    """The initial random flip is fixed for the whole run; only the every-other-epoch mirror and the
    translation change per epoch. Padding once avoids re-padding 50,000 images every epoch."""
    return F.pad(random_flip(train_x, gen), (TRANSLATE,) * 4, mode="reflect")


def train(model, padded, train_y, test_x, test_y, args, device, gen, total_steps, stop_after, results):
    """Runs the recipe for `stop_after` steps of a `total_steps` schedule; fills `results`."""
    opt = make_optimizer(model)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(total_steps))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING, reduction="none")
    lookahead = Lookahead(model)
    whiten_bias = model[0].bias

    steps_per_epoch = len(padded) // BATCH_SIZE
    timing = args.steps is not None
    step = 0
    step_seconds = 0.0          # forward/backward/update/lookahead only, for images/s
    timed_seconds = 0.0         # the same over the steps after --warmup-steps (--steps mode)
    train_seconds = 0.0         # everything but evaluation, including each epoch's augmentation
    results["epochs"] = []
    for epoch in range(math.ceil(total_steps / steps_per_epoch)):
        if step >= stop_after:
            break
        t_epoch = time.perf_counter()
        # After the first epochs the whitening bias is frozen; with set_to_none it gets no gradient at all,
        # so SGD skips it entirely (no momentum, no decay).
        whiten_bias.requires_grad = epoch < WHITEN_BIAS_EPOCHS
        images = epoch_images(padded, epoch, gen)
        order = torch.randperm(len(images), generator=gen).to(device)
        model.train()
        loss_sum = torch.zeros((), device=device)
        epoch_steps = 0
        for i in range(steps_per_epoch):
            if step >= stop_after:
                break
            sync(device)
            t_step = time.perf_counter()
            idx = order[i * BATCH_SIZE:(i + 1) * BATCH_SIZE]
            x, y = images[idx], train_y[idx]
            loss = loss_fn(model(x), y).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            lr_now = opt.param_groups[1]["lr"]
            sched.step()
            step += 1
            if step % LOOKAHEAD_EVERY == 0:
                lookahead.update(0.95 ** 5 * (step / total_steps) ** 3)
            if step == total_steps:
                lookahead.update(1.0)           # the final weights are the average
            sync(device)
            step_seconds += time.perf_counter() - t_step
            if step > args.warmup_steps:
                timed_seconds += time.perf_counter() - t_step
            loss_sum += loss.detach()
            epoch_steps += 1
            if args.log_every and step % args.log_every == 0:
                print(f"step {step:4d}  loss {loss.item() / BATCH_SIZE:.4f}  lr {lr_now:.6f}", flush=True)
        sync(device)
        train_seconds += time.perf_counter() - t_epoch
        if timing:
            continue
        test_acc = accuracy(model, test_x, test_y)
        record = {"epoch": epoch + 1, "steps": step, "train_loss": loss_sum.item() / (epoch_steps * BATCH_SIZE),
                  "test_acc": test_acc, "lr": lr_now, "train_seconds": train_seconds}
        results["epochs"].append(record)
        print(f"epoch {epoch + 1:2d}  step {step:3d}  train loss {record['train_loss']:.4f}  "
              f"test acc {test_acc:.4f}  lr {lr_now:.6f}  {train_seconds:7.1f} s", flush=True)
    results["train_seconds"] = train_seconds
    results["steps_run"] = step
    results["step_seconds"] = step_seconds
    results["images_per_s"] = step * BATCH_SIZE / step_seconds if step_seconds else None
    if timing:
        # Per-step time only, so an epoch boundary's augmentation inside the window does not count.
        results["timed_steps"] = step - args.warmup_steps
        results["timed_seconds"] = timed_seconds
        results["images_per_s"] = results["timed_steps"] * BATCH_SIZE / timed_seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/cifar10-jpeg")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=float, default=9.9, help="fractional allowed: steps = ceil(48 * epochs)")
    ap.add_argument("--steps", type=int, default=None,
                    help="time only N steps after --warmup-steps steps, print images/s, skip evaluation")
    ap.add_argument("--warmup-steps", type=int, default=2, help="untimed steps before --steps (default 2)")
    ap.add_argument("--log-every", type=int, default=0, help="print the loss every N steps (0: per epoch only)")
    ap.add_argument("--json", default=None, help="write the results to this file")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        # The reference is float32 arithmetic; TF32 would round the convolution inputs to 10 mantissa bits.
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    blas = blas_report()
    print_environment(args, blas)
    results = {"args": vars(args), "blas": blas, "device_name":
               torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}

    t = time.perf_counter()
    train_u8, train_y, classes = load_split(os.path.join(args.data, "train"))
    test_u8, test_y, _ = load_split(os.path.join(args.data, "test"))
    train_x, test_x = normalize(train_u8), normalize(test_u8)
    del train_u8, test_u8
    results["load_seconds"] = time.perf_counter() - t
    print(f"data: {len(train_x)} train, {len(test_x)} test images, classes {' '.join(classes)}; "
          f"loaded in {results['load_seconds']:.1f} s", flush=True)

    torch.manual_seed(args.seed)
    model = build_model()
    total, trainable = count_parameters(model)
    results["parameters"], results["trainable_parameters"] = total, trainable
    print(model)
    print(f"parameters {total:,}, trainable {trainable:,}", flush=True)

    # The folder is sorted by class, so the whitening sample is a seeded random subset, not the first 5,000.
    t = time.perf_counter()
    pick = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(args.seed))[:WHITEN_IMAGES]
    eigenvalues = init_whitening(model[0], train_x[pick])
    results["whitening_seconds"] = time.perf_counter() - t
    print(f"whitening from {len(pick)} images in {results['whitening_seconds']:.2f} s; eigenvalues "
          + " ".join(f"{v:.4g}" for v in eigenvalues.tolist()), flush=True)

    model.to(device)
    total_steps = math.ceil(len(train_x) // BATCH_SIZE * args.epochs)
    gen = torch.Generator().manual_seed(args.seed)     # the data's draws: flip, then per epoch shift, shuffle
    padded = prepare_train_images(train_x.to(device), gen)
    del train_x                                          # only the padded copy is used from here on
    train_y, test_x, test_y = train_y.to(device), test_x.to(device), test_y.to(device)
    stop_after = total_steps if args.steps is None else min(total_steps, args.warmup_steps + args.steps)
    if args.steps is not None and stop_after <= args.warmup_steps:
        sys.exit(f"--warmup-steps {args.warmup_steps} + --steps {args.steps} leaves no step to time "
                 f"within the {total_steps}-step schedule")
    results["total_steps"] = total_steps
    print(f"{total_steps} steps of batch {BATCH_SIZE}"
          + (f"; timing steps {args.warmup_steps + 1}..{stop_after}" if args.steps is not None else ""), flush=True)

    train(model, padded, train_y, test_x, test_y, args, device, gen, total_steps, stop_after, results)

    if args.steps is None:
        results["final_test_acc"] = results["epochs"][-1]["test_acc"]
        t = time.perf_counter()
        results["tta_test_acc"] = accuracy(model, test_x, test_y, tta_level=2)
        sync(device)
        results["tta_seconds"] = time.perf_counter() - t
        print(f"final test acc {results['final_test_acc']:.4f}, with TTA {results['tta_test_acc']:.4f} "
              f"({results['tta_seconds']:.1f} s); training {results['train_seconds']:.1f} s, "
              f"{results['images_per_s']:.1f} images/s over the steps", flush=True)
    else:
        print(f"timed {results['timed_steps']} steps in {results['timed_seconds']:.2f} s: "
              f"{results['images_per_s']:.1f} images/s", flush=True)
    # Linux reports ru_maxrss in KiB.
    results["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if device.type == "cuda":
        results["peak_cuda_mib"] = torch.cuda.max_memory_allocated(device) / 2 ** 20
    print(f"peak RSS {results['peak_rss_mib']:.0f} MiB", flush=True)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
