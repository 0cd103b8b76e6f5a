import ChapterFormat
import Foundation
import Testing

@testable import Notebook

/// Tests that run sections. Serialized: capturing standard output redirects fd 1, which is
/// one per process.
@Suite(.serialized) struct RunnerTests {
  func run(
    _ options: (String) -> RunOptions, failIn: String? = nil, markdown: String = Fixture.markdown
  ) throws -> (RunResult, String) {
    let folder = try Fixture.temporaryFolder()
    let program = Fixture.program(folder: folder, markdown: markdown, failIn: failIn)
    let result = try SectionRunner.run(program, options: options(folder + "/Output"))
    return (result, folder)
  }

  static let sections = [
    SectionLink(number: "9.0", title: "Before & <after>", slug: "9.0-before"),
    SectionLink(number: "9.1", title: "Testing the Runner", slug: "9.1-test"),
    SectionLink(number: "9.2", title: "Next", slug: "9.2-next"),
  ]

  @Test func capturesEachCellsOutput() throws {
    let (result, folder) = try run { RunOptions(profile: "smoke", outputDirectory: $0, quiet: true) }
    defer { try? FileManager.default.removeItem(atPath: folder) }
    #expect(result.exitCode == 0)
    #expect(result.records.map(\.id) == ["setup", "train", "after"])
    #expect(result.records.map(\.status) == [.ok, .ok, .ok])
    #expect(result.records[0].output.contains("hello\n"))
    #expect(!result.records[0].output.contains("after"))
    #expect(result.records[1].output.contains("<script>alert(1)</script>\n"))
    #expect(result.records[1].output.contains("batch 256\n"))
    #expect(result.records[2].output.contains("after\n"))
    #expect(result.records.allSatisfy { $0.seconds >= 0 })
    #expect(result.trainings.map(\.network) == ["tiny"])
    #expect(result.failedCell == nil)
  }

  @Test func parametersSeeOverridesAndAreRecorded() throws {
    let (result, folder) = try run {
      RunOptions(profile: "smoke", overrides: ["batchSize": "64"], outputDirectory: $0, quiet: true)
    }
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let setup = result.records[0].parameters
    #expect(setup.first { $0.name == "lr" }?.value == .double(0.5))
    #expect(setup.first { $0.name == "lr" }?.differsFromBook == true)
    #expect(setup.first { $0.name == "convArch" }?.value == .intPairArray([IntPair(1, 8)]))
    #expect(setup.first { $0.name == "resize" }?.differsFromBook == false)
    #expect(result.records[1].output.contains("batch 64\n"))
  }

  @Test func aThrowingCellStopsTheSection() throws {
    let (result, folder) = try run({ RunOptions(outputDirectory: $0, quiet: true) }, failIn: "train")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    #expect(result.exitCode == 1)
    #expect(result.failedCell == "train")
    #expect(result.records[0].status == .ok)
    #expect(result.records[1].status == .failed("boom <b>"))
    // What the cell printed before it threw is kept.
    #expect(result.records[1].output.contains("batch 256"))
    #expect(result.records[2].status == .notRun)
    let html = Fixture.read(result.htmlPath)
    #expect(html.contains("boom &lt;b&gt;"))
    #expect(html.contains("Not run: an earlier cell failed."))
    #expect(html.contains("failed in cell &#39;train&#39;"))
    let md = Fixture.read(result.markdownPath)
    #expect(md.contains("**Error in cell `train`:**"))
    #expect(md.contains("`after` not run"))
  }

