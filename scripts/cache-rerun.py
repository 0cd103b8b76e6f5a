#!/usr/bin/env python3
"""How much faster a re-run is when every training comes from the cache (issue: the training
cache). For each round: a fresh output folder, `chapter run SECTION` (trains, reads the data
set), then the same command again (loads the cached trainings, reads no image). Prints each
round and the medians; the ratio is first / second. Run it alone on the machine.

  python3 scripts/cache-rerun.py [--chapter .build/release/chapter] [--section 7.5]
                                 [--profile smoke] [--rounds 5]
"""
import argparse, shutil, statistics, subprocess, tempfile, time

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--chapter", default=".build/release/chapter")
parser.add_argument("--section", default="7.5")
parser.add_argument("--profile", default="smoke")
parser.add_argument("--rounds", type=int, default=5)
args = parser.parse_args()

def timed(command):
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start

firsts, seconds = [], []
for round in range(args.rounds):
    folder = tempfile.mkdtemp(prefix="cache-rerun-")
    command = [args.chapter, "run", args.section, "--profile", args.profile, "--output", folder, "--quiet"]
    try:
        first, second = timed(command), timed(command)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    firsts.append(first)
    seconds.append(second)
    print(f"round {round + 1}: first {first * 1000:.0f} ms, second {second * 1000:.0f} ms, "
          f"ratio {first / second:.1f}")
first, second = statistics.median(firsts), statistics.median(seconds)
print(f"median: first {first * 1000:.0f} ms, second {second * 1000:.0f} ms, "
      f"ratio of medians {first / second:.1f}")
