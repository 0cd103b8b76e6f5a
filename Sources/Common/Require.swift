/// Stops the program with `message` when `condition` is false.
///
/// The engine and the data loaders are compiled with `-Ounchecked`, which removes
/// `precondition` entirely: a shape mismatch would then read or write out of bounds. Checks a
/// user can trigger (shapes, sizes, arguments) use this instead; the crash reporter names the
/// cell and `.md` line it happened in. Inlinable, so that the check costs what an inline
/// comparison costs in the modules that call it.
@inlinable @inline(__always)
public func require(
  _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
  file: StaticString = #fileID, line: UInt = #line
) {
  if !condition() { fatalError(message(), file: file, line: line) }
}