  @Test func badInputRunsNothing() throws {
    let folder = try Fixture.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let ran = Flag()
    let program = SectionProgram(
      number: "9.1", slug: "9.1-test", sourcePath: folder + "/9.1-test.md",
      markdown: Fixture.markdown
    ) { _ in ran.set() }
    #expect(throws: ChapterError.self) {
      try SectionRunner.run(
        program, options: RunOptions(overrides: ["lr": "x"], outputDirectory: folder + "/Output"))
    }
    #expect(throws: NotebookError.self) {
      try SectionRunner.run(
        program, options: RunOptions(overrides: ["nope": "1"], outputDirectory: folder + "/Output"))
    }
    #expect(!ran.value)
    #expect(!FileManager.default.fileExists(atPath: folder + "/Output/9.1-test.html"))
  }

  @Test func unwritableOutputFolderIsFoundBeforeRunning() throws {
    let folder = try Fixture.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    // A file where the folder should be: even root cannot create a folder inside it.
    _ = FileManager.default.createFile(atPath: folder + "/Output", contents: Data())
    let program = Fixture.program(folder: folder)
    #expect(throws: NotebookError.self) {
      try SectionRunner.run(program, options: RunOptions(outputDirectory: folder + "/Output/x"))
    }
  }

  @Test func htmlReport() throws {
    let (result, folder) = try run {
      RunOptions(
        profile: "smoke", overrides: ["batchSize": "64"], seed: 7, threads: 3,
        outputDirectory: $0, quiet: true, sections: Self.sections)
    }
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let html = Fixture.read(result.htmlPath)
    #expect(html.hasPrefix("<!DOCTYPE html>"))
    #expect(html.contains("<title>9.1 Testing &lt;the&gt; Runner</title>"))
    // Code, highlighted.
    #expect(html.contains("<span class=\"kw\">let</span> batchSize"))
    #expect(html.contains("<span class=\"str\">&quot;hello&quot;</span>"))
    // What a cell printed is escaped, never markup.
    #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
    #expect(!html.contains("<script"))
    // Raw HTML in the prose is dropped by cmark's safe mode.
    #expect(!html.contains("<img"))
    // Figures inline, with their captions escaped.
    #expect(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""))
    #expect(html.contains("curves of &lt;tiny&gt;"))
    // Table of contents with anchors.
    #expect(html.contains("<h2 id=\"part-one\">Part one</h2>"))
    #expect(html.contains("<a href=\"#part-one\">Part one</a>"))
    // Navigation.
    #expect(html.contains("href=\"9.0-before.html\""))
    #expect(html.contains("Before &amp; &lt;after&gt;"))
    #expect(html.contains("href=\"9.2-next.html\""))
    #expect(html.contains("href=\"index.html\""))
    // Header.
    #expect(html.contains("<code>smoke</code>"))
    #expect(html.contains("<tr><th>Seed</th><td>7</td></tr>"))
    #expect(html.contains("<tr><th>Threads</th><td>3</td></tr>"))
    #expect(html.contains("<tr class=\"changed\"><td><code>batchSize</code></td><td><code>64</code>"))
    #expect(html.contains("<tr><td><code>resize</code></td><td><code>28</code></td>"))
    #expect(html.contains("<code>unknown</code>"))  // not in a git repository
    #expect(html.contains("<th>Machine</th>"))
    #expect(html.contains("a two-layer test network"))
    // Output checks and the book's figures.
    #expect(html.contains("The output matches the expected output"))
    #expect(html.contains("The book reports"))
    #expect(html.contains("This run"))
    // The book's test accuracy beside this run's, and the difference, under the reference
    // block and in the header's training table.
    #expect(html.contains("Test accuracy: the book 0.800, this run 0.750 (-0.050)"))
    #expect(html.contains("<td>0.750</td><td>0.800</td><td>-0.050</td>"))
    // Nothing loaded from the network: no src= or external stylesheet at all.
    #expect(!html.contains("src="))
    #expect(!html.contains("<link rel=\"stylesheet\""))
    #expect(!html.contains("@import"))
    #expect(!html.contains("url("))
    for scheme in ["http://", "https://"] {
      // The only absolute URLs are the SVG namespace and the prose's own hyperlink.
      let rest = html.components(separatedBy: scheme).dropFirst()
      for r in rest {
        #expect(r.hasPrefix("www.w3.org/2000/svg") || r.hasPrefix("example.com\">"))
      }
    }
  }

  @Test func outputMismatchIsShown() throws {
    let md = Fixture.markdown.replacingOccurrences(of: "```output\nhello\n", with: "```output\nhullo\n")
    let (result, folder) = try run({ RunOptions(outputDirectory: $0, quiet: true) }, markdown: md)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    #expect(Fixture.read(result.htmlPath).contains("The output differs from the expected output"))
    #expect(Fixture.read(result.markdownPath).contains("differs from the expected output"))
  }

  @Test func markdownReportLinksFigureFilesThatExist() throws {
    let (result, folder) = try run {
      RunOptions(outputDirectory: $0, quiet: true, sections: Self.sections)
    }
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let md = Fixture.read(result.markdownPath)
    #expect(md.hasPrefix("[← 9.0 Before & <after>](9.0-before.md)"))
    #expect(md.contains("# 9.1 Testing <the> Runner"))
    #expect(md.contains("![Figure 1. curves of <tiny>](9.1-test-fig1.svg)"))
    #expect(md.contains("```swift\nlet batchSize = 256\n"))
    #expect(md.contains("```text\n<script>alert(1)</script>\n"))
    #expect(md.contains("- [Part one](#part-one)"))
    #expect(md.contains("| Profile | `quick` — a quick look |"))
    #expect(md.contains("**Test accuracy: the book 0.800, this run 0.750 (-0.050)**"))
    #expect(md.contains("test acc 0.750 (the book: 0.800, -0.050)"))
    let output = (result.markdownPath as NSString).deletingLastPathComponent
    for link in md.components(separatedBy: "](").dropFirst() {
      let target = String(link.prefix { $0 != ")" })
      if target.hasSuffix(".svg") {
        #expect(FileManager.default.fileExists(atPath: output + "/" + target), "\(target)")
      }
    }
    #expect(result.figurePaths == [output + "/9.1-test-fig1.svg"])
    #expect(Fixture.read(output + "/9.1-test-fig1.svg").hasPrefix("<svg"))
  }

  @Test func writesLeaveNoTemporaryFiles() throws {
    let (result, folder) = try run {
      RunOptions(outputDirectory: $0, quiet: true, sections: Self.sections)
    }
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let output = (result.markdownPath as NSString).deletingLastPathComponent
    // A stale figure from an earlier run with more figures goes away.
    try "<svg/>".write(toFile: output + "/9.1-test-fig7.svg", atomically: false, encoding: .utf8)
    _ = try SectionRunner.run(
      Fixture.program(folder: folder),
      options: RunOptions(outputDirectory: output, quiet: true, sections: Self.sections))
    let names = try FileManager.default.contentsOfDirectory(atPath: output).sorted()
    #expect(
      names == [
        "9.1-test-fig1.svg", "9.1-test.html", "9.1-test.json", "9.1-test.md", "index.html",
        "index.md",
      ])
  }

  @Test func indexAndRunRecord() throws {
    let (result, folder) = try run {
      RunOptions(profile: "smoke", outputDirectory: $0, quiet: true, sections: Self.sections)
    }
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let output = (result.markdownPath as NSString).deletingLastPathComponent
    let record = try #require(RunRecord.read(slug: "9.1-test", folder: output))
    #expect(record.profile == "smoke")
    #expect(record.status == "ok")
    #expect(record.changedParameters["lr"] == "0.5")
    #expect(record.trainings.first?.testAccuracy == 0.75)
    #expect(record.trainings.first?.bookTestAccuracy == 0.8)
    let index = Fixture.read(output + "/index.html")
    #expect(index.contains("<a href=\"9.1-test.html\">9.1 Testing the Runner</a>"))
    #expect(index.contains("<th>the book</th><th>difference</th>"))
    #expect(index.contains("<td>0.750</td><td>0.800</td><td>-0.050</td>"))
    #expect(Fixture.read(output + "/index.md").contains("| 0.750 | 0.800 | -0.050 |"))
    #expect(index.contains("not run yet"))
    #expect(Fixture.read(output + "/index.md").contains("[9.1 Testing the Runner](9.1-test.md)"))
    let catalog = SectionCatalog([Fixture.program(folder: folder)])
    let listing = catalog.listing(outputFolder: output)
    #expect(listing.contains("9.1  Testing <the> Runner  last run: smoke, test acc 0.750"))
  }

  @Test func testAccuraciesAreReadFromLogs() {
    #expect(testAccuracies(in: "loss 0.243, train acc 0.909, test acc 0.874\n") == [0.874])
    #expect(testAccuracies(in: "test acc 0.5\nnoise\nloss 1, test acc 0.625, x") == [0.5, 0.625])
    #expect(testAccuracies(in: "test accuracy high; test acc n/a") == [])
    #expect(accuracyDifference(0.75, book: 0.8) == "-0.050")
    #expect(accuracyDifference(0.9, book: 0.874) == "+0.026")
  }

  /// Three decimals would print 0.8675 as 0.868 and its difference from 0.898 as -0.030,
  /// which reads as meeting a target of book - 0.03 that it misses.
  @Test func accuraciesKeepAFourthDecimalWhenItIsNotZero() {
    #expect(accuracyText(0.8675) == "0.8675")
    #expect(accuracyText(0.874) == "0.874")
    #expect(accuracyText(0.75) == "0.750")
    #expect(accuracyText(0.1 + 0.2) == "0.300")
    #expect(accuracyDifference(0.8675, book: 0.898) == "-0.0305")
    #expect(accuracyDifference(0.868, book: 0.898) == "-0.030")
    #expect(accuracyDifference(0.9065, book: 0.893) == "+0.0135")
  }

  @Test func currentSessionIsSetOnlyDuringTheRun() throws {
    let folder = try Fixture.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let seen = Flag()
    let program = SectionProgram(
      number: "9.1", slug: "9.1-test", sourcePath: folder + "/9.1-test.md",
      markdown: Fixture.markdown
    ) { nb in
      if NotebookSession.current === nb, nb.settings.trainSubset == 100 { seen.set() }
    }
    _ = try SectionRunner.run(
      program, options: RunOptions(outputDirectory: folder + "/Output", quiet: true))
    #expect(seen.value)
    #expect(NotebookSession.current == nil)
  }

  @Test func echoesCellOutputUnlessQuiet() throws {
    // Capture fd 1 around the whole run: the echo goes to whatever stdout was.
    let outer = try OutputCapture()
    let (result, folder) = try run { RunOptions(outputDirectory: $0, quiet: false) }
    let echoed = outer.finish()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    #expect(result.exitCode == 0)
    #expect(echoed.contains("hello\n"))
    #expect(echoed.contains("after\n"))
  }
}

