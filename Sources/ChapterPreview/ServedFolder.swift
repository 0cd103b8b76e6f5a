import Common
import Foundation
import PreviewSetup

/// The one folder the preview serves files from (the reports' output folder), and the
/// check that a request names a file inside it.
///
/// The request's path is taken as the client sent it, still percent-encoded, and split on
/// `/` before decoding, so that `%2F` cannot smuggle a separator into a segment. A segment
/// that decodes to nothing, to `.` or `..`, to a name starting with `.` (the training cache
/// and checkpoints live in `.cache`), or to one holding a NUL or a backslash, is refused.
/// What is left is resolved with `realpath(3)`, which follows symbolic links, and must
/// still lie inside the folder's own real path and be a regular file: a link that points
/// out of the folder is refused like `..` is.
public struct ServedFolder: Sendable {
  /// The folder's real path (symbolic links resolved), without a trailing `/`.
  public let root: String

  /// The folder at `path`, created when missing.
  /// - Throws: `PreviewError` when it cannot be created or resolved.
  public init(path: String) throws {
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    guard let real = resolvedPath(path) else {
      throw PreviewError("cannot open the output folder \(path)")
    }
    root = real
  }

  /// The real path of the file that `encodedPath` (relative to the folder, percent-encoded,
  /// as in `report/<encodedPath>`) names, or nil when it names nothing servable.
  public func file(forEncodedPath encodedPath: String) -> String? {
    var names: [String] = []
    for raw in encodedPath.split(separator: "/", omittingEmptySubsequences: false) {
      guard let name = String(raw).removingPercentEncoding, Self.isPlainName(name) else {
        return nil
      }
      names.append(name)
    }
    guard !names.isEmpty, let real = resolvedPath(root + "/" + names.joined(separator: "/"))
    else { return nil }
    guard real.hasPrefix(root + "/") else { return nil }
    var info = stat()
    guard stat(real, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
    return real
  }

  static func isPlainName(_ name: String) -> Bool {
    !name.isEmpty && !name.hasPrefix(".") && !name.contains("\0") && !name.contains("\\")
      && !name.contains("/")
  }
}
