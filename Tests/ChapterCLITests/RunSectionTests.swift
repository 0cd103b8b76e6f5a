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
    // The learned gamma of the first layer is printed.
    #expect(html.contains("gamma:"))
  }

  @Test func unknownSectionIsBadUsage() throws {
    let result = try CLI.run(["run", "9.9", "--quiet"])
    #expect(result.exitCode == 2)
    #expect(result.stderr.contains("9.9"))
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
