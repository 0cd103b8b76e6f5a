import Foundation

/// Runs the built `chapter` executable (it sits beside the test bundle in the
/// build folder) and collects its exit code and output.
struct CLIResult {
  var exitCode: Int32
  var stdout: String
  var stderr: String
  /// The signal that killed the process, if one did (`exitCode` is then that signal's
  /// number, as Foundation reports it).
  var signal: Int32? = nil
}

enum CLI {
  static var executable: URL {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
      .appendingPathComponent("chapter")
  }

  /// The package root, for chapters and for running from the project folder.
  static var packageRoot: URL {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url
  }

  static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> CLIResult {
    let process = makeProcess(arguments, environment: environment)
    let out = Pipe()
    let err = try CaptureFile("stderr")
    defer { err.remove() }
    process.standardOutput = out
    process.standardError = err.handle
    try process.run()
    try err.handle.close()
    // Standard error goes to a file, so that reading standard output to its
    // end cannot deadlock on a full stderr pipe.
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return result(of: process, stdout: outData, stderr: err.contents())
  }

  /// The `chapter` binary, to be started from the package root with `arguments`, and the
  /// environment plus `environment`.
  static func makeProcess(_ arguments: [String], environment: [String: String] = [:]) -> Process {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.currentDirectoryURL = packageRoot
    if !environment.isEmpty {
      var env = ProcessInfo.processInfo.environment
      for (k, v) in environment { env[k] = v }
      process.environment = env
    }
    return process
  }

  /// What a finished process printed and how it ended.
  static func result(of process: Process, stdout: Data, stderr: Data) -> CLIResult {
    CLIResult(
      exitCode: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
      stderr: String(decoding: stderr, as: UTF8.self),
      signal: process.terminationReason == .uncaughtSignal ? process.terminationStatus : nil)
  }

  static func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("chapter-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }
}

/// A temporary file that one of the child's streams is written to.
struct CaptureFile {
  let url: URL
  let handle: FileHandle

  init(_ stream: String) throws {
    url = FileManager.default.temporaryDirectory
      .appendingPathComponent("chapter-\(stream)-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: url.path, contents: nil)
    handle = try FileHandle(forWritingTo: url)
  }

  func contents() -> Data { (try? Data(contentsOf: url)) ?? Data() }

  func remove() { try? FileManager.default.removeItem(at: url) }
}
