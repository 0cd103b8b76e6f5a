import Foundation

/// Workspace that convolutions unfold their inputs into: one buffer, kept between calls and
/// grown to the largest request.
///
/// Why not a pool tensor per call: a dense block's convolutions each want a workspace of
/// another size, growing with the block. As pool buffers they did not fit together under the
/// pool's bound and evicted one another in a cycle, so every training step took its
/// workspaces fresh from the system and paid their page faults (BENCHMARKS.md, "Why the
/// kernels are shaped as they are"). Held here, one buffer serves them all.
///
/// A call made while another thread holds the workspace (tests run in parallel) gets a
/// buffer of its own for that call.
enum Scratch {
  private static let lock = NSLock()
  // Safe: only touched while holding `lock`.
  nonisolated(unsafe) private static var storage: TensorStorage?

  /// Runs `body` with at least `count` floats of uninitialised memory.
  static func withFloats<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
    guard lock.try() else {
      let own = TensorStorage(capacity: count)
      return withExtendedLifetime(own) { body(own.pointer) }
    }
    defer { lock.unlock() }
    if let held = storage, held.allocated >= count {
      return body(held.pointer)
    }
    storage = nil  // back to the pool first, so that the larger one may reuse its memory
    let grown = TensorStorage(capacity: count)
    storage = grown
    return body(grown.pointer)
  }

  /// What the workspace holds now: its floats, and the bytes it asked the pool for (the
  /// pool's `requestedBytes` counts them). Both 0 when released.
  static var held: (floats: Int, requestedBytes: Int) {
    lock.lock()
    defer { lock.unlock() }
    return (storage?.allocated ?? 0, (storage?.capacity ?? 0) * MemoryLayout<Float>.stride)
  }

  /// Gives the workspace back to the pool.
  static func release() {
    lock.lock()
    storage = nil
    lock.unlock()
  }
}
