#!/usr/bin/env python3
"""Step-by-step cross-check of the engine against PyTorch, for the seven networks of chapter 7.

For each network, `chapter crosscheck` builds it with its section's own cells, writes its
initial state (Xavier weights, as `trainCh6` draws them), the first K batches of its shuffled
Fashion-MNIST training data, and what K SGD steps at the section's learning rate made of them.
This script builds the same network in PyTorch, loads the engine's initial state by name, takes
the same K steps on the same batches, and compares:

- the first batch's logits and loss (tolerance: 1e-5 relative);
- every parameter's gradient at the first step (1e-3 relative);
- the loss at every step (1e-3 relative);
- every parameter and batch-norm moving statistic after the K steps (1e-3 relative).

A tensor's relative difference is max|ours - PyTorch| / max|PyTorch| over its elements: the
size of the error against the size of the tensor, so that an element near zero does not
count as a large relative error. Where a difference is larger than its tolerance, the script
shows whether it comes from the order of the arithmetic alone: it runs PyTorch again in four
other ways that change nothing but that order (float64, its native convolutions instead of
oneDNN's, channels-last images, one thread) and passes the difference only if PyTorch differs
from itself at least half as much (see `judge`). Exit 1 when any check fails.

Conventions (docs/CROSSCHECK.md says more). Where the book and PyTorch differ, the engine
follows the book, and the PyTorch side here computes the book's convention with PyTorch's
own ops instead of loosening a tolerance:
- Batch norm's moving variance is the batch's *biased* variance (the book's from-scratch
  code; MXNet's layer); PyTorch's `nn.BatchNorm2d` keeps the unbiased one. The `BatchNorm`
  here normalises with `F.batch_norm` and updates its moving statistics with the biased
  variance. `--pytorch-batchnorm` uses PyTorch's own update instead, to show the difference.
- Momentum: the engine's 0.9 is the weight of the old value (moving = 0.9 moving + 0.1
  batch), PyTorch's `momentum=0.1` the weight of the new one: the same update.
- Xavier's fans for a convolution are in·k·k and out·k·k in both; the weights are loaded
  from the engine anyway, so no initialiser runs here.
- Pooling that does not divide evenly drops the last partial window in both (floor, PyTorch's
  ceil_mode=False); average pooling counts padding in the divisor (count_include_pad=True).
- Resizing happens before the batches are written, so both sides see the same pixels; the
  engine's bilinear resize is tested on its own (ImageResizeTests).
- Dropout is switched off on both sides: its masks come from different generators.
- A bias that feeds only batch norms has a zero gradient in exact arithmetic; what it holds
  after training is rounding noise on both sides, so its size is checked instead.

`--perturb bn-eps` (batch norm with eps 1e-3 instead of 1e-5) or `--perturb conv-padding`
(a convolution's zero padding replaced by edge replication) breaks one op on the PyTorch side
on purpose; with `--expect-failure` the script succeeds only if every network checked then
fails the comparison.

Usage: scripts/crosscheck-pytorch.py [--models lenet-bn,resnet18,...] [--steps 20]
           [--chapter .build/release/chapter] [--resize N] [--batch N]
           [--perturb bn-eps|conv-padding] [--expect-failure] [--python PATH]
Without torch (no importable torch and no wheel to install), it prints "skipped: no torch"
and the reason, and exits 0.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import warnings

# torch warns at import when NumPy is missing (nothing here needs NumPy), and each time
# oneDNN is switched off and on again that it has no TF32 for this (Intel-GPU-less) build.
warnings.filterwarnings("ignore", message=".*(NumPy|TF32).*")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import torch_env  # noqa: E402

MODELS = ["lenet-bn", "alexnet", "vgg11-small", "nin", "googlenet", "resnet18", "densenet"]
TOLERANCE = {"first_loss": 1e-5, "loss": 1e-3, "state": 1e-3}
# A bias whose exact gradient is 0 (it feeds a batch norm) holds rounding noise, about 1e-5
# after 20 steps; a real gradient would move it by lr * gradient, orders of magnitude more.
NOISE = 1e-3
# How far beyond PyTorch's own spread (see `judge`) a difference may go.
SPREAD_FACTOR = 2.0


# ---------------------------------------------------------------------------------------------
# safetensors, read with the standard library (the format is a JSON header and raw bytes).

def read_safetensors(path):
    """({name: torch tensor}, metadata)"""
    import torch
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    dtypes = {"F32": torch.float32, "F64": torch.float64, "U64": torch.int64}
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        raw = bytearray(blob[8 + n + begin:8 + n + end])
        t = torch.frombuffer(raw, dtype=dtypes[info["dtype"]]) if raw else torch.zeros(0)
        tensors[name] = t.reshape(info["shape"]).clone()
    return tensors, meta


# ---------------------------------------------------------------------------------------------
# The chapter's networks in PyTorch. Module and attribute names follow the Swift cells, so
# that state names match the engine's `Module.namedState()` one for one (`layers.4.weight`,
# `layers.4.layers.0.bn1.gamma`). Shapes come from the loaded state: a layer declares which
# tensors it owns, and `load_state` fills them in.

def build(model, perturb=None):
    import torch
    from torch import nn
    from torch.nn import functional as F

    state_of_perturbation = {"padding_done": False}

    class Conv(nn.Module):
        param_names = ("weight", "bias")

        def __init__(self, kernel, stride=1, padding=0, act=None):
            super().__init__()
            self.kernel, self.stride, self.padding, self.act = kernel, stride, padding, act
            self.replicate = False
            self.bias_feeds_batch_norm = False
            if perturb == "conv-padding" and padding > 0 and not state_of_perturbation["padding_done"]:
                self.replicate = state_of_perturbation["padding_done"] = True
            for p in self.param_names:
                self.register_parameter(p, None)

        def forward(self, x):
            if self.replicate:  # broken on purpose: edge values instead of zeros
                p = self.padding
                y = F.conv2d(F.pad(x, (p, p, p, p), mode="replicate"), self.weight, self.bias,
                             self.stride)
            else:
                y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding)
            return activation(y, self.act)

    class Dense(nn.Module):
        param_names = ("weight", "bias")

        def __init__(self, act=None):
            super().__init__()
            self.act = act
            self.bias_feeds_batch_norm = False
            for p in self.param_names:
                self.register_parameter(p, None)

        def forward(self, x):
            return activation(F.linear(x.flatten(1), self.weight, self.bias), self.act)

    class BatchNorm(nn.Module):
        """The engine's BatchNorm: eps 1e-5; moving = 0.9 moving + 0.1 batch, with the
        batch's biased variance."""
        param_names = ("gamma", "beta")
        buffer_names = ("movingMean", "movingVar")

        def __init__(self):
            super().__init__()
            self.eps = 1e-3 if perturb == "bn-eps" else 1e-5
            self.momentum = 0.9
            for p in self.param_names:
                self.register_parameter(p, None)
            for b in self.buffer_names:
                self.register_buffer(b, None)

        def forward(self, x):
            if not self.training:
                return F.batch_norm(x, self.movingMean, self.movingVar, self.gamma, self.beta,
                                    False, 0.0, self.eps)
            if PYTORCH_BATCHNORM:  # PyTorch's own update: unbiased variance
                return F.batch_norm(x, self.movingMean, self.movingVar, self.gamma, self.beta,
                                    True, 1 - self.momentum, self.eps)
            y = F.batch_norm(x, None, None, self.gamma, self.beta, True, 0.0, self.eps)
            with torch.no_grad():
                dims = [0] if x.dim() == 2 else [0, 2, 3]
                mean = x.mean(dims)
                var = x.var(dims, unbiased=False)
                self.movingMean.mul_(self.momentum).add_((1 - self.momentum) * mean)
                self.movingVar.mul_(self.momentum).add_((1 - self.momentum) * var)
            return y

    class Act(nn.Module):
        def __init__(self, act):
            super().__init__()
            self.act = act

        def forward(self, x):
            return activation(x, self.act)

    class MaxPool(nn.Module):
        def __init__(self, size, stride=None, padding=0):
            super().__init__()
            self.size, self.stride, self.padding = size, stride or size, padding

        def forward(self, x):
            return F.max_pool2d(x, self.size, self.stride, self.padding)

    class AvgPool(MaxPool):
        def forward(self, x):
            return F.avg_pool2d(x, self.size, self.stride, self.padding, count_include_pad=True)

    class GlobalAvgPool(nn.Module):
        def forward(self, x):
            return F.avg_pool2d(x, x.shape[2:])

    class Flatten(nn.Module):
        def forward(self, x):
            return x.flatten(1)

    class Dropout(nn.Module):
        """Switched off on both sides (the engine sets its probability to 0)."""
        def forward(self, x):
            return x

    class Sequential(nn.Module):
        def __init__(self, *layers):
            super().__init__()
            self.layers = nn.ModuleList(layers)
            for a, b in zip(layers, layers[1:]):
                if isinstance(b, BatchNorm):
                    feeds_batch_norm(a)

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    def feeds_batch_norm(layer):
        """Marks a layer whose output reaches nothing but batch norms: its bias has a zero
        gradient in exact arithmetic (the batch mean absorbs it), so what it holds after
        training is rounding noise, compared as such (see `compare`)."""
        if hasattr(layer, "bias_feeds_batch_norm"):
            layer.bias_feeds_batch_norm = True
        return layer

    def activation(y, act):
        return torch.relu(y) if act == "relu" else torch.sigmoid(y) if act == "sigmoid" else y

    relu = "relu"

    # 7.5, the concise version.
    def lenet_bn():
        return Sequential(
            Conv(5), BatchNorm(), Act("sigmoid"), MaxPool(2, 2),
            Conv(5), BatchNorm(), Act("sigmoid"), MaxPool(2, 2),
            Dense(), BatchNorm(), Act("sigmoid"),
            Dense(), BatchNorm(), Act("sigmoid"),
            Dense())

    # 7.1: the first convolution has no padding, as in the chapter.
    def alexnet():
        return Sequential(
            Conv(11, 4, act=relu), MaxPool(3, 2),
            Conv(5, padding=2, act=relu), MaxPool(3, 2),
            Conv(3, padding=1, act=relu), Conv(3, padding=1, act=relu),
            Conv(3, padding=1, act=relu), MaxPool(3, 2),
            Dense(relu), Dropout(), Dense(relu), Dropout(), Dense())

    # 7.2, at a quarter of the channels (the widths come from the loaded weights).
    def vgg():
        def block(n):
            return Sequential(*[Conv(3, padding=1, act=relu) for _ in range(n)], MaxPool(2, 2))
        return Sequential(*[block(n) for n in (1, 1, 2, 2, 2)],
                          Dense(relu), Dropout(), Dense(relu), Dropout(), Dense())

    # 7.3
    def nin():
        def block(kernel, stride, padding):
            return Sequential(Conv(kernel, stride, padding, relu), Conv(1, act=relu),
                              Conv(1, act=relu))
        return Sequential(
            block(11, 4, 0), MaxPool(3, 2), block(5, 1, 2), MaxPool(3, 2),
            block(3, 1, 1), MaxPool(3, 2), Dropout(), block(3, 1, 1), GlobalAvgPool(), Flatten())

    # 7.4
    class Inception(nn.Module):
        def __init__(self):
            super().__init__()
            self.p1 = Conv(1, act=relu)
            self.p2Reduce, self.p2 = Conv(1, act=relu), Conv(3, padding=1, act=relu)
            self.p3Reduce, self.p3 = Conv(1, act=relu), Conv(5, padding=2, act=relu)
            self.p4Pool, self.p4 = MaxPool(3, 1, 1), Conv(1, act=relu)

        def forward(self, x):
            return torch.cat([self.p1(x), self.p2(self.p2Reduce(x)), self.p3(self.p3Reduce(x)),
                              self.p4(self.p4Pool(x))], dim=1)

    def googlenet():
        b1 = Sequential(Conv(7, 2, 3, relu), MaxPool(3, 2, 1))
        b2 = Sequential(Conv(1, act=relu), Conv(3, padding=1, act=relu), MaxPool(3, 2, 1))
        b3 = Sequential(Inception(), Inception(), MaxPool(3, 2, 1))
        b4 = Sequential(*[Inception() for _ in range(5)], MaxPool(3, 2, 1))
        b5 = Sequential(Inception(), Inception(), GlobalAvgPool())
        return Sequential(b1, b2, b3, b4, b5, Dense())

    # 7.6
    class Residual(nn.Module):
        def __init__(self, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = Conv(3, strides, 1)
            self.conv2 = Conv(3, padding=1)
            self.conv3 = Conv(1, strides) if use_1x1conv else None
            self.bn1, self.bn2 = BatchNorm(), BatchNorm()
            feeds_batch_norm(self.conv1)
            feeds_batch_norm(self.conv2)

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            if self.conv3 is not None:
                x = self.conv3(x)
            return torch.relu(y + x)

    def resnet18():
        def stage(first):
            return Sequential(Residual(True, 2) if not first else Residual(), Residual())
        return Sequential(Conv(7, 2, 3), BatchNorm(), Act(relu), MaxPool(3, 2, 1),
                          stage(True), stage(False), stage(False), stage(False),
                          GlobalAvgPool(), Dense())

    # 7.7
    class DenseBlock(nn.Module):
        def __init__(self, num_convs):
            super().__init__()
            # Each new layer's channels are concatenated to the block's output, and every
            # later consumer (the next layers, the transition, the final norm) starts with a
            # batch norm.
            self.net = Sequential(*[
                Sequential(BatchNorm(), Act(relu), feeds_batch_norm(Conv(3, padding=1)))
                for _ in range(num_convs)])

        def forward(self, x):
            for blk in self.net.layers:
                x = torch.cat([x, blk(x)], dim=1)
            return x

    def densenet():
        def transition():
            return Sequential(BatchNorm(), Act(relu), feeds_batch_norm(Conv(1)), AvgPool(2, 2))
        blocks = [DenseBlock(4), transition(), DenseBlock(4), transition(), DenseBlock(4),
                  transition(), DenseBlock(4)]
        return Sequential(Conv(7, 2, 3), BatchNorm(), Act(relu), MaxPool(3, 2, 1), *blocks,
                          BatchNorm(), Act(relu), GlobalAvgPool(), Dense())

    return {"lenet-bn": lenet_bn, "alexnet": alexnet, "vgg11-small": vgg, "nin": nin,
            "googlenet": googlenet, "resnet18": resnet18, "densenet": densenet}[model]()


PYTORCH_BATCHNORM = False


def declared_tensors(net):
    """{state name: (module, attribute, kind)} for every tensor the layers declare."""
    return {f"{prefix}.{attr}" if prefix else attr: (module, attr, kind)
            for prefix, module in net.named_modules()
            for kind in ("param_names", "buffer_names")
            for attr in getattr(type(module), kind, ())}


def load_state(net, state, dtype):
    """Fills every tensor the layers declare from `state`, by name; the two name sets must be
    equal."""
    import torch
    slots = declared_tensors(net)
    missing, extra = sorted(set(slots) - set(state)), sorted(set(state) - set(slots))
    if missing or extra:
        raise SystemExit(f"state names differ: PyTorch lacks {extra[:5]}, engine lacks {missing[:5]}")
    for name, (module, attr, kind) in slots.items():
        value = state[name].to(dtype).clone()
        if kind == "param_names":
            setattr(module, attr, torch.nn.Parameter(value))
        else:
            module.register_buffer(attr, value)


def state_of(net):
    return {name: getattr(module, attr).detach()
            for name, (module, attr, _) in declared_tensors(net).items()}


def biases_before_batch_norm(net):
    """The names of the biases whose exact gradient is zero (`feeds_batch_norm`)."""
    return {f"{prefix}.bias" for prefix, m in net.named_modules()
            if getattr(m, "bias_feeds_batch_norm", False)}


class Run:
    """What K steps of one program gave: the first step's logits and gradients, every step's
    loss, the state after the last step."""

    def __init__(self, logits, grads, losses, state, noise):
        self.logits, self.grads, self.losses, self.state, self.noise = (
            logits, grads, losses, state, noise)


# The ways PyTorch is run besides its default (oneDNN, float32, NCHW, the run's threads), each
# the same arithmetic in another order; how far they land from the default is PyTorch's own
# spread (see `judge`).
VARIANTS = {
    "float64": {"dtype": "float64"},
    "native convolutions": {"native": True},
    "channels-last": {"channels_last": True},
    "one thread": {"threads": 1},
}


def train(model, initial, images, labels, sizes, lr, perturb, dtype="float32", native=False,
          channels_last=False, threads=None):
    """PyTorch's K steps. `native` turns oneDNN off, so that convolutions take PyTorch's own
    im2col-and-GEMM path; `channels_last` stores images NHWC, which oneDNN convolves with
    other kernels; `threads` splits the work otherwise."""
    import torch
    dtype = getattr(torch, dtype)
    saved_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _train(model, initial, images, labels, sizes, lr, perturb, dtype, native,
                      channels_last)
    finally:
        torch.set_num_threads(saved_threads)


def _train(model, initial, images, labels, sizes, lr, perturb, dtype, native, channels_last):
    import torch
    from torch.nn import functional as F
    with torch.backends.mkldnn.flags(enabled=not native):
        net = build(model, perturb)
        load_state(net, initial, dtype)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        net.train()
        optimizer = torch.optim.SGD(net.parameters(), lr=lr)
        losses, logits, grads, start = [], None, None, 0
        for n in sizes:
            x, y = images[start:start + n].to(dtype), labels[start:start + n]
            start += n
            optimizer.zero_grad()
            out = net(x)
            loss = F.cross_entropy(out, y)
            loss.backward()
            if logits is None:
                logits = out.detach()
                grads = {name: p.grad.detach().clone() for name, p in net.named_parameters()}
            optimizer.step()
            losses.append(loss.item())
    return Run(logits, grads, losses, state_of(net), biases_before_batch_norm(net))


def relative(a, b):
    """max |a - b| / max |b|: the error against the size of the tensor."""
    a, b = a.double(), b.double()
    scale = b.abs().max().item()
    diff = (a - b).abs().max().item()
    return diff / scale if scale > 0 else diff


def loss_differences(a, b):
    return [abs(x - y) / abs(y) for x, y in zip(a.losses, b.losses)]


def within(what, ours, spread, tolerance):
    """(ok, line) for a family of differences (one per step or per tensor): the largest must be
    within `tolerance`, or within SPREAD_FACTOR times the largest difference between PyTorch
    and itself over the same family (see `judge`)."""
    worst = max(ours, key=lambda n: ours[n])
    widest = max(spread, key=lambda n: spread[n])
    ok = ours[worst] <= tolerance or ours[worst] <= SPREAD_FACTOR * spread[widest]
    line = f"{what}: ≤ {ours[worst]:.1e} ({worst})"
    if ours[worst] > tolerance:
        line += (f", over {tolerance:g}; PyTorch against itself: ≤ {spread[widest]:.1e} "
                 f"({widest}), so {'within' if ok else 'beyond'} {SPREAD_FACTOR:g}× its own spread")
    return ok, line


def judge(ours, ref, variants):
    """The verdict on one network: a list of (ok, line).

    The loss and logits of the first step are held to the tolerance outright. Elsewhere a
    difference over its tolerance passes only where PyTorch differs from itself by at least
    half as much when nothing but the order of its arithmetic changes (`VARIANTS`: float64,
    its native convolutions instead of oneDNN's, channels-last, one thread). Each family is
    judged by its largest difference: rounding lands on other tensors and steps in each
    program (a ReLU tipped over here, a cancelling weight-gradient sum there), so a per-item
    spread measured on four samples would be noise. The engine is then as close to PyTorch
    as PyTorch is to itself; the factor 2 allows for the spread being measured on few
    samples."""
    lines = []
    noise = ref.noise
    first = abs(ours.losses[0] - ref.losses[0]) / abs(ref.losses[0])
    logits = relative(ours.logits, ref.logits)
    ok = first <= TOLERANCE["first_loss"] and logits <= TOLERANCE["first_loss"]
    lines.append((ok, f"first step: loss {first:.1e}, logits {logits:.1e} "
                      f"(tolerance {TOLERANCE['first_loss']:g})"))

    names = [n for n in ref.grads if n not in noise]
    lines.append(within(
        "first step's gradients", {n: relative(ours.grads[n], ref.grads[n]) for n in names},
        {n: max(relative(v.grads[n], ref.grads[n]) for v in variants) for n in names},
        TOLERANCE["state"]))

    ours_d = loss_differences(ours, ref)
    spread = [max(ds) for ds in zip(*(loss_differences(v, ref) for v in variants))]
    lines.append(within(
        "losses", {f"step {k + 1}": d for k, d in enumerate(ours_d)},
        {f"step {k + 1}": d for k, d in enumerate(spread)}, TOLERANCE["loss"]))

    names = [n for n in ref.state if n not in noise]
    lines.append(within(
        f"state after {len(ours.losses)} steps",
        {n: relative(ours.state[n], ref.state[n]) for n in names},
        {n: max(relative(v.state[n], ref.state[n]) for v in variants) for n in names},
        TOLERANCE["state"]))

    if noise:
        size = max(max(ours.state[n].abs().max().item(), ref.state[n].abs().max().item())
                   for n in noise)
        lines.append((size <= NOISE, f"{len(noise)} biases before a batch norm (gradient 0 in "
                                     f"exact arithmetic): |values| ≤ {size:.1e} on both sides "
                                     f"(bound {NOISE:g})"))
    return lines


def check(model, args, workdir):
    folder = os.path.join(workdir, model)
    cmd = [args.chapter, "crosscheck", "--model", model, "--output", folder,
           "--steps", str(args.steps), "--threads", str(args.threads)]
    if args.resize:
        cmd += ["--resize", str(args.resize)]
    if args.batch:
        cmd += ["--batch", str(args.batch)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        print(f"{model}: `{' '.join(cmd)}` failed ({r.returncode}): {r.stderr.strip()}")
        return None
    initial, meta = read_safetensors(os.path.join(folder, "initial.safetensors"))
    batches, batch_meta = read_safetensors(os.path.join(folder, "batches.safetensors"))
    after, _ = read_safetensors(os.path.join(folder, "after.safetensors"))
    ours = Run(after.pop("logits"), {n[5:]: after.pop(n) for n in list(after) if n.startswith("grad.")},
               after.pop("losses").tolist(), after, set())
    sizes = [int(s) for s in batch_meta["batch_sizes"].split(",")]
    lr = float(meta["lr"])
    data = (model, initial, batches["images"], batches["labels"], sizes, lr, args.perturb)
    ref = train(*data)
    variants = [train(*data, **options) for options in VARIANTS.values()]
    verdict = judge(ours, ref, variants)
    ok = all(v for v, _ in verdict)
    print(f"{model} ({meta['height']}×{meta['width']}, batch {meta['batch']}, lr {lr:g}, "
          f"{len(sizes)} steps): {'ok' if ok else 'FAILED'}", flush=True)
    for v, line in verdict:
        print(f"  {'ok  ' if v else 'FAIL'} {line}", flush=True)
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--resize", type=int, help="image size (default: the model's, see `chapter crosscheck`)")
    ap.add_argument("--batch", type=int, help="batch size (default: the model's)")
    ap.add_argument("--chapter", default=os.path.join(ROOT, ".build/release/chapter"))
    ap.add_argument("--perturb", choices=["bn-eps", "conv-padding"])
    ap.add_argument("--expect-failure", action="store_true")
    ap.add_argument("--pytorch-batchnorm", action="store_true",
                    help="PyTorch's own moving-variance update (unbiased), to show the difference")
    ap.add_argument("--python", help="a Python with torch (default: find or make one)")
    ap.add_argument("--venv", default=os.path.join(ROOT, ".build-torch/venv"))
    args = ap.parse_args()
    args.chapter = os.path.abspath(args.chapter)
    if not os.access(args.chapter, os.X_OK):
        ap.error(f"no chapter binary at {args.chapter}: run `make build` first, or pass --chapter")

    here = os.path.realpath(sys.executable)
    try:
        import torch
        found = not args.python or os.path.realpath(args.python) == here
    except ImportError:
        found = False
    if not found:
        python, why = torch_env.torch_python(args.venv, args.python)
        if python is None:
            print(f"crosscheck: skipped: no torch ({why})")
            return 0
        os.execv(python, [python, os.path.abspath(__file__)] + sys.argv[1:])

    global PYTORCH_BATCHNORM
    PYTORCH_BATCHNORM = args.pytorch_batchnorm
    torch.set_num_threads(args.threads)
    models = args.models.split(",")
    for m in models:
        if m not in MODELS:
            ap.error(f"unknown model {m}; one of {', '.join(MODELS)}")
    broken = f" with {args.perturb} broken on purpose" if args.perturb else ""
    print(f"crosscheck: the engine against PyTorch {torch.__version__}{broken}; tolerances: "
          f"first loss {TOLERANCE['first_loss']:g}, every loss {TOLERANCE['loss']:g}, "
          f"every tensor after {args.steps} steps {TOLERANCE['state']:g} (relative)", flush=True)
    with tempfile.TemporaryDirectory(prefix="crosscheck-") as workdir:
        results = [check(m, args, workdir) for m in models]
    passed = sum(1 for r in results if r)
    failed = len(results) - passed
    if None in results:
        print(f"crosscheck: the engine's side failed for {results.count(None)} of "
              f"{len(results)} networks (see above)")
        return 1
    if args.expect_failure:
        # Every network must notice the broken op; one that passes anyway means the check
        # cannot see that op.
        print(f"crosscheck{broken}: the comparison failed for {failed} of {len(results)} "
              f"networks, as it should" if passed == 0 else
              f"crosscheck{broken}: {passed} of {len(results)} networks still passed")
        return 0 if passed == 0 else 1
    print(f"crosscheck: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
