import FlyingFox
import Foundation
import Testing

@testable import ChapterPreview
@testable import PreviewSetup

/// A folder with a report, a hidden cache, a file beside the folder, and links in and out.
struct ServedFixture {
  let base: URL
  let folder: ServedFolder

  init() throws {
    base = FileManager.default.temporaryDirectory
      .appendingPathComponent("preview-served-\(UUID().uuidString)")
    let fm = FileManager.default
    let out = base.appendingPathComponent("Output")
    try fm.createDirectory(at: out.appendingPathComponent(".cache"), withIntermediateDirectories: true)
    try fm.createDirectory(at: out.appendingPathComponent("sweeps"), withIntermediateDirectories: true)
    try "report".write(to: out.appendingPathComponent("7.5-batch-norm.html"), atomically: true, encoding: .utf8)
    try "sweep".write(to: out.appendingPathComponent("sweeps/a b.html"), atomically: true, encoding: .utf8)
    try "cache".write(to: out.appendingPathComponent(".cache/key"), atomically: true, encoding: .utf8)
    try "secret".write(to: base.appendingPathComponent("Package.swift"), atomically: true, encoding: .utf8)
    try fm.createSymbolicLink(
      atPath: out.appendingPathComponent("outside.html").path,
      withDestinationPath: base.appendingPathComponent("Package.swift").path)
    try fm.createSymbolicLink(
      atPath: out.appendingPathComponent("inside.html").path,
      withDestinationPath: out.appendingPathComponent("7.5-batch-norm.html").path)
    folder = try ServedFolder(path: out.path)
  }

  func remove() { try? FileManager.default.removeItem(at: base) }
}

@Suite struct ServedFolderTests {
  @Test func servesFilesInsideTheFolder() throws {
    let fixture = try ServedFixture()
    defer { fixture.remove() }
    let report = try #require(fixture.folder.file(forEncodedPath: "7.5-batch-norm.html"))
    #expect(report == fixture.folder.root + "/7.5-batch-norm.html")
    #expect(fixture.folder.file(forEncodedPath: "sweeps/a%20b.html") != nil)
    // A link that stays inside the folder is followed.
    #expect(fixture.folder.file(forEncodedPath: "inside.html") == report)
  }

  @Test(arguments: [
    "../Package.swift", "..%2FPackage.swift", "%2e%2e/Package.swift", "%2E%2E%2FPackage.swift",
    "sweeps/../../Package.swift", "./7.5-batch-norm.html", "outside.html", ".cache/key",
    "%2ecache/key", "", "sweeps", "sweeps/", "7.5-batch-norm.html%00", "a%5c..%5cPackage.swift",
    "missing.html", "%zz",
  ])
  func refusesWhatLeavesTheFolderOrIsHidden(_ path: String) throws {
    let fixture = try ServedFixture()
    defer { fixture.remove() }
    #expect(fixture.folder.file(forEncodedPath: path) == nil, "served \(path)")
  }
}

@Suite struct BuildDiagnosticsTests {
  @Test func readsCompilerAndTanglerErrorsWithTheirChapterLine() throws {
    let root = FileManager.default.temporaryDirectory
      .appendingPathComponent("preview-diag-\(UUID().uuidString)")
    try FileManager.default.createDirectory(
      at: root.appendingPathComponent("Chapters"), withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }
    let chapter = root.appendingPathComponent("Chapters/7.5-batch-norm.md").path
    try "line one\nlet broken: Int = \"text\"\nline three\n".write(
      toFile: chapter, atomically: true, encoding: .utf8)
    let log = """
      [5/6] Compiling Chapters 7.5-batch-norm.swift
      \(chapter):2:19: error: cannot convert value of type 'String' to specified type 'Int'
      476 | #sourceLocation(file: "\(chapter)", line: 1)
          |                   `- error: cannot convert value of type 'String' to specified type 'Int'
      \(chapter):2:19: error: cannot convert value of type 'String' to specified type 'Int'
      \(chapter):3: error: a parameter line must be NAME = VALUE
      /elsewhere/Other.swift:10:2: warning: unused
      error: fatalError
      """
    let errors = BuildDiagnostics.errors(in: log, packageRoot: root.path)
    #expect(errors.count == 2)
    #expect(errors[0] == BuildDiagnostic(
      file: "Chapters/7.5-batch-norm.md", line: 2, column: 19,
      message: "cannot convert value of type 'String' to specified type 'Int'",
      source: "let broken: Int = \"text\""))
    #expect(errors[1].line == 3 && errors[1].column == 0 && errors[1].source == "line three")
  }
}

