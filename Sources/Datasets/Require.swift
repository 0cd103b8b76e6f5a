/// Stops the program with `message` when `condition` is false. This module is
/// compiled with `-Ounchecked`, which removes `precondition` checks.
@inline(__always)
func require(
  _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
  file: StaticString = #fileID, line: UInt = #line
) {
  if !condition() { fatalError(message(), file: file, line: line) }
}
