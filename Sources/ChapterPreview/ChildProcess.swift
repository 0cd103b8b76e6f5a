import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A program the preview starts (`swift build`, then the new binary's `chapter run`) and
/// waits for, stopping it when the preview says so.
///
/// Its output goes to files, not pipes: a build's log can be long, and a pipe nobody reads
/// while waiting would block the build. Stopping is SIGTERM, which `chapter run` takes like
/// Ctrl-C (it ends after the current batch, its reports untouched) and `swift build` by
/// stopping its compilers; a program still there ten seconds later gets SIGKILL.
struct ChildProcess {
  struct Outcome {
    var status: Int32
    /// Whether it was stopped by `shouldStop` rather than ending by itself.
    var stopped: Bool
  }

  var arguments: [String]
  var directory: String
  var stdoutPath: String
  var stderrPath: String

  /// Runs the program to its end, calling `poll` about twenty times a second meanwhile
  /// and once after it ended, and stopping it as soon as `shouldStop` returns true.
  /// - Throws: when the program cannot be started.
  func run(shouldStop: () -> Bool, poll: () -> Void = {}) throws -> Outcome {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: arguments[0])
    process.arguments = Array(arguments.dropFirst())
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
    if stderrPath != stdoutPath {
      _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
    }
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
    let err = stderrPath == stdoutPath ? out : try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
    defer {
      try? out.close()
      if stderrPath != stdoutPath { try? err.close() }
    }
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    var stopRequestedAt: Double?
    var killed = false
    while process.isRunning {
      if stopRequestedAt == nil, shouldStop() {
        stopRequestedAt = Self.now()
        process.terminate()
      } else if let since = stopRequestedAt, !killed, Self.now() - since > 10 {
        kill(process.processIdentifier, SIGKILL)
        killed = true
      }
      poll()
      usleep(50_000)
    }
    process.waitUntilExit()
    poll()
    return Outcome(status: process.terminationStatus, stopped: stopRequestedAt != nil)
  }

  static func now() -> Double { Date().timeIntervalSince1970 }
}

/// Reads the lines a running program appends to a file, as they arrive: only whole lines
/// (a line still being written waits for its newline).
struct LineTail {
  private let handle: FileHandle
  private var pending = Data()

  /// Follows `path` from its start.
  init(path: String) throws {
    handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
  }

  /// The lines completed since the last call.
  mutating func newLines() -> [String] {
    guard let data = try? handle.readToEnd(), !data.isEmpty else { return [] }
    pending.append(data)
    var lines: [String] = []
    while let newline = pending.firstIndex(of: 0x0A) {
      let line = pending[pending.startIndex..<newline]
      if let text = String(data: line, encoding: .utf8), !text.isEmpty { lines.append(text) }
      pending.removeSubrange(pending.startIndex...newline)
    }
    return lines
  }

  func close() { try? handle.close() }
}
