import Foundation
import Testing

/// A Swift runtime trap inside a cell (an index out of range, a bad range) is a cell that
/// failed: the real `chapter` says which section, which cell and which line of the `.md`
/// (from `CrashReporter`, whose message `beginCell` prepares), and exits with 1 like any
/// failed cell, not with a bare signal and a backtrace.
///
/// The cells are compiled from `Chapters/*.md`, so a test cannot add a trapping cell; it
/// uses an architecture edit that passes the runner's checks but that the engine's shape
/// checks refuse at run time.
@Suite(.serialized) struct CrashReportTests {
  /// The `.md` line of the first code line of `cell` in `Chapters/<slug>.md`.
  static func cellLine(_ cell: String, in slug: String) throws -> (path: String, line: Int) {
    let url = CLI.packageRoot.appendingPathComponent("Chapters/\(slug).md")
    let lines = try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
    let fence = try #require(
      lines.firstIndex { $0 == "```swift cell=\(cell)" || $0.hasPrefix("```swift cell=\(cell) ") })
    return ("Chapters/\(slug).md", fence + 2)
  }

  static func expectCrashReport(
    _ result: CLIResult, section: String, cell: String, slug: String
  ) throws {
    let (path, line) = try cellLine(cell, in: slug)
    #expect(result.signal == nil, "killed by signal \(result.signal ?? 0): \(result.stderr)")
    #expect(result.exitCode == 1, "\(result.stderr)")
    // The notebook's line: section, cell, file and line (a runtime check in optimised cell
    // code traps without a message of its own, so this line may be all there is).
    let report = try #require(
      result.stderr.firstMatch(of: #/chapter: section (\S+) crashed in cell '([^']+)' \((\S+):(\d+)\): (SIG[A-Z]+)/#),
      "\(result.stderr)")
    #expect(report.output.1 == section)
    #expect(report.output.2 == cell)
    #expect(report.output.3.hasSuffix("/" + path), "\(report.output.3)")
    #expect(Int(report.output.4) == line)
    #expect(["SIGILL", "SIGTRAP"].contains(report.output.5))
    #expect(result.stderr.contains("a Swift runtime error"))
    // No backtrace of the runtime's crash handler (CrashReporter's handler replaces it
    // while cells run).
    #expect(!result.stderr.contains("Backtrace"), "\(result.stderr)")
    #expect(!result.stderr.contains("Program crashed"), "\(result.stderr)")
  }

  /// Six VGG blocks halve a 32-pixel image six times: the engine's shape check in the sixth
  /// pooling traps (`require`, a fatal error) while cell `train` runs. Ranges cannot foresee
  /// every edit of an architecture, so this is a cell that fails at run time: exit 1, with
  /// the engine's message and the notebook's place.
  @Test func shapeErrorInACell() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(
      ["run", "7.2", "--profile", "smoke", "--set",
       "convArch=[(1, 8), (1, 8), (1, 8), (1, 8), (1, 8), (1, 8)]", "--output", dir.path])
    try Self.expectCrashReport(result, section: "7.2", cell: "train", slug: "7.2-vgg")
    #expect(result.stderr.contains("maxPool2d: input 1x1 is too small"), "\(result.stderr)")
    // The cells before it ran, and what they printed reached the terminal.
    #expect(result.stdout.contains("output shape"), "\(result.stdout)")
  }

  /// The statement that trapped and the runtime's reason, which optimised code keeps only in
  /// its debug information: the three traps of the fixture section `Tests/TrapProbe/9.1-traps.md`
  /// (run by the `trap-probe` executable, tangled like the chapters), each on its own line.
  @Test(arguments: [
    ("index", "Index out of range"),
    ("nil", "Unexpectedly found nil while unwrapping an Optional value"),
    ("overflow", "arithmetic overflow"),
  ])
  func aTrapNamesItsStatementAndReason(kind: String, reason: String) throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let probe = CLI.executable.deletingLastPathComponent().appendingPathComponent("trap-probe")
    let process = Process()
    process.executableURL = probe
    process.arguments = [dir.path, kind]
    let err = Pipe()
    process.standardError = err
    process.standardOutput = Pipe()
    try process.run()
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationReason == .exit && process.terminationStatus == 1, "\(stderr)")
    let fixture = CLI.packageRoot.appendingPathComponent("Tests/TrapProbe/9.1-traps.md")
    let lines = try String(contentsOf: fixture, encoding: .utf8).components(separatedBy: "\n")
    let line = try #require(lines.firstIndex { $0.hasPrefix("case \"\(kind)\":") }) + 1
    #expect(stderr.contains("crashed in cell 'trap'"), "\(stderr)")
    #expect(stderr.contains("  Swift runtime failure: \(reason)\n"), "\(stderr)")
    #expect(stderr.contains("  at \(fixture.path):\(line) (the statement that stopped)"), "\(stderr)")
    // The raw backtrace goes to a file under the output folder's cache; the terminal gets
    // a few lines.
    let log = dir.appendingPathComponent(".cache/crash/9.1-traps.log")
    #expect(stderr.contains("  backtrace: \(log.path)"), "\(stderr)")
    let trace = try String(contentsOf: log, encoding: .utf8)
    #expect(trace.contains("9.1-traps.md:\(line):"), "\(trace)")
    #expect(stderr.split(separator: "\n").count <= 8, "\(stderr)")
    #expect(!stderr.contains("Backtrace"), "\(stderr)")
  }

  /// A real chapter: a growth rate near Int.max overflows DenseNet's channel count in the
  /// cell that adds it up, which a `--set` can reach (the range says only `>= 1`).
  @Test func anOverflowInAChapterCellNamesItsLine() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(
      ["run", "7.7", "--profile", "smoke", "--set", "growthRate=9223372036854775807",
       "--output", dir.path, "--quiet"])
    #expect(result.exitCode == 1, "\(result.stderr)")
    let chapter = CLI.packageRoot.appendingPathComponent("Chapters/7.7-densenet.md")
    let lines = try String(contentsOf: chapter, encoding: .utf8).components(separatedBy: "\n")
    let line = try #require(lines.firstIndex { $0.contains("channels += numConvs * growthRate") }) + 1
    #expect(result.stderr.contains("Swift runtime failure: arithmetic overflow"), "\(result.stderr)")
    #expect(result.stderr.contains("7.7-densenet.md:\(line) (the statement that stopped)"), "\(result.stderr)")
  }

  /// The values that used to trap are refused or handled now: a negative block count is out
  /// of `convArch`'s declared range (exit 2, nothing runs), and ResNet takes any number of
  /// stages.
  @Test func formerTrapsAreCheckedOrHandled() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let negative = try CLI.run(
      ["run", "7.2", "--profile", "smoke", "--set", "convArch=[(-1, 64)]", "--output", dir.path,
       "--quiet"])
    #expect(negative.exitCode == 2, "\(negative.stderr)")
    #expect(negative.stderr.contains("convArch"), "\(negative.stderr)")
    let twoStages = try CLI.run(
      ["run", "7.6", "--profile", "smoke", "--set", "blockCounts=[2, 2]", "--output", dir.path,
       "--quiet"])
    #expect(twoStages.exitCode == 0, "\(twoStages.stderr)")
  }
}
