import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Captures what a cell writes to standard output, at the file-descriptor level, so that
/// output from C code (OpenBLAS warnings) and from `print` alike lands in the cell's record.
///
/// fd 1 is pointed at an unlinked temporary file for the cell's duration; nothing is left on
/// disk even if the process dies. Only one capture can be active at a time (fd 1 is global).
final class OutputCapture {
  /// The real standard output, while capturing.
  let savedFD: Int32
  /// The temporary file fd 1 points at.
  let fileFD: Int32
  private var finished = false

  init() throws {
    // Whatever stdio buffered so far belongs to whoever printed before the cell.
    fflush(nil)
    var template = Array((NSTemporaryDirectory() + "/chapter-cell-XXXXXX").utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else {
      throw NotebookError("cannot create a temporary file to capture a cell's output")
    }
    template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    let saved = dup(1)
    guard saved >= 0, dup2(fd, 1) >= 0 else {
      close(fd)
      if saved >= 0 { close(saved) }
      throw NotebookError("cannot redirect standard output to capture a cell's output")
    }
    savedFD = saved
    fileFD = fd
  }

  /// Restores fd 1 and returns what was written meanwhile.
  func finish() -> String {
    guard !finished else { return "" }
    finished = true
    fflush(nil)
    _ = dup2(savedFD, 1)
    close(savedFD)
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    var offset: off_t = 0
    while true {
      let n = chunk.withUnsafeMutableBytes { pread(fileFD, $0.baseAddress, $0.count, offset) }
      if n <= 0 { break }
      bytes.append(contentsOf: chunk[0..<n])
      offset += off_t(n)
    }
    close(fileFD)
    return String(decoding: bytes, as: UTF8.self)
  }

  deinit { _ = finish() }

  /// Copies what a cell printed so far (its capture file, `captureFD`) to the real standard
  /// output (`savedFD`), through `buffer`: for a cell that will not end normally (a trap,
  /// `--cell-timeout`). Only pread(2) and write(2), no allocation: safe in a signal handler.
  static func copyCaptured(
    _ captureFD: Int32, to savedFD: Int32, buffer: UnsafeMutableRawPointer, capacity: Int
  ) {
    var offset: off_t = 0
    while true {
      let n = pread(captureFD, buffer, capacity, offset)
      if n <= 0 { break }
      _ = write(savedFD, buffer, n)
      offset += off_t(n)
    }
  }

  /// Writes text to the real standard output (fd 1 must not be redirected at the time).
  static func writeToStandardOutput(_ text: String) {
    fflush(nil)
    var data = Array(text.utf8)
    var start = 0
    while start < data.count {
      let n = data.withUnsafeMutableBytes { write(1, $0.baseAddress! + start, $0.count - start) }
      if n <= 0 { break }
      start += n
    }
  }
}
