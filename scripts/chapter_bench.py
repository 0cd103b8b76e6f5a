"""Runs `chapter bench --json` once, for the scripts that time the engine (ab-bench.py,
compare-pytorch.py): one place that knows its command line and its output."""
import json
import subprocess


def chapter_bench(binary, model, threads, steps, size=None, cwd=None):
    """The benchmark's JSON object. `size` is (resize, batch), or None for the book's."""
    cmd = [binary, "bench", "--model", model, "--threads", str(threads), "--steps", str(steps),
           "--json"]
    if size:
        cmd += ["--resize", str(size[0]), "--batch", str(size[1])]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=cwd).stdout
    return json.loads(out.strip().splitlines()[-1])
