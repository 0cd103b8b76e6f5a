#!/bin/sh
# The direct convolution kernel alone, one core, on the small-plane shapes of the chapter's
# networks (scripts/direct-conv-bench.c): best of 30 runs per shape. With a git revision,
# builds that revision's kernel too and alternates the two, three times, for a before/after
# comparison that the host's noise in whole training steps would hide (the revision's
# include/direct_convolution.h must declare the same functions as this one's).
#
# Usage: scripts/direct-conv-bench.sh [REVISION]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cc=${CC:-$(command -v clang || command -v cc)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build() {  # build NAME SOURCE_DIR
  "$cc" -O3 -I"$2/include" "$root/scripts/direct-conv-bench.c" "$2/direct_convolution.c" \
    -o "$work/$1"
}
build current "$root/Sources/CDirectConvolution"
binaries=current
if [ $# -ge 1 ]; then
  mkdir -p "$work/before-src/include"
  git -C "$root" show "$1:Sources/CDirectConvolution/direct_convolution.c" > "$work/before-src/direct_convolution.c"
  git -C "$root" show "$1:Sources/CDirectConvolution/include/direct_convolution.h" \
    > "$work/before-src/include/direct_convolution.h"
  # Revisions from 2026-12-07's Session 24 on share channel_blocks.h with the Winograd kernel.
  git -C "$root" show "$1:Sources/CDirectConvolution/channel_blocks.h" \
    > "$work/before-src/channel_blocks.h" 2>/dev/null || true
  build before "$work/before-src"
  binaries="before current"
fi
# channels size out_channels kernel stride pad: DenseNet's, ResNet-18's, GoogLeNet's and
# NiN's small planes at the reproduce and "small" sizes.
shapes="128 8 32 3 1 1
192 4 32 3 1 1
64 16 64 3 1 1
128 8 128 3 1 1
256 4 256 3 1 1
256 3 384 3 1 1
96 7 256 5 1 2
64 8 128 3 2 1
128 4 256 3 2 1"
rounds=$([ $# -ge 1 ] && echo 3 || echo 1)
echo "$shapes" | while read -r shape; do
  for round in $(seq "$rounds"); do
    for b in $binaries; do
      printf '%-8s ' "$b"
      # shellcheck disable=SC2086
      "$work/$b" $shape
    done
  done
done
