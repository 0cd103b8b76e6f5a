import Foundation

/// Seconds from a monotonic clock (not the wall clock, which can jump): for timing kernels,
/// epochs and runs.
public func monotonicSeconds() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