extension BuildDiagnosticsTests {
  @Test func placesACrashAtTheStatementThatStopped() throws {
    let root = FileManager.default.temporaryDirectory
      .appendingPathComponent("preview-crash-\(UUID().uuidString)")
    try FileManager.default.createDirectory(
      at: root.appendingPathComponent("Chapters"), withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }
    let chapter = root.appendingPathComponent("Chapters/7.5-batch-norm.md").path
    try "a\nb\nprint(crashy[numEpochs])\n".write(toFile: chapter, atomically: true, encoding: .utf8)
    let stderr = """
      Swift/ContiguousArrayBuffer.swift:692: Fatal error: Index out of range

      chapter: section 7.5 crashed in cell 'train-scratch' (\(chapter):2): SIGILL (a Swift runtime error)
        at \(chapter):3 (the statement that stopped)
        backtrace: /tmp/o/.cache/crash/7.5-batch-norm.log
      """
    let crash = try #require(BuildDiagnostics.crash(in: stderr, packageRoot: root.path))
    #expect(crash.file == "Chapters/7.5-batch-norm.md" && crash.line == 3)
    #expect(crash.source == "print(crashy[numEpochs])")
    #expect(crash.message == "section 7.5 crashed in cell 'train-scratch' (Chapters/7.5-batch-norm.md:2): SIGILL (a Swift runtime error)")
    #expect(BuildDiagnostics.crash(in: "chapter: a cell failed", packageRoot: root.path) == nil)
  }
}

@Suite struct ChapterSnapshotTests {
  @Test func seesAnEditANewFileAndARemoval() throws {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("preview-watch-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let a = folder.appendingPathComponent("7.1-a.md"), b = folder.appendingPathComponent("7.2-b.md")
    try "one".write(to: a, atomically: true, encoding: .utf8)
    try "two".write(to: folder.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
    let first = ChapterSnapshot(folder: folder.path)
    #expect(first.changedFiles(in: ChapterSnapshot(folder: folder.path)).isEmpty)
    // Same size, new content: the modification time tells (the editor saved).
    usleep(20_000)
    try "uno".write(to: a, atomically: true, encoding: .utf8)
    try "new".write(to: b, atomically: true, encoding: .utf8)
    let second = ChapterSnapshot(folder: folder.path)
    #expect(first.changedFiles(in: second) == ["7.1-a.md", "7.2-b.md"])
    try FileManager.default.removeItem(at: b)
    #expect(second.changedFiles(in: ChapterSnapshot(folder: folder.path)) == ["7.2-b.md"])
  }
}

@Suite struct LiveChannelTests {
  /// The first `count` messages a subscriber gets, as text.
  func take(_ count: Int, from stream: AsyncStream<WSMessage>) async -> [String] {
    var got: [String] = []
    for await message in stream {
      if case .text(let text) = message { got.append(text) }
      if got.count == count { break }
    }
    return got
  }

  @Test func aLatePageGetsTheCurrentCycleWithOnlyTheLatestProgress() async throws {
    let channel = LiveChannel()
    channel.publish("cycle", ["cycle": 1, "reason": "start"])
    channel.publishRunEvent(#"{"event":"cell","id":"a"}"#)
    channel.publish("cycle", ["cycle": 2, "reason": "Chapters/x.md changed"])
    channel.publishRunEvent(#"{"batch":1,"event":"progress"}"#)
    channel.publishRunEvent(#"{"epoch":0.2,"event":"point"}"#)
    channel.publishRunEvent(#"{"batch":2,"event":"progress"}"#)
    let late = channel.subscribe()
    channel.publishRunEvent(#"{"event":"cell","id":"b"}"#)
    let got = await take(4, from: late)
    #expect(got == [
      #"{"cycle":2,"event":"cycle","reason":"Chapters\/x.md changed"}"#,
      #"{"batch":2,"event":"progress"}"#, #"{"epoch":0.2,"event":"point"}"#,
      #"{"event":"cell","id":"b"}"#,
    ])
  }
}

@Suite struct PreviewBuildCommandTests {
  func settings(staticSwiftStdlib: Bool) -> PreviewSettings {
    PreviewSettings(
      packageRoot: "/p", section: "7.5", title: "7.5 Batch Normalization",
      reportName: "7.5-batch-norm.html", runArguments: [], swift: "/opt/swift/usr/bin/swift",
      scratchPath: "/p/.build", configuration: "release", staticSwiftStdlib: staticSwiftStdlib,
      outputFolder: "/p/Output")
  }

  /// A rebuild with other linking than the running binary's would recompile every module.
  @Test(arguments: [false, true])
  func rebuildsWithTheRunningBinarysLinking(staticSwiftStdlib: Bool) {
    for product in ["chapter", "chapter-preview"] {
      let command = settings(staticSwiftStdlib: staticSwiftStdlib).buildCommand(product: product)
      #expect(command.starts(with: ["/opt/swift/usr/bin/swift", "build"]))
      #expect(command.contains("--static-swift-stdlib") == staticSwiftStdlib)
      #expect(command.suffix(staticSwiftStdlib ? 3 : 2).starts(with: ["--product", product]))
      #expect(Array(command.drop { $0 != "--scratch-path" }.prefix(4)) == [
        "--scratch-path", "/p/.build", "-c", "release",
      ])
    }
  }

  /// The test binary loads the Swift runtime as a shared library; `make build`'s `chapter`
  /// does not, and the preview tells the two apart by asking the loader.
  @Test func seesThatThisProcessLoadsTheSwiftRuntime() {
    #expect(PreviewBuild.isSwiftRuntimeShared())
  }
}