extension RunnerTests {
  struct MissingData: BadInput, CustomStringConvertible {
    var description: String { "data file x.gz is missing" }
  }

  @Test func badInputFromACellExitsWithTwo() throws {
    let folder = try Fixture.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let program = SectionProgram(
      number: "9.1", slug: "9.1-test", sourcePath: folder + "/9.1-test.md",
      markdown: Fixture.markdown
    ) { nb in
      nb.beginCell("setup")
      throw MissingData()
    }
    let result = try SectionRunner.run(
      program, options: RunOptions(outputDirectory: folder + "/Output", quiet: true))
    #expect(result.exitCode == 2)
    #expect(result.failureMessage?.contains("cell 'setup'") == true)
    #expect(result.failureMessage?.contains("9.1-test.md:18") == true)
    #expect(result.failureMessage?.contains("x.gz is missing") == true)
  }

  @Test func errorOutsideAnyCell() throws {
    let folder = try Fixture.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let program = SectionProgram(
      number: "9.1", slug: "9.1-test", sourcePath: folder + "/9.1-test.md",
      markdown: Fixture.markdown
    ) { _ in throw TestFailure(message: "before any cell") }
    let result = try SectionRunner.run(
      program, options: RunOptions(outputDirectory: folder + "/Output", quiet: true))
    #expect(result.exitCode == 1)
    #expect(result.records.allSatisfy { $0.status == .notRun })
    #expect(Fixture.read(result.htmlPath).contains("Error outside any cell"))
  }

