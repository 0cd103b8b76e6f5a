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

  /// Bytes kept at most in the pool (not in use).
  var limitBytes = 1 << 30
  private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
  private var keptBytes = 0
  private let lock = NSLock()

  func take(_ count: Int) -> UnsafeMutablePointer<Float> {
    let n = max(count, 1)
    lock.lock()
    if var list = free[n], let p = list.popLast() {
      free[n] = list
      keptBytes -= n * 4
      lock.unlock()
      return p
    }
    lock.unlock()
    var raw: UnsafeMutableRawPointer?
    let status = posix_memalign(&raw, 64, n * MemoryLayout<Float>.stride)
    require(status == 0 && raw != nil, "out of memory allocating \(n * 4) bytes")
    return raw!.bindMemory(to: Float.self, capacity: n)
  }

  func give(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
    let n = max(count, 1)
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
}
