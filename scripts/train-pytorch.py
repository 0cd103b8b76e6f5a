#!/usr/bin/env python3
"""Trains one of the chapter's networks with PyTorch on Fashion-MNIST, with the settings of a
`chapter` profile, and prints the test accuracy and the time after each epoch.

It answers the question a `reproduce` profile raises when a section misses its target:
would the reference framework, trained with the same settings on the same machine, do
better in the same time? The networks are the anchors' (../shared/anchors/pytorch_ch7.py),
initialised as the book's train_ch6 does (Xavier-uniform weights, zero biases), trained
with plain SGD on shuffled batches of the full training set, the images resized
bilinearly (as `chapter`'s loader does), and tested on the whole test set after each
epoch. The shuffling is PyTorch's, seeded, not the engine's order: this compares the
frameworks' progress, not their step-by-step numbers (that is crosscheck-pytorch.py).

Usage: scripts/train-pytorch.py NET --resize 32 --batch 64 --lr 0.05 --epochs 3
       [--threads 2] [--seed 0] [--data /usr/share/datasets/fashion-mnist]
NET is an anchor network name: lenet_bn, alexnet, vgg11_q, nin, googlenet, resnet18, densenet.
The last line is one JSON object with every epoch's figures.
"""
import argparse
import gzip
import importlib.util
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import torch_env  # noqa: E402


def load_idx(path):
    import numpy as np
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("net")
    ap.add_argument("--resize", type=int, required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--anchor", default=os.path.join(ROOT, "../shared/anchors/pytorch_ch7.py"))
    ap.add_argument("--python", help="a Python with torch (default: find or make one)")
    ap.add_argument("--venv", default="/tmp/torch")
    args = ap.parse_args()

    try:
        import torch  # noqa: F401
    except ImportError:
        python, why = torch_env.torch_python(args.venv, args.python, extra_packages=["numpy"])
        if python is None:
            sys.exit(f"no torch: {why}")
        os.execv(python, [python, *sys.argv])

    import torch
    from torch import nn
    from torch.nn import functional as F
    spec = importlib.util.spec_from_file_location("anchor", args.anchor)
    anchor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(anchor)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    images = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x = load_idx(os.path.join(args.data, f"{prefix}-images-idx3-ubyte.gz"))
        y = load_idx(os.path.join(args.data, f"{prefix}-labels-idx1-ubyte.gz"))
        images[split] = (torch.from_numpy(x.copy()), torch.from_numpy(y.astype("int64")))

    def batches(split, shuffle):
        x, y = images[split]
        order = torch.randperm(len(x)) if shuffle else torch.arange(len(x))
        for start in range(0, len(x), args.batch):
            idx = order[start:start + args.batch]
            b = x[idx].unsqueeze(1).float() / 255
            if args.resize != b.shape[-1]:
                b = F.interpolate(b, size=(args.resize, args.resize), mode="bilinear",
                                  align_corners=False)
            yield b, y[idx]

    build = anchor.NETS[args.net][0]
    net = build(args.resize)
    net.apply(anchor.init_weights)
    for m in net.modules():
        if type(m) in (nn.Linear, nn.Conv2d) and m.bias is not None:
            nn.init.zeros_(m.bias)
    opt = torch.optim.SGD(net.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    result = {"net": args.net, "resize": args.resize, "batch": args.batch, "lr": args.lr,
              "threads": args.threads, "seed": args.seed, "torch": torch.__version__,
              "epochs": []}
    wall = 0.0
    for epoch in range(args.epochs):
        net.train()
        start = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        for x, y in batches("train", shuffle=True):
            opt.zero_grad()
            out = net(x)
            loss = loss_fn(out, y)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(y)
            correct += int((out.argmax(1) == y).sum())
            seen += len(y)
        train_s = time.perf_counter() - start
        net.eval()
        hits, total = 0, 0
        with torch.no_grad():
            for x, y in batches("test", shuffle=False):
                hits += int((net(x).argmax(1) == y).sum())
                total += len(y)
        epoch_s = time.perf_counter() - start
        wall += epoch_s
        e = {"epoch": epoch + 1, "loss": loss_sum / seen, "train_acc": correct / seen,
             "test_acc": hits / total, "train_s": train_s, "epoch_s": epoch_s,
             "train_examples_per_s": seen / train_s, "wall_s": wall}
        result["epochs"].append(e)
        print(f"epoch {epoch + 1}: loss {e['loss']:.3f}, train acc {e['train_acc']:.3f}, "
              f"test acc {e['test_acc']:.3f}, {e['train_examples_per_s']:.1f} examples/s, "
              f"{epoch_s:.0f} s (total {wall:.0f} s)", flush=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
