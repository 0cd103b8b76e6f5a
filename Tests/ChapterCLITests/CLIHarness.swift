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

  static func run(
    _ arguments: [String], environment: [String: String] = [:], executable: URL = CLI.executable,
    in folder: URL = CLI.packageRoot
  ) throws -> CLIResult {
    let process = makeProcess(arguments, environment: environment)
    process.executableURL = executable
    process.currentDirectoryURL = folder
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

  /// A copy of the package (its tracked files) in `folder`, with `edit` applied to the
  /// chapter file `chapter`, and its `chapter` built there in debug mode: an edited chapter
  /// means a rebuilt binary, the chapters being compiled in. Returns the binary.
  static func buildEditedCopy(
    in folder: URL, chapter: String, edit: (String) -> String
  ) throws -> URL {
    try buildCopy(in: folder) { copy in
      let file = copy.appendingPathComponent("Chapters/" + chapter)
      let original = try String(contentsOf: file, encoding: .utf8)
      let edited = edit(original)
      guard edited != original else { throw HarnessError(message: "the edit changed nothing in \(chapter)") }
      try edited.write(to: file, atomically: true, encoding: .utf8)
    }
  }

  /// A copy of the package's tracked files in `folder/package`, changed by `prepare`, and
  /// its `chapter` built in debug mode in `folder/scratch`. The build resolves nothing: it
  /// reuses this test build's resolved dependencies. Returns the binary.
  static func buildCopy(in folder: URL, prepare: (URL) throws -> Void = { _ in }) throws -> URL {
    let fm = FileManager.default
    let copy = folder.appendingPathComponent("package")
    let env = URL(fileURLWithPath: "/usr/bin/env")
    let listing = try run(["git", "-C", packageRoot.path, "ls-files", "-z"], executable: env)
    guard listing.exitCode == 0 else { throw HarnessError(message: "git ls-files: \(listing.stderr)") }
    // Package.resolved is not tracked; the test build wrote it.
    for path in listing.stdout.split(separator: "\0").map(String.init) + ["Package.resolved"] {
      let target = copy.appendingPathComponent(path)
      try fm.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
      try fm.copyItem(at: packageRoot.appendingPathComponent(path), to: target)
    }
    try prepare(copy)
    // This build's checkouts, so that the copy's build fetches nothing.
    let scratch = folder.appendingPathComponent("scratch")
    let testScratch = executable.deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    try fm.createDirectory(at: scratch, withIntermediateDirectories: true)
    for name in ["checkouts", "repositories", "workspace-state.json"] {
      try fm.copyItem(
        at: testScratch.appendingPathComponent(name), to: scratch.appendingPathComponent(name))
    }
    let build = try run(
      [swift, "build", "--product", "chapter", "--scratch-path", scratch.path,
       "--disable-automatic-resolution"], executable: env, in: copy)
    guard build.exitCode == 0 else {
      throw HarnessError(message: "building the copy failed:\n\(build.stdout)\n\(build.stderr)")
    }
    return scratch.appendingPathComponent("debug/chapter")
  }

  /// The toolchain `make test` runs (its SWIFT), else the one on the PATH.
  static var swift: String {
    ProcessInfo.processInfo.environment["SWIFT"].flatMap { $0.isEmpty ? nil : $0 } ?? "swift"
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
