#!/bin/sh
# Winograd's F(2x2, 3x3) and F(2x2, 5x5) against the direct kernel, each alone on one core,
# on the padded stride-1 3x3 and 5x5 shapes of the chapter's small planes
# (scripts/winograd-conv-bench.c): forward and weight gradient, best of 30 runs per
# shape and kernel, the two alternating within each run. The planes stop at 16x16, the
# direct kernel's limit.
#
# Usage: scripts/winograd-conv-bench.sh [ROUNDS]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cc=${CC:-$(command -v clang || command -v cc)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src="$root/Sources/CDirectConvolution"
"$cc" -O3 -I"$src/include" "$root/scripts/winograd-conv-bench.c" "$src/direct_convolution.c" \
  "$src/winograd_convolution.c" -lm -o "$work/bench"
# channels size out_channels kernel: ResNet-18's, DenseNet's, VGG-11/4's and GoogLeNet's
# padded 3x3 layers at the "small" and reproduce sizes; then AlexNet's and NiN's 5x5 layer
# (96 -> 256) at 96 and 67 px, forward and as its input gradient (256 -> 96), and
# GoogLeNet's 5x5 branch (16 -> 32 at 8x8, 32 px).
shapes="64 16 64 3
64 8 64 3
128 8 128 3
128 8 32 3
256 4 256 3
192 4 32 3
96 8 128 3
32 16 64 3
96 10 256 5
256 10 96 5
96 7 256 5
256 7 96 5
16 8 32 5"
for round in $(seq "${1:-1}"); do
  echo "$shapes" | while read -r shape; do
    # shellcheck disable=SC2086
    "$work/bench" $shape
  done
done
