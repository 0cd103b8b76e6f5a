import Foundation
import Testing

/// End-to-end: the real `chapter` command on the smoke profile.
@Suite(.serialized) struct RunSectionTests {
  @Test func batchNormSmokeRunWritesReports() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(["run", "7.5", "--profile", "smoke", "--output", dir.path, "--quiet"])
    #expect(result.exitCode == 0, "stderr: \(result.stderr)")

    let html = try String(contentsOf: dir.appendingPathComponent("7.5-batch-norm.html"), encoding: .utf8)
    let md = try String(contentsOf: dir.appendingPathComponent("7.5-batch-norm.md"), encoding: .utf8)
    // Every cell's code is in the report, with its output (the HTML with
    // its highlighting markup removed).
    let htmlText = html.replacingOccurrences(of: "<[^>]+>", with: "", options: .regularExpression)
    for fragment in ["batchNormFromScratch", "BatchNormFromScratch(6, numDims: 4)", "BatchNorm()"] {
      #expect(htmlText.contains(fragment))
      #expect(md.contains(fragment))
    }
    // Both trainings logged in the book's format, and both curves drawn.
    let logLines = html.components(separatedBy: "train acc").count - 1
    #expect(logLines >= 2)
    #expect(html.contains("examples/sec on cpu"))
    #expect(html.components(separatedBy: "<svg").count - 1 >= 2)
    #expect(md.contains("examples/sec on cpu"))
    #expect(md.contains("smoke"))
    let svgs = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".svg") }
    #expect(svgs.count >= 2)
    // The book's resolution: the one smoke epoch's 8 batches draw a point after each batch for
    // the training loss and accuracy (at least five per epoch), and one for the test accuracy.
    for name in svgs {
      let svg = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
      for (series, atLeast) in [("train loss", 5), ("train acc", 5), ("test acc", 1)] {
        let group = try #require(
          svg.components(separatedBy: "<g><title>\(series)</title>").dropFirst().first,
          "\(name) has no \(series) series")
        let points = group.components(separatedBy: "</g>")[0]
          .components(separatedBy: "<circle").count - 1
        #expect(points >= atLeast, "\(name): \(series) has \(points) points")
        if series == "test acc" { #expect(points == 1, "\(name): one epoch, one test point") }
      }
    }
    // The learned gamma of the first layer is printed.
    #expect(html.contains("gamma:"))
  }

  @Test func unknownSectionIsBadUsage() throws {
    let result = try CLI.run(["run", "9.9", "--quiet"])
    #expect(result.exitCode == 2)
    #expect(result.stderr.contains("9.9"))
  }

  /// `--cell-timeout`: a cell past the limit stops the run at that cell's line, exit 1; the
  /// section's report is not written and an earlier section's report stays as it was.
  @Test func cellTimeoutStopsTheRunAtTheCell() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let first = try CLI.run(["run", "7.5", "--profile", "smoke", "--output", dir.path, "--quiet"])
    #expect(first.exitCode == 0, "\(first.stderr)")
    let earlier = dir.appendingPathComponent("7.5-batch-norm.md")
    let before = try Data(contentsOf: earlier)
    let result = try CLI.run([
      "run", "7.6", "--profile", "smoke", "--cell-timeout", "0.2", "--output", dir.path, "--quiet",
    ])
    #expect(result.exitCode == 1, "\(result.stderr)")
    #expect(result.stderr.contains("7.6-resnet.md:"), "\(result.stderr)")
    #expect(result.stderr.contains("ran past --cell-timeout 0.20 s"), "\(result.stderr)")
    #expect(!result.stderr.contains("Backtrace"), "\(result.stderr)")
    let stopped = dir.appendingPathComponent("7.6-resnet.md").path
    #expect(!FileManager.default.fileExists(atPath: stopped))
    #expect(try Data(contentsOf: earlier) == before)
    let bad = try CLI.run(["run", "7.5", "--profile", "smoke", "--cell-timeout", "0", "--quiet"])
    #expect(bad.exitCode == 2)
    #expect(bad.stderr.contains("--cell-timeout must be a number of seconds above 0"))
  }

  /// `-1` looks like an option to the argument parser; the seed is read unconditionally so
  /// that the message says what a seed must be, not that its value is missing.
  @Test func negativeSeedSaysWhatASeedIs() throws {
    for value in ["-1", "1.5", "seven"] {
      let result = try CLI.run(["run", "7.5", "--profile", "smoke", "--seed", value, "--quiet"])
      #expect(result.exitCode == 2, "\(value): \(result.stderr)")
      #expect(result.stderr.contains("--seed must be a whole number from 0 to"), "\(result.stderr)")
      #expect(result.stderr.contains("not '\(value)'"), "\(result.stderr)")
    }
  }

  @Test func missingDatasetIsBadInput() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(
      ["run", "7.5", "--profile", "smoke", "--output", dir.path, "--quiet"],
      environment: ["FASHION_MNIST_DIR": dir.path])
    #expect(result.exitCode == 2)
    #expect(result.stderr.contains("train-images-idx3-ubyte.gz"))
    #expect(result.stderr.contains("apt-get install dataset-fashion-mnist"))
  }

  /// A loss that turns NaN stops training at once, names the epoch and batch, suggests a
  /// lower rate, and the report records it; exit 1.
  @Test func divergenceStopsWithItsPlaceAndAdvice() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(
      ["run", "7.1", "--profile", "smoke", "--set", "lr=1e6", "--output", dir.path, "--quiet"])
    #expect(result.exitCode == 1, "\(result.stderr)")
    #expect(result.stderr.contains("cell 'train'"), "\(result.stderr)")
    #expect(result.stderr.contains("7.1-alexnet.md:"), "\(result.stderr)")
    #expect(result.stderr.contains("diverged"), "\(result.stderr)")
    #expect(result.stderr.contains("at epoch 1, batch "), "\(result.stderr)")
    #expect(result.stderr.contains("--set lr=100000.0"), "\(result.stderr)")
    let report = try String(
      contentsOf: dir.appendingPathComponent("7.1-alexnet.md"), encoding: .utf8)
    #expect(report.contains("diverged"))
  }

  /// A loss that stays finite but runs away (LeNet-BN at lr 1e9 ends at a loss of billions
  /// without ever becoming NaN) stops the same way, by the running-mean rule.
  @Test func explodingFiniteLossStopsLikeNaN() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(
      ["run", "7.5", "--profile", "smoke", "--set", "lr=1e9", "--output", dir.path, "--quiet"])
    #expect(result.exitCode == 1, "\(result.stderr)")
    #expect(result.stderr.contains("diverged: the running mean loss reached"), "\(result.stderr)")
    #expect(result.stderr.contains("7.5-batch-norm.md:"), "\(result.stderr)")
    #expect(result.stderr.contains("--set lr=100000000.0"), "\(result.stderr)")
    let report = try String(
      contentsOf: dir.appendingPathComponent("7.5-batch-norm.md"), encoding: .utf8)
    #expect(report.contains("diverged"))
  }
}

