import Foundation

/// Float memory owned by a tensor: 64-byte aligned, recycled through a pool so
/// that a training step in its steady state allocates nothing from the system.
final class TensorStorage {
  let pointer: UnsafeMutablePointer<Float>
  let capacity: Int

  /// Memory is NOT zeroed: callers that need zeros ask for them.
  init(capacity: Int) {
    self.capacity = capacity
    pointer = BufferPool.shared.take(capacity)
  }

  deinit { BufferPool.shared.give(pointer, capacity) }
}

/// Keeps freed buffers by exact size, because training repeats the same shapes
/// every step. Bounded, so that memory from an earlier network is released.
final class BufferPool: @unchecked Sendable {
  static let shared = BufferPool()

  static let hugePageBytes = 2 << 20

  /// Bytes kept at most in the pool (not in use).
  var limitBytes = 1 << 30
  private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
  private var keptBytes = 0
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

  func take(_ count: Int) -> UnsafeMutablePointer<Float> {
    let n = Self.sizeClass(count)
    lock.lock()
    if var list = free[n], let p = list.popLast() {
      free[n] = list
      keptBytes -= n * 4
      lock.unlock()
      return p
    }
    lock.unlock()
    var raw: UnsafeMutableRawPointer?
    let bytes = n * MemoryLayout<Float>.stride
    // Large buffers on transparent huge pages: a fresh 150 MB activation (DenseNet's first
    // layers at batch 256) otherwise costs ~37,000 page faults, which made a ReLU pass take
    // 110 ms instead of ~10. The kernel here gives huge pages on request only (madvise).
    let huge = bytes >= Self.hugePageBytes
    let status = posix_memalign(&raw, huge ? Self.hugePageBytes : 64, bytes)
    require(status == 0 && raw != nil, "out of memory allocating \(bytes) bytes")
    #if os(Linux)
    if huge { _ = madvise(raw, bytes, 14 /* MADV_HUGEPAGE */) }
    #endif
    return raw!.bindMemory(to: Float.self, capacity: n)
  }

  func give(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
    let n = Self.sizeClass(count)
    lock.lock()
    if keptBytes + n * 4 <= limitBytes {
      free[n, default: []].append(p)
      keptBytes += n * 4
      lock.unlock()
      return
    }
    lock.unlock()
    Foundation.free(p)
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
  /// Frees the buffers the pool keeps for reuse (large ones go straight back to the
  /// system: glibc serves them with mmap). The pool only helps a network that repeats its shapes; when a section moves on
  /// to another network (7.2 prints the full VGG-11's shapes, then trains a narrow one), what
  /// the first one left would otherwise stay resident.
  public static func releaseCachedBuffers() {
    BufferPool.shared.drain()
  }
}
