import Foundation

/// Float memory owned by a tensor: 64-byte aligned, recycled through a pool so
/// that a training step in its steady state allocates nothing from the system.
final class TensorStorage {
  let pointer: UnsafeMutablePointer<Float>
  let capacity: Int
  /// Floats actually allocated: `capacity` or more (a size class, or a larger kept buffer).
  let allocated: Int

  /// Memory is NOT zeroed: callers that need zeros ask for them. `purpose` names what the
  /// memory is for in the message of an allocation that fails ("a tensor of shape [...]").
  init(capacity: Int, purpose: @autoclosure () -> String = "a workspace") {
    self.capacity = capacity
    (pointer, allocated) = BufferPool.shared.take(capacity, purpose: purpose)
  }

  deinit { BufferPool.shared.give(pointer, allocated, requested: capacity) }
}

/// Keeps freed buffers by size class, because training repeats the same shapes every step.
///
/// Its spare buffers count in the process's resident memory like live ones, so the pool
/// keeps the sum of the two from growing much past the most the tensors alone ever needed
/// (a slack of 1/16, at least 64 MiB): a request with no buffer of its class takes a kept
/// one up to twice its size, and only when there is none does it allocate, after freeing
/// kept buffers to make room under that bound. Without this, NiN at 224 px held 2.0 GiB
/// for a peak of 1.2 GiB of live tensors: the backward pass frees activations of one set of
/// sizes and asks for gradients and workspaces of others.
final class BufferPool: @unchecked Sendable {
  static let shared = BufferPool()

  init() {
    #if os(Linux)
    // glibc raises its mmap threshold each time it frees an mmapped block, up to 32 MiB;
    // after that, buffers the pool frees land in the heap and stay resident. A fixed
    // threshold keeps large buffers on mmap, so that freeing one returns it to the system.
    _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, Int32(Self.hugePageBytes / 2))
    #endif
  }

  static let hugePageBytes = 2 << 20

  private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
  private var keptBytes = 0
  /// Bytes handed out and not yet given back, and the peaks since `resetPeaks()`: of those
  /// alone (the tensors alive) and of those plus the kept ones (what the pool holds).
  private(set) var inUseBytes = 0
  private(set) var peakInUseBytes = 0
  private(set) var peakHeldBytes = 0
  /// Bytes the tensors alive asked for (without the rounding to size classes).
  private(set) var requestedBytes = 0
  /// Buffers and bytes taken from the system so far (not served from the kept ones).
  private(set) var systemAllocations = 0
  private(set) var systemAllocatedBytes = 0
  private let lock = NSLock()

  /// The size actually allocated for `count` floats: rounded up to a size class (a quarter
  /// step between powers of two, so at most 25% more), so that buffers of nearby sizes,
  /// such as DenseNet's ever wider concatenations, can stand in for one another.
  static func sizeClass(_ count: Int) -> Int {
    let n = max(count, 1)
    if n <= 1024 { return (n + 63) & ~63 }
    let step = (1 << (Int.bitWidth - 1 - n.leadingZeroBitCount)) / 4
    return (n + step - 1) / step * step
  }

  /// A buffer of at least `count` floats, and how many it has.
  func take(
    _ count: Int, purpose: () -> String = { "a buffer" }
  ) -> (UnsafeMutablePointer<Float>, Int) {
    let n = Self.sizeClass(count)
    lock.lock()
    requestedBytes += count * 4
    if let (p, size) = popKept(atLeast: n) {
      noteTaken(size)
      lock.unlock()
      return (p, size)
    }
    // Room under the peak for a fresh buffer, from the largest kept ones down. The slack
    // stops two buffers from evicting each other every step (LeNet's two workspaces did, and
    // each fresh one cost its page faults).
    let bound = max(peakInUseBytes, inUseBytes + n * 4) + Self.slackBytes(peakInUseBytes)
    var evicted: [UnsafeMutablePointer<Float>] = []
    while inUseBytes + keptBytes + n * 4 > bound,
      let largest = free.lazy.filter({ !$0.value.isEmpty }).map(\.key).max() {
      evicted.append(free[largest]!.removeLast())
      keptBytes -= largest * 4
    }
    noteTaken(n)
    systemAllocations += 1
    systemAllocatedBytes += n * 4
    lock.unlock()
    for p in evicted { Foundation.free(p) }
    return (Self.allocate(n, purpose: purpose), n)
  }

  /// Keeps every buffer given back: that moves bytes from in use to kept, so what the pool
  /// holds does not grow (only `take` allocates, and it evicts to stay under its bound). An
  /// earlier cap of 1 GiB on the kept bytes made DenseNet at batch 256, whose backward pass
  /// frees 1.4 GiB of activations, take 2.2 GiB fresh from the system on every step; without
  /// it, 0.95 GiB (sizes that do not fit together under the bound).
  func give(_ p: UnsafeMutablePointer<Float>, _ size: Int, requested: Int) {
    lock.lock()
    inUseBytes -= size * 4
    requestedBytes -= requested * 4
    free[size, default: []].append(p)
    keptBytes += size * 4
    lock.unlock()
  }

  /// What the pool may hold beyond the live peak: 1/16 of it, and at least 64 MiB.
  static func slackBytes(_ peak: Int) -> Int { max(peak / 16, 64 << 20) }

  /// A kept buffer of class `n`, else the smallest kept one below `2n`. Lock held.
  /// Emptied lists stay in `free`, so that the steady state's take/give pairs do not
  /// allocate arrays.
  private func popKept(atLeast n: Int) -> (UnsafeMutablePointer<Float>, Int)? {
    var size = n
    if free[n]?.isEmpty ?? true {
      guard let larger = free.lazy.filter({ $0.key > n && $0.key < 2 * n && !$0.value.isEmpty })
        .map(\.key).min()
      else { return nil }
      size = larger
    }
    let p = free[size]!.removeLast()
    keptBytes -= size * 4
    return (p, size)
  }

  /// Counts `floats` as handed out. Lock held.
  private func noteTaken(_ floats: Int) {
    inUseBytes += floats * 4
    peakInUseBytes = max(peakInUseBytes, inUseBytes)
    peakHeldBytes = max(peakHeldBytes, inUseBytes + keptBytes)
  }

  private static func allocate(_ n: Int, purpose: () -> String) -> UnsafeMutablePointer<Float> {
    var raw: UnsafeMutableRawPointer?
    let (bytes, overflow) = n.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
    require(!overflow, "out of memory: \(purpose()) would need more bytes than a 64-bit size holds")
    // Large buffers on transparent huge pages: a fresh activation of DenseNet's first layers
    // at batch 256 otherwise costs one page fault per 4 KiB, which then outweigh the pass
    // that fills it. The kernel here gives huge pages on request only (madvise).
    let huge = bytes >= hugePageBytes
    let status = posix_memalign(&raw, huge ? hugePageBytes : 64, bytes)
    require(
      status == 0 && raw != nil,
      "out of memory: the system refused \(bytes) bytes (\(String(format: "%.1f", Double(bytes) / 1_073_741_824)) GiB) for \(purpose())")
    #if os(Linux)
    if huge { _ = madvise(raw, bytes, 14 /* MADV_HUGEPAGE */) }
    #endif
    return raw!.bindMemory(to: Float.self, capacity: n)
  }

  func resetPeaks() {
    lock.lock()
    peakInUseBytes = inUseBytes
    peakHeldBytes = inUseBytes + keptBytes
    lock.unlock()
  }

  /// Returns every kept buffer to the system.
  func drain() {
    lock.lock()
    for (_, list) in free { for p in list { Foundation.free(p) } }
    free = [:]
    keptBytes = 0
    lock.unlock()
  }
}