/// `chapter check`: the ```output blocks are a doctest of the chapter.
@Suite(.serialized) struct CheckTests {
  @Test func batchNormOutputsMatch() throws {
    let result = try CLI.run(["check", "7.5"])
    #expect(result.exitCode == 0, "stdout: \(result.stdout) stderr: \(result.stderr)")
    #expect(result.stdout.contains("7.5 ok"))
  }

  @Test func editedShapeFailsWithADiff() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let original = CLI.packageRoot.appendingPathComponent("Chapters/7.5-batch-norm.md")
    var text = try String(contentsOf: original, encoding: .utf8)
    // Change one output shape in the summary block.
    let shape = "[1, 16, 8, 8]"
    #expect(text.contains(shape))
    text = text.replacingOccurrences(of: "conv3         " + shape, with: "conv3         [1, 16, 9, 9]")
    let edited = dir.appendingPathComponent("7.5-batch-norm.md")
    try text.write(to: edited, atomically: true, encoding: .utf8)
    let result = try CLI.run(["check", edited.path])
    #expect(result.exitCode == 1)
    #expect(result.stdout.contains("-conv3         [1, 16, 9, 9]"))
    #expect(result.stdout.contains("+conv3         [1, 16, 8, 8]"))
    #expect(result.stdout.contains("@@"))
  }
}

/// The report as a reader's browser sees it: headless Chromium (Debian's `chromium`,
/// installed by `make test`) loads the page, and `Tests/Browser/check_page.py` fails on
/// console messages, network requests, missing figures or missing navigation.
@Suite(.serialized) struct BrowserTests {
  static let script = CLI.packageRoot.appendingPathComponent("Tests/Browser/check_page.py").path

  static func check(_ page: String, _ extra: [String]) throws -> (code: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script, page] + extra
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  @Test func reportLoadsOfflineWithFiguresAndNavigation() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let run = try CLI.run(["run", "7.5", "--profile", "smoke", "--output", dir.path, "--quiet"])
    #expect(run.exitCode == 0, "\(run.stderr)")
    let (code, output) = try Self.check(
      dir.appendingPathComponent("7.5-batch-norm.html").path, ["--min-figures", "2", "--nav"])
    #expect(code == 0, "\(output)")
  }

  /// The check itself can fail: a page that fetches an image and logs to the console.
  @Test func checkCatchesNetworkAndConsole() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let page = dir.appendingPathComponent("bad.html")
    try """
      <!DOCTYPE html><html><head><meta charset="utf-8"></head><body>
      <img src="http://example.com/x.png"><script>console.error("boom")</script></body></html>
      """.write(to: page, atomically: true, encoding: .utf8)
    let (code, output) = try Self.check(page.path, ["--min-figures", "1"])
    #expect(code == 1)
    #expect(output.contains("example.com"))
    #expect(output.contains("boom"))
    #expect(output.contains("0 figures"))
  }
}

/// Every section runs end to end on its smoke profile, and its report holds its
/// trainings' log lines and curves.
@Suite(.serialized) struct EverySectionSmokeTests {
  static let sections = ["7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "7.7"]

  @Test(arguments: sections)
  func smokeRun(_ section: String) throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(["run", section, "--profile", "smoke", "--output", dir.path, "--quiet"])
    #expect(result.exitCode == 0, "\(section): \(result.stderr)")
    let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
    let md = try #require(files.first { $0.hasPrefix(section + "-") && $0.hasSuffix(".md") })
    let text = try String(contentsOf: dir.appendingPathComponent(md), encoding: .utf8)
    #expect(text.contains("examples/sec on cpu"), "\(section)")
    #expect(files.contains { $0.hasSuffix("-fig1.svg") }, "\(section)")
  }

  @Test func everySectionsOutputsMatch() throws {
    let result = try CLI.run(["check"])
    #expect(result.exitCode == 0, "\(result.stdout)\n\(result.stderr)")
    for section in Self.sections { #expect(result.stdout.contains("\(section) ok")) }
  }
}
