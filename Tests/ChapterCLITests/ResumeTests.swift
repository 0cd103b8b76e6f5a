import Foundation
import Testing

/// Checkpoints, SIGINT and `--resume`, through the real binary: a run interrupted mid-training
/// and resumed ends with the numbers of a run that never stopped.
@Suite(.serialized) struct ResumeTests {
  /// 7.5 at three epochs of 6,000 images: a few seconds per network, long enough to be
  /// interrupted during its first training.
  static let arguments = [
    "run", "7.5", "--profile", "smoke", "--set", "numEpochs=3", "--set", "trainSubset=6000",
    "--threads", "2",
  ]

  /// The training results a run printed: `loss …, train acc …, test acc …` per network.
  static func results(_ stdout: String) -> [String] {
    stdout.split(separator: "\n").map(String.init).filter { $0.hasPrefix("loss ") }
  }

  @Test func interruptedRunResumesToTheSameNumbers() throws {
    let straight = try CLI.temporaryDirectory()
    let stopped = try CLI.temporaryDirectory()
    defer {
      try? FileManager.default.removeItem(at: straight)
      try? FileManager.default.removeItem(at: stopped)
    }
    let reference = try CLI.run(Self.arguments + ["--output", straight.path])
    #expect(reference.exitCode == 0, "\(reference.stderr)")
    let expected = Self.results(reference.stdout)
    #expect(expected.count == 2)

    // A report from an earlier run, which the interruption must leave as it is.
    let report = stopped.appendingPathComponent("7.5-batch-norm.html")
    try Data("earlier report".utf8).write(to: report)

    // Interrupt once the first epoch of the first network is done.
    let interrupted = try CLI.runInterrupting(
      Self.arguments + ["--output", stopped.path], when: { $0.contains("epoch 1/3:") })
    #expect(interrupted.exitCode == 1, "\(interrupted.stderr)")
    #expect(interrupted.stderr.contains("interrupted by SIGINT"), "\(interrupted.stderr)")
    #expect(interrupted.stderr.contains("--resume"), "\(interrupted.stderr)")
    #expect(try String(contentsOf: report, encoding: .utf8) == "earlier report")
    let folder = stopped.appendingPathComponent(".cache/checkpoints/7.5-batch-norm").path
    let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
    #expect(!files.isEmpty && files.allSatisfy { $0.hasSuffix(".safetensors") }, "\(files)")
    #expect(Self.results(interrupted.stdout).count < 2)

    let resumed = try CLI.run(Self.arguments + ["--output", stopped.path, "--resume"])
    #expect(resumed.exitCode == 0, "\(resumed.stderr)")
    #expect(resumed.stderr.contains("resuming from"), "\(resumed.stderr)")
    #expect(Self.results(resumed.stdout) == expected)
    // The same curves too, the points drawn before the interruption included.
    for name in try FileManager.default.contentsOfDirectory(atPath: straight.path)
    where name.hasSuffix(".svg") {
      let a = try String(contentsOf: straight.appendingPathComponent(name), encoding: .utf8)
      let b = try? String(contentsOf: stopped.appendingPathComponent(name), encoding: .utf8)
      #expect(a == b, "\(name) differs after resuming")
    }
    #expect(try String(contentsOf: report, encoding: .utf8) != "earlier report")
    // A run that completed leaves nothing to resume.
    #expect(((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).isEmpty)
  }

  /// SIGTERM stops a run as SIGINT does; a checkpoint of other parameters is not used (its
  /// name is keyed by them).
  @Test func terminatedRunAndResumeWithOtherParameters() throws {
    let output = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: output) }
    let args = ["run", "7.5", "--profile", "smoke", "--output", output.path]
    let first = try CLI.runInterrupting(
      args + ["--set", "numEpochs=3", "--set", "trainSubset=6000"], signal: SIGTERM,
      when: { $0.contains("epoch 1/3:") })
    #expect(first.exitCode == 1, "\(first.stderr)")
    #expect(first.stderr.contains("interrupted by SIGTERM"), "\(first.stderr)")
    let other = try CLI.run(args + ["--set", "numEpochs=2", "--resume"])
    #expect(other.exitCode == 0, "\(other.stderr)")
    #expect(other.stderr.contains("no checkpoint to resume from"), "\(other.stderr)")
    #expect(!other.stderr.contains("resuming from"), "\(other.stderr)")
  }
}

extension CLI {
  /// Runs the binary, reads its standard error as it comes, and sends `signal` once
  /// `condition` holds for what it printed so far (a run that ends first is returned as is).
  static func runInterrupting(
    _ arguments: [String], signal: Int32 = SIGINT, when condition: (String) -> Bool
  ) throws -> CLIResult {
    let process = makeProcess(arguments)
    let out = try CaptureFile("stdout")
    defer { out.remove() }
    let err = Pipe()
    process.standardOutput = out.handle
    process.standardError = err
    try process.run()
    try out.handle.close()
    var stderr = Data()
    var sent = false
    while true {
      let chunk = err.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      stderr.append(chunk)
      if !sent && condition(String(decoding: stderr, as: UTF8.self)) {
        kill(process.processIdentifier, signal)
        sent = true
      }
    }
    process.waitUntilExit()
    return result(of: process, stdout: out.contents(), stderr: stderr)
  }
}
