import ChapterFormat

/// A bad input that has no single line of a chapter to point at (a usage mistake, an unknown
/// section, an unwritable output folder). Located mistakes are `ChapterError`s. Both mean
/// exit code 2.
public struct NotebookError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { "error: \(message)" }
}

extension NotebookError {
  /// The message of an error that means bad input (exit code 2): a `ChapterError` (located)
  /// or a `NotebookError`; `nil` for any other error.
  public static func inputErrorDescription(_ error: Error) -> String? {
    if let e = error as? ChapterError { return e.description }
    if let e = error as? NotebookError { return e.message }
    return nil
  }
}
