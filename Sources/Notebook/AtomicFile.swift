import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Writes files so that a reader sees the old file or the new one, never half of one: the
/// bytes go to a temporary file in the same folder, which is then renamed over the target
/// (rename(2) is atomic within a file system). An interrupted run leaves reports intact.
public enum AtomicFile {
  public static func write(_ text: String, to path: String) throws {
    try write(Array(text.utf8), to: path)
  }

  public static func write(_ bytes: [UInt8], to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let folder = url.deletingLastPathComponent().path
    let temp = folder + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(nextSerial())"
    let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw NotebookError("cannot write \(path): \(String(cString: strerror(errno)))")
    }
    var ok = true
    var written = 0
    bytes.withUnsafeBytes { buffer in
      while written < buffer.count {
        let n = Glibc.write(fd, buffer.baseAddress! + written, buffer.count - written)
        if n < 0 {
          if errno == EINTR { continue }
          ok = false
          return
        }
        written += n
      }
    }
    let error = errno
    if ok { ok = fsync(fd) == 0 || errno == EINVAL }
    close(fd)
    guard ok, rename(temp, path) == 0 else {
      let reason = String(cString: strerror(ok ? errno : error))
      unlink(temp)
      throw NotebookError("cannot write \(path): \(reason)")
    }
  }

  /// Creates `folder` if needed and checks that files can be created in it, so that an
  /// unwritable output folder is found before a long run rather than after.
  public static func prepareFolder(_ folder: String) throws {
    do {
      try FileManager.default.createDirectory(
        atPath: folder, withIntermediateDirectories: true)
    } catch {
      throw NotebookError("cannot create the output folder \(folder): \(error.localizedDescription)")
    }
    let probe = folder + "/.chapter-write-test-\(getpid())-\(nextSerial())"
    let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw NotebookError(
        "the output folder \(folder) is not writable: \(String(cString: strerror(errno)))")
    }
    close(fd)
    unlink(probe)
  }

  // Safe: only read and written under `lock`.
  nonisolated(unsafe) private static var serial = 0
  private static let lock = NSLock()
  private static func nextSerial() -> Int {
    lock.lock()
    defer { lock.unlock() }
    serial += 1
    return serial
  }
}
