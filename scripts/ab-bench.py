#!/usr/bin/env python3
"""Alternates `chapter bench` between two builds of the engine, for a before/after measurement
of one change (BENCHMARKS.md's method: one run, alternating, the median of the rounds).

Usage: scripts/ab-bench.py BEFORE/chapter AFTER/chapter [--models lenet-bn:book,alexnet:96x64]
                           [--rounds 3] [--steps 5] [--threads 2]
A model is NAME:book (the book's size and batch) or NAME:RESIZExBATCH.
Prints a Markdown table: training and inference examples/s, before / after, and their ratio.
"""
import argparse
import json
import statistics

from chapter_bench import chapter_bench


def bench(binary, model, config, steps, threads):
    size = None if config == "book" else tuple(int(v) for v in config.split("x"))
    r = chapter_bench(binary, model, threads, steps, size)
    return r["train_examples_per_s"], r["infer_examples_per_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--models", default="lenet-bn:book,lenet-bn:28x64,alexnet:96x64")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    print("| model | config | train ex/s (before / after) | ratio | inference ex/s | ratio |")
    print("|---|---|---|---|---|---|")
    for spec in args.models.split(","):
        model, config = spec.split(":")
        a, b = [], []
        for _ in range(args.rounds):
            a.append(bench(args.before, model, config, args.steps, args.threads))
            b.append(bench(args.after, model, config, args.steps, args.threads))
        m = [statistics.median(x[i] for x in a) for i in range(2)]
        n = [statistics.median(x[i] for x in b) for i in range(2)]
        print(f"| {model} | {config} | {m[0]:.1f} / {n[0]:.1f} | {n[0] / m[0]:.2f} "
              f"| {m[1]:.1f} / {n[1]:.1f} | {n[1] / m[1]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
