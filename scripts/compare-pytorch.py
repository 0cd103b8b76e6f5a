#!/usr/bin/env python3
"""Runs `chapter bench` and PyTorch on the same network and configuration, alternating the
two programs, and prints the ratios as a Markdown table (BENCHMARKS.md's method).

Configurations, per network:
  book     the book's image size and batch (the anchors' "book");
  small    the anchors' reduced sizes;
  profile  the image size and batch of the section's `reproduce` profile, read from the
           chapter itself (`chapter show SECTION --profile reproduce`).

Each pair's ratio is the median over the rounds (default 3) of one run in which the two
programs alternate, so that both see the same machine. PyTorch's absolute figures are printed
beside the anchors' (../shared/anchors/README.md, two runs on the machine kind's reference
host), so that a slow hour shows. The rule of issue #8 is checked for training and for
inference: ours >= 1.25x PyTorch, or ours >= 197 GFLOP/s (direct-convolution FLOPs, a
training step counting three forward passes). Where a pair misses it, a second table gives
the share of our step spent in the products (OpenBLAS's, the direct and Winograd kernels')
and the ratio that would remain with everything else removed: whether the products or the rest stop the pair.

PyTorch's side is the reference script of this machine kind's anchors
(../shared/anchors/pytorch_ch7.py by default), run with a Python that has torch: by
default the venv /tmp/torch, created from the CPU wheel in /opt/wheels when missing.

Usage: scripts/compare-pytorch.py [--models lenet-bn,alexnet,...] [--configs book,small,profile]
                                  [--rounds 3] [--threads 2] [--steps 5] [--min-time 6]
                                  [--out rounds.jsonl]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import torch_env  # noqa: E402
from chapter_bench import chapter_bench  # noqa: E402
CHAPTER = os.path.join(ROOT, ".build/release/chapter")
# Our model name -> the anchor script's, its section, and the "small" configuration.
MODELS = {
    "lenet-bn": ("lenet_bn", "7.5", (28, 64)),
    "alexnet": ("alexnet", "7.1", (96, 64)),
    "vgg11-small": ("vgg11_q", "7.2", (64, 64)),
    "nin": ("nin", "7.3", (96, 64)),
    "googlenet": ("googlenet", "7.4", (64, 64)),
    "resnet18": ("resnet18", "7.6", (64, 64)),
    "densenet": ("densenet", "7.7", (64, 64)),
}
# The anchors README names networks by these prefixes.
ANCHOR_NAMES = {"LeNet-BN": "lenet-bn", "AlexNet": "alexnet", "VGG": "vgg11-small", "NiN": "nin",
                "GoogLeNet": "googlenet", "ResNet": "resnet18", "DenseNet": "densenet"}
RULE_RATIO, RULE_GFLOPS = 1.25, 197.0


def section_setting(section, profile, name, default):
    """An Int parameter's value under `profile`, from `chapter show`; `default` if absent."""
    out = subprocess.run([CHAPTER, "show", section, "--profile", profile], capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout
    m = re.search(rf"^\s+{name}: Int = (\d+)(?:.*-> (\d+) from profile {profile})?", out, re.M)
    if not m:
        return default
    return int(m.group(2) or m.group(1))


def configuration(model, config):
    """(resize, batch) for `config`, or None for the book's (the bench's defaults)."""
    if config == "small":
        return MODELS[model][2]
    if config == "profile":
        section = MODELS[model][1]
        return (section_setting(section, "reproduce", "resize", 28),
                section_setting(section, "reproduce", "batchSize", 0))
    return None


def anchors(path):
    """{(model, config): (train run 1, run 2, infer run 1, run 2)} from the anchors' table."""
    found = {}
    try:
        text = open(path).read()
    except OSError:
        return found
    number = r"([\d,.]+)"
    row = re.compile(rf"^\| (.+?) \| (book|small) \| \d+ \| \d+ \| {number} / {number} \| "
                     rf"{number} / {number} \|")
    for line in text.splitlines():
        m = row.match(line)
        if not m:
            continue
        model = next((v for k, v in ANCHOR_NAMES.items() if m.group(1).startswith(k)), None)
        if model:
            found[(model, m.group(2))] = tuple(float(g.replace(",", "")) for g in m.groups()[2:])
    return found


def ours(model, size, threads, steps):
    return chapter_bench(CHAPTER, model, threads, steps, size, cwd=ROOT)


def theirs(python, script, model, config, size, threads, min_time):
    cmd = [python, script, "bench", MODELS[model][0], "book" if config == "book" else "small",
           "--threads", str(threads), "--min-time", str(min_time)]
    if size:
        cmd += ["--hw", str(size[0]), "--batch", str(size[1])]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--configs", default="book,small,profile")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5,
                    help="our timed steps at least (more where a step is short, see --min-time)")
    ap.add_argument("--min-time", type=float, default=6.0,
                    help="seconds each side times training (PyTorch: and inference; the anchors: 20)")
    ap.add_argument("--out", help="append every round's raw figures here, as JSON lines")
    ap.add_argument("--python", help="a Python with torch (default: find or make one)")
    ap.add_argument("--venv", default="/tmp/torch")
    ap.add_argument("--anchor", default=os.path.join(ROOT, "../shared/anchors/pytorch_ch7.py"))
    args = ap.parse_args()
    if args.rounds < 1:
        sys.exit("--rounds must be at least 1")
    python, why = torch_env.torch_python(args.venv, args.python, extra_packages=["numpy"])
    if python is None:
        sys.exit(f"no torch: {why}")
    anchor_figures = anchors(os.path.join(os.path.dirname(args.anchor), "README.md"))
    print(f"{args.rounds} alternating rounds per pair, {args.threads} threads; ratio = median of "
          f"the rounds' ratios (their range in brackets); rule: ≥ {RULE_RATIO}× PyTorch or "
          f"≥ {RULE_GFLOPS:.0f} GFLOP/s")
    print()
    print("| network | config | size, batch | train ex/s: ours / PyTorch (anchors) | ratio "
          "| ours GFLOP/s (peak share) | rule | inference ex/s: ours / PyTorch (anchors) | ratio "
          "| ours GFLOP/s | rule | peak MiB: ours / PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    failures = 0
    bounds = []  # rows of the second table: pairs that miss the rule
    for model in args.models.split(","):
        if model not in MODELS:
            sys.exit(f"unknown model {model}; one of {', '.join(MODELS)}")
        for config in args.configs.split(","):
            size = configuration(model, config)
            # Enough timed steps for about --min-time seconds of training, as PyTorch's side
            # times: five steps of LeNet-BN take a tenth of a second, and scatter by half.
            probe = ours(model, size, args.threads, args.steps)
            step_s = probe["batch"] / probe["train_examples_per_s"]
            steps = max(args.steps, min(400, int(args.min_time / step_s) + 1))
            rounds = []
            for _ in range(args.rounds):  # alternate, so that both see the same machine
                a = ours(model, size, args.threads, steps)
                b = theirs(python, args.anchor, model, config, size, args.threads, args.min_time)
                rounds.append((a, b))
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(json.dumps({"model": model, "config": config, "ours": a,
                                            "pytorch": b}) + "\n")
            a0 = rounds[0][0]
            cells = []
            met_both = True
            for mode, key_ours, key_gflops in (("train", "train_examples_per_s", "train_gflops"),
                                               ("infer", "infer_examples_per_s", "infer_gflops")):
                mine = [a[key_ours] for a, _ in rounds]
                torch_ = [b[mode]["examples_per_s_median"] for _, b in rounds]
                ratios = [m / t for m, t in zip(mine, torch_)]
                gflops = statistics.median(a[key_gflops] for a, _ in rounds)
                share = statistics.median(a[key_gflops] / a["peak_gflops"] for a, _ in rounds)
                ratio = statistics.median(ratios)
                met = ratio >= RULE_RATIO or gflops >= RULE_GFLOPS
                met_both &= met
                shares = [a.get(f"{mode}_gemm_share") for a, _ in rounds]
                if not met and all(shares):
                    ceilings = [r / s for r, s in zip(ratios, shares)]
                    bounds.append((model, config, mode, ratio, statistics.median(shares),
                                   statistics.median(ceilings)))
                anchor = anchor_figures.get((model, config))
                ref = ""
                if anchor:
                    i = 0 if mode == "train" else 2
                    ref = f" ({anchor[i]:,.1f} / {anchor[i + 1]:,.1f})"
                cells += [f"{statistics.median(mine):,.1f} / {statistics.median(torch_):,.1f}{ref}",
                          f"{ratio:.2f} [{min(ratios):.2f}–{max(ratios):.2f}]",
                          f"{gflops:.0f}" + (f" ({share:.0%})" if mode == "train" else ""),
                          "met" if met else "**not met**"]
            failures += not met_both
            mem = (statistics.median(a["peak_rss_mib"] for a, _ in rounds),
                   statistics.median(b["peak_rss_mib"] for _, b in rounds))
            print(f"| {model} | {config} | {a0['resize']} px, {a0['batch']} | "
                  + " | ".join(cells) + f" | {mem[0]:.0f} / {mem[1]:.0f} |", flush=True)
    print()
    print(f"{failures} configuration(s) where the rule is not met in training or inference")
    if bounds:
        print()
        print("Where the rule is not met: the share of our cores' time spent in the "
              "products (OpenBLAS's and the direct and Winograd convolution kernels', `chapter "
              "bench`), and the ratio to PyTorch if everything outside them took no time "
              "(ratio / share, median of the rounds). Below "
              f"{RULE_RATIO}×, the products themselves stop the pair: removing the rest "
              "cannot meet the rule, fewer multiplies or faster products can.")
        print()
        print("| network | config | pass | ratio | products' share | ceiling ratio | bound |")
        print("|---|---|---|---|---|---|---|")
        for model, config, mode, ratio, share, ceiling in bounds:
            bound = "the products" if ceiling < RULE_RATIO else "the rest of the step"
            print(f"| {model} | {config} | {'training' if mode == 'train' else 'inference'} | "
                  f"{ratio:.2f} | {share:.0%} | {ceiling:.2f} | {bound} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