  #if canImport(Glibc)
  @Test func crashHandlersAreRestoredAfterTheRun() throws {
    var before = sigaction()
    sigaction(SIGILL, nil, &before)
    var during = sigaction()
    let folder = try Fixture.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let program = SectionProgram(
      number: "9.1", slug: "9.1-test", sourcePath: folder + "/9.1-test.md",
      markdown: Fixture.markdown
    ) { nb in
      nb.beginCell("setup")
      var a = sigaction()
      sigaction(SIGILL, nil, &a)
      let installed = a.__sigaction_handler.sa_handler != nil
      if installed { print("handler installed") }
      nb.endCell()
    }
    let result = try SectionRunner.run(
      program, options: RunOptions(outputDirectory: folder + "/Output", quiet: true))
    sigaction(SIGILL, nil, &during)
    #expect(result.records[0].output.contains("handler installed"))
    #expect(
      unsafeBitCast(during.__sigaction_handler.sa_handler, to: Int.self)
        == unsafeBitCast(before.__sigaction_handler.sa_handler, to: Int.self))
  }
  #endif
}

@Suite struct CatalogTests {
  let programs = ["7.1-alexnet", "7.5-batch-norm"].map { slug in
    SectionProgram(
      number: String(slug.prefix(3)), slug: slug, sourcePath: "/book/Chapters/\(slug).md",
      markdown: "---\ntitle: T \(slug)\n---\n") { _ in }
  }

