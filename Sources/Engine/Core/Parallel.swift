import COpenBLAS
import Foundation

/// How many cores the engine uses. All parallelism is ours: OpenBLAS is
/// kept to one thread per call and large GEMMs are split across our threads
/// (`gemm`), so OpenBLAS's idle threads never spin against our loops and the
/// cores are never oversubscribed.
public enum ComputeThreads {
  nonisolated(unsafe) public private(set) static var count = 1

  /// Sets the thread count for the engine's loops and GEMM splitting.
  public static func set(_ n: Int) {
    count = max(1, n)
    openblas_set_num_threads(1)
  }
}

/// Splits `0..<total` into one contiguous range per thread and runs `body` on
/// each. Runs inline when the work is small (`total < minPerThread * 2`), as
/// waking a thread costs a few microseconds.
@inline(__always)
func parallelRanges(_ total: Int, minPerThread: Int = 1, _ body: (Range<Int>) -> Void) {
  let threads = min(ComputeThreads.count, total / max(minPerThread, 1))
  if threads <= 1 {
    if total > 0 { body(0..<total) }
    return
  }
  withoutActuallyEscaping(body) { body in
    nonisolated(unsafe) let run = body
    DispatchQueue.concurrentPerform(iterations: threads) { t in
      let lo = total * t / threads
      let hi = total * (t + 1) / threads
      if lo < hi { run(lo..<hi) }
    }
  }
}
