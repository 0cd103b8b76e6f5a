import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The state of a folder's `.md` files that a save changes: each file's size and
/// modification time, to the nanosecond.
///
/// Polled, not watched with inotify: a handful of files, read four times a second, cost
/// nothing, and polling sees every way an editor saves (in place, or a new file renamed
/// over the old one) the same way, on Linux and macOS alike.
public struct ChapterSnapshot: Equatable, Sendable {
  struct Stamp: Equatable, Sendable {
    var size: Int64
    var seconds: Int
    var nanoseconds: Int
  }

  var files: [String: Stamp]

  /// The `.md` files directly in `folder` (an unreadable folder reads as empty).
  public init(folder: String) {
    var files: [String: Stamp] = [:]
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
    for name in names where name.hasSuffix(".md") && !name.hasPrefix(".") {
      var info = stat()
      guard stat(folder + "/" + name, &info) == 0 else { continue }
      #if canImport(Darwin)
        let time = info.st_mtimespec
      #else
        let time = info.st_mtim
      #endif
      files[name] = Stamp(
        size: Int64(info.st_size), seconds: Int(time.tv_sec), nanoseconds: Int(time.tv_nsec))
    }
    self.files = files
  }

  /// The names of the files that differ between `self` and `newer` (added, removed or
  /// changed), sorted.
  public func changedFiles(in newer: ChapterSnapshot) -> [String] {
    let names = Set(files.keys).union(newer.files.keys)
    return names.filter { files[$0] != newer.files[$0] }.sorted()
  }
}