  @Test func findsByNumberSlugAndPath() throws {
    let catalog = SectionCatalog(programs)
    #expect(try catalog.find("7.5").slug == "7.5-batch-norm")
    #expect(try catalog.find("batch-norm").slug == "7.5-batch-norm")
    #expect(try catalog.find("7.5-batch-norm").slug == "7.5-batch-norm")
    #expect(try catalog.find("Chapters/7.1-alexnet.md").slug == "7.1-alexnet")
    #expect(try catalog.find("/book/Chapters/7.1-alexnet.md").slug == "7.1-alexnet")
    let error = #expect(throws: NotebookError.self) { try catalog.find("7.9") }
    #expect(error?.message.contains("7.1 (alexnet), 7.5 (batch-norm)") == true)
    #expect(catalog.links().map(\.title) == ["T 7.1-alexnet", "T 7.5-batch-norm"])
  }

  @Test func neighbours() {
    let links = SectionCatalog(programs).links()
    let nav = ReportNavigation.neighbours(of: "7.5-batch-norm", in: links)
    #expect(nav.previous?.slug == "7.1-alexnet")
    #expect(nav.next == nil)
  }
}

/// A thread-safe flag for checking that a @Sendable closure ran.
final class Flag: @unchecked Sendable {
  private let lock = NSLock()
  private var raised = false
  func set() { lock.withLock { raised = true } }
  var value: Bool { lock.withLock { raised } }
}

/// One definition of an output block matching what its cell printed, shared by the reports'
/// "✓ matches" and `chapter check`.
@Suite struct OutputMatching {
  @Test(arguments: [
    ("a\nb", "a\nb  \n\n"),  // trailing spaces and blank lines
    ("a\nb", "a\t\nb"),  // a trailing tab
    ("a\nb", "a\r\nb\r\n"),  // a chapter saved with CRLF line ends
    ("a \r\nb", "a\nb"),  // printed with CRLF
  ])
  func insignificantDifferencesMatch(printed: String, expected: String) {
    #expect(OutputCheck.matches(printed, expected))
    #expect(ReportModel.matches(printed, expected))
  }

  @Test(arguments: [("a\nb", "a\n b"), ("a\nb", "a\n\nb"), ("ab", "a b")])
  func realDifferencesDoNot(printed: String, expected: String) {
    #expect(!OutputCheck.matches(printed, expected))
    #expect(!ReportModel.matches(printed, expected))
  }
}
