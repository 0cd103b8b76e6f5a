import COpenBLAS
import CWorkerPool
import Foundation

/// How many cores the engine uses. All parallelism is ours: OpenBLAS is
/// kept to one thread per call and large GEMMs are split across our threads
/// (`gemm`), so OpenBLAS's idle threads never spin against our loops and the
/// cores are never oversubscribed.
public enum ComputeThreads {
  // Safe: set between runs (`prepareEngine`, tests' setup), only read while kernels run.
  nonisolated(unsafe) public private(set) static var count = 1

  /// Sets the thread count for the engine's loops and GEMM splitting.
  public static func set(_ n: Int) {
    count = max(1, n)
    openblas_set_num_threads(1)
    stopOpenBLASThreads()
  }

  /// Ends the worker threads OpenBLAS started when it was loaded; the engine never hands
  /// them work (OpenBLAS runs at one thread per call). Its load-time constructor starts one
  /// per core but the first, and each spins in `sched_yield` for a while before it sleeps:
  /// the whole of a short run such as a cached re-run, against the run's own threads on a
  /// 2-core machine. Calling it again does nothing. Looked up by name, so that an OpenBLAS
  /// built without its thread server (the serial or OpenMP variants) is left alone.
  public static func stopOpenBLASThreads() {
    #if os(Linux)
      // RTLD_DEFAULT: search every object the program loaded.
      guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "blas_thread_shutdown_")
      else { return }
      typealias Shutdown = @convention(c) () -> Int32
      _ = unsafeBitCast(symbol, to: Shutdown.self)()
    #endif
  }
}

/// Whether the current thread is running a part of a parallel region: nested calls (and
/// `gemm`) then stay on their thread instead of oversubscribing the cores.
///
/// Thread-local, because that is what it means: a region that one thread runs says nothing
/// about calls made on another (two tests, or a bench and its progress bar, each running
/// their own loops), and a process-wide flag made those run on one core.
enum ParallelRegion {
  private static let key: pthread_key_t = {
    var key = pthread_key_t()
    precondition(pthread_key_create(&key, nil) == 0, "no thread-local key left")
    return key
  }()

  static var isCurrentThreadInside: Bool { pthread_getspecific(key) != nil }

  /// Runs `body` with the current thread marked as inside a region.
  @inline(__always)
  static func inside<R>(_ body: () -> R) -> R {
    let outer = pthread_getspecific(key)
    pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
    defer { pthread_setspecific(key, outer) }
    return body()
  }
}

/// Splits `0..<total` into one contiguous range per thread and runs `body` on
/// each. Runs inline when the work is small (fewer than `minPerThread * 2`
/// items) or when called from inside another parallel region. Ranges depend
/// only on `total` and the thread count, so results are reproducible.
@inline(__always)
func parallelRanges(_ total: Int, minPerThread: Int = 1, _ body: (Range<Int>) -> Void) {
  let parts = min(ComputeThreads.count, total / max(minPerThread, 1))
  parallelParts(total, parts: parts) { _, range in body(range) }
}

/// Like `parallelRanges`, also passing the 0-based index of the range, for
/// per-thread scratch buffers and accumulators. Calls `body` at most
/// `parts` times.
@inline(__always)
func parallelParts(_ total: Int, parts: Int, _ body: (Int, Range<Int>) -> Void) {
  let threads = ParallelRegion.isCurrentThreadInside ? 1 : min(parts, total)
  // One part, or nested inside another region: run here.
  if threads <= 1 {
    if total > 0 { body(0, 0..<total) }
    return
  }
  withoutActuallyEscaping(body) { body in
    // Each part runs once, on one thread, and the parts touch disjoint ranges: `body` is
    // called concurrently but never on the same data.
    nonisolated(unsafe) var job = PartJob(run: body, total: total, threads: threads)
    let ran = withUnsafeMutablePointer(to: &job) { job in
      worker_pool_run(Int32(ComputeThreads.count - 1), threads, runPart, job)
    }
    if ran != 0 { return }
    // Another thread's region holds the pool (two tests at once, a bench and its progress
    // bar): libdispatch's threads run this one.
    let run = job
    DispatchQueue.concurrentPerform(iterations: threads) { t in run.runPart(t) }
  }
}

/// A region's parts as `worker_pool_run` sees them: part `t` of `threads` is the t-th
/// contiguous slice of `0..<total`.
private struct PartJob {
  let run: (Int, Range<Int>) -> Void
  let total: Int, threads: Int

  func runPart(_ t: Int) {
    let lo = total * t / threads
    let hi = total * (t + 1) / threads
    if lo < hi { ParallelRegion.inside { run(t, lo..<hi) } }
  }
}

/// `worker_pool_run`'s task: the context is the `PartJob`, alive until the region ends.
private let runPart: worker_pool_task = { context, part in
  context!.assumingMemoryBound(to: PartJob.self).pointee.runPart(part)
}
