#!/usr/bin/env python3
"""Runs `chapter bench` and PyTorch on the same network and configuration, alternating the
two programs, and prints the ratios as a Markdown table (BENCHMARKS.md's method).

PyTorch's side is the reference script of this machine kind's anchors
(../shared/anchors/pytorch_ch7.py by default), run with a Python that has torch: by
default the venv /tmp/torch, created from the CPU wheel in /opt/wheels when missing.

Usage: scripts/compare-pytorch.py [--models lenet-bn,alexnet,...] [--configs book,small]
                                  [--rounds 2] [--threads 2]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import torch_env  # noqa: E402
# Our model name -> the anchor script's, and the "small" configuration (resize, batch).
MODELS = {
    "lenet-bn": ("lenet_bn", (28, 64)),
    "alexnet": ("alexnet", (96, 64)),
    "vgg11-small": ("vgg11_q", (64, 64)),
    "nin": ("nin", (96, 64)),
    "googlenet": ("googlenet", (64, 64)),
    "resnet18": ("resnet18", (64, 64)),
    "densenet": ("densenet", (64, 64)),
}


def ours(model, config, threads, steps):
    cmd = [os.path.join(ROOT, ".build/release/chapter"), "bench", "--model", model,
           "--threads", str(threads), "--steps", str(steps), "--json"]
    if config == "small":
        resize, batch = MODELS[model][1]
        cmd += ["--resize", str(resize), "--batch", str(batch)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["train_examples_per_s"], r["infer_examples_per_s"], r["peak_rss_mib"]


def theirs(python, script, model, config, threads):
    net = MODELS[model][0]
    out = subprocess.run([python, script, "bench", net, config, "--threads", str(threads)],
                         capture_output=True, text=True, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return (r["train"]["examples_per_s_median"], r["infer"]["examples_per_s_median"],
            r["peak_rss_mib"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--configs", default="book,small")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--python", help="a Python with torch (default: find or make one)")
    ap.add_argument("--venv", default="/tmp/torch")
    ap.add_argument("--anchor", default=os.path.join(ROOT, "../shared/anchors/pytorch_ch7.py"))
    args = ap.parse_args()
    python, why = torch_env.torch_python(args.venv, args.python, extra_packages=["numpy"])
    if python is None:
        sys.exit(f"no torch: {why}")
    print("| network | config | train ex/s (ours / PyTorch) | ratio | inference ex/s | ratio "
          "| peak MiB | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for model in args.models.split(","):
        for config in args.configs.split(","):
            a, b = [], []
            for _ in range(args.rounds):  # alternate, so that both see the same machine
                a.append(ours(model, config, args.threads, args.steps))
                b.append(theirs(python, args.anchor, model, config, args.threads))
            m = [statistics.median(x[i] for x in a) for i in range(3)]
            t = [statistics.median(x[i] for x in b) for i in range(3)]
            print(f"| {model} | {config} | {m[0]:.1f} / {t[0]:.1f} | {m[0] / t[0]:.2f} "
                  f"| {m[1]:.1f} / {t[1]:.1f} | {m[1] / t[1]:.2f} | {m[2]:.0f} / {t[2]:.0f} "
                  f"| {m[2] / t[2]:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
