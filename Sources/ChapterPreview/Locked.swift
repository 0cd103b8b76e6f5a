import Foundation

/// A value that one task or thread writes and another reads, behind a lock: the server's
/// port and start-up failure, a task's result handed to the thread that waits for it.
final class Locked<Value>: @unchecked Sendable {
  // Safe: `value` is only touched with `lock` held.
  private let lock = NSLock()
  private var value: Value

  init(_ value: Value) { self.value = value }

  func set(_ newValue: Value) { lock.withLock { value = newValue } }
  func get() -> Value { lock.withLock { value } }
}