/// The engine's memory as the process sees it.
public enum EngineMemory {
  /// Frees the buffers the pool keeps for reuse and the convolutions' workspace (large ones
  /// go straight back to the system: glibc serves them with mmap). The pool only helps a
  /// network that repeats its shapes; when a section moves on to another network (7.2 prints
  /// the full VGG-11's shapes, then trains a narrow one), what the first one left would
  /// otherwise stay resident.
  public static func releaseCachedBuffers() {
    Scratch.release()
    BufferPool.shared.drain()
  }

  /// Peaks of tensor memory in bytes since `resetPeaks()`: of the tensors alive at once, and
  /// of those plus the buffers the pool kept for reuse (the part of the resident peak that
  /// is ours).
  public static var peakTensorBytes: (alive: Int, withPool: Int) {
    let pool = BufferPool.shared
    return (pool.peakInUseBytes, pool.peakHeldBytes)
  }

  /// Bytes of the tensors alive now, as they asked for them (without the pool's rounding),
  /// leaving out the convolutions' workspace.
  public static var liveTensorBytes: Int {
    BufferPool.shared.requestedBytes - Scratch.held.requestedBytes
  }

  /// Buffers and bytes the pool has taken from the system so far. A training step in its
  /// steady state should add nothing: each fresh buffer costs its page faults.
  public static var systemAllocations: (count: Int, bytes: Int) {
    (BufferPool.shared.systemAllocations, BufferPool.shared.systemAllocatedBytes)
  }

  /// Starts the two peaks of `peakTensorBytes` again from what is alive (and kept) now.
  public static func resetPeaks() { BufferPool.shared.resetPeaks() }
}

#if os(Linux)
/// glibc's `mallopt` (malloc.h, which the Glibc module does not export).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
