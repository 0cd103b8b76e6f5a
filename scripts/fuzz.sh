#!/bin/sh
# Coverage-guided fuzzing of the parsers a reader's typing reaches (a chapter .md, its front
# matter, parameter literals, --set arguments) with libFuzzer, for a bounded time:
#
#   sh scripts/fuzz.sh [SECONDS]      (default 45; `make test` runs it)
#
# Builds the `fuzz-parsers` target (Tests/Fuzz/LibFuzzer, declared only with CHAPTER_FUZZ=1)
# in its own scratch folder with -sanitize=fuzzer, turns the committed corpus
# (Tests/Fuzz/corpus/: chapter-*, frontmatter-*, literal-*, set-*) into libFuzzer inputs
# (a first byte picks the parser), and fuzzes from there. New inputs libFuzzer finds go to a
# temporary folder, not into the repository. A broken contract or a trap stops it with the
# input saved as .build-fuzz/crash-*, and this script exits 1; add the input to the corpus
# once the bug is fixed.
set -eu
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-45}
SWIFT=${SWIFT:-$(command -v swift || echo /opt/swift/usr/bin/swift)}

CHAPTER_FUZZ=1 SWIFT="$SWIFT" sh scripts/swift-build.sh -c release --scratch-path .build-fuzz --product fuzz-parsers \
  -Xswiftc -sanitize=fuzzer -Xswiftc -enable-testing -Xswiftc -use-ld=lld

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
for f in Tests/Fuzz/corpus/* Chapters/*.md; do
  name=$(basename "$f")
  case "$name" in
    chapter-*|[0-9]*.md) byte='\000' ;;
    frontmatter-*) byte='\001' ;;
    literal-*) byte='\002' ;;
    set-*) byte='\003' ;;
    *) continue ;;
  esac
  { printf "$byte"; cat "$f"; } > "$work/corpus/$name"
done

echo "fuzzing the parsers for $SECONDS_TO_RUN s from $(ls "$work/corpus" | wc -l) seeds"
# Swift's own crash reporter would take the trap first, and libFuzzer would not save the input.
SWIFT_BACKTRACE=enable=no .build-fuzz/release/fuzz-parsers "$work/corpus" \
  -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
  -artifact_prefix=.build-fuzz/ -print_final_stats=1 2>"$work/log" || {
  tail -40 "$work/log"
  echo "fuzz: libFuzzer found a failing input (saved as .build-fuzz/crash-*)" >&2
  exit 1
}
grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|Done)" "$work/log" || true
