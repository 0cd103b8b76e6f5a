import COpenBLAS
import Foundation

/// Row-major single-precision matrix product through OpenBLAS:
/// `C = alpha * op(A) * op(B) + beta * C`, with op(A) of shape m×k and op(B) k×n.
///
/// OpenBLAS runs single-threaded (see `ComputeThreads.set`); large products
/// are split here into one block of C per thread. OpenBLAS's own threads
/// spin in `sched_yield` between calls, which on two cores starved our
/// element-wise loops (a quarter of all cycles in a LeNet profile).
func gemm(
  transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
  alpha: Float = 1, _ a: UnsafePointer<Float>, lda: Int,
  _ b: UnsafePointer<Float>, ldb: Int,
  beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int
) {
  if m == 0 || n == 0 { return }
  let threads = ComputeThreads.count
  // Below ~1 M multiply-adds a second thread costs more than it brings.
  let splitColumns = n >= m
  let extent = splitColumns ? n : m
  let parts = ParallelRegion.isCurrentThreadInside || m * n * k < (1 << 20) ? 1 : min(threads, extent / 16)
  if parts <= 1 {
    sgemmCall(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    return
  }
  let pointers = (a, b, c)
  parallelParts(parts, parts: parts) { t, _ in
    let (a, b, c) = pointers
    // Block boundaries on multiples of 16 keep each block's stores aligned.
    let lo = (extent * t / parts) & ~15
    let hi = t == parts - 1 ? extent : (extent * (t + 1) / parts) & ~15
    if hi <= lo { return }
    if splitColumns {
      let bBlock = transB ? b + lo * ldb : b + lo
      sgemmCall(transA, transB, m, hi - lo, k, alpha, a, lda, bBlock, ldb, beta, c + lo, ldc)
    } else {
      let aBlock = transA ? a + lo : a + lo * lda
      sgemmCall(transA, transB, hi - lo, n, k, alpha, aBlock, lda, b, ldb, beta, c + lo * ldc, ldc)
    }
  }
}

@inline(__always)
private func sgemmCall(
  _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
  _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
  _ c: UnsafeMutablePointer<Float>, _ ldc: Int
) {
  GEMMClock.timing { cblasCall(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) }
}

@inline(__always)
private func cblasCall(
  _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
  _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
  _ c: UnsafeMutablePointer<Float>, _ ldc: Int
) {
  cblas_sgemm(
    CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c,
    blasint(ldc))
}

/// The time threads spend inside the products, summed over the threads, while it runs:
/// OpenBLAS's matrix products and the direct and Winograd convolution kernels
/// (`ChannelVectorConvolution`, `WinogradConvolution`). `chapter bench` reads it to say how
/// much of a step is the arithmetic itself (with OpenBLAS's packing) and how much everything
/// around it.
public enum GEMMClock {
  // Safe: `chapter bench` starts and stops it between steps, on its own thread, while no
  // kernel runs; the products only read it. Their sums go through `lock`.
  nonisolated(unsafe) static var isRunning = false
  nonisolated(unsafe) private static var seconds = 0.0
  private static let lock = NSLock()

  /// Clears the sum and starts counting.
  public static func start() {
    seconds = 0
    isRunning = true
  }

  /// Stops counting; returns the thread-seconds spent in products since `start`.
  public static func stop() -> Double {
    isRunning = false
    return lock.withLock { seconds }
  }

  static func add(_ s: Double) {
    lock.withLock { seconds += s }
  }

  /// Runs `body` (one product), adding its time to the sum while the clock runs.
  @inline(__always)
  static func timing<R>(_ body: () -> R) -> R {
    guard isRunning else { return body() }
    let start = monotonicSeconds()
    defer { add(monotonicSeconds() - start) }
    return body()
  }
}
