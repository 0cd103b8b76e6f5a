#!/bin/sh
# `swift build ARGS…`, run again once if SwiftPM itself dies of a signal.
#
#   SWIFT=/opt/swift/usr/bin/swift sh scripts/swift-build.sh -c release …
#
# Why: on this machine kind, swift-build 6.3.1 now and then crashes in libdispatch's event
# loop (signal 11, "_dispatch_event_loop_drain", with no compiler at fault), which failed a
# CI run. A second try runs the same build from where the first stopped. A compile error
# exits 1 and is not retried: only an exit status above 128 (killed by a signal) is.
set -u
SWIFT=${SWIFT:-$(command -v swift || echo /opt/swift/usr/bin/swift)}
"$SWIFT" build "$@"
status=$?
if [ "$status" -gt 128 ]; then
  echo "swift-build.sh: swift build died of signal $((status - 128)); building again once" >&2
  "$SWIFT" build "$@"
  status=$?
fi
exit "$status"
