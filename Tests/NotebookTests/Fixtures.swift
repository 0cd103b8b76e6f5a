import ChapterFormat
import Foundation
import Notebook

/// A small chapter in the real format, parsed with the real parser.
enum Fixture {
  static let markdown = """
    ---
    section: "9.1"
    title: Testing <the> Runner
    network: { tiny: a two-layer test network }
    ranges: { resize: ">= 8" }
    profiles:
      quick: { description: a quick look, numEpochs: 2, trainSubset: 100, testSubset: 50 }
      smoke: { numEpochs: 1, lr: 0.5, convArch: "[(1, 8)]", names: [a, b] }
    ---

    # Testing the Runner

    Prose with `code`, a [link](https://example.com) and <img src="https://example.com/x.png">.

    ## Part one

    ```swift cell=setup
    let lr = 0.1, numEpochs = 3
    let convArch = [(1, 64), (2, 128)]
    let names = ["x"]
    let resize = 28
    print("hello")
    ```

    ```output
    hello
    ```

    ## Part two

    ```swift cell=train
    let batchSize = 256
    print("<script>alert(1)</script>")
    ```

    ```output reference
    loss 0.300, train acc 0.900, test acc 0.800
    ```

    ```swift cell=after
    print("after")
    ```

    ```variant name=wide
    convArch = [(1, 128), (2, 256)]
    ```

    """

  static func document(_ text: String = markdown, path: String = "/tmp/9.1-test.md") throws
    -> ChapterDocument
  {
    try ChapterParser.parse(text, path: path)
  }

  /// A temporary folder, removed by the caller.
  static func temporaryFolder() throws -> String {
    let path = URL(fileURLWithPath: NSTemporaryDirectory())
      .appendingPathComponent("notebook-tests-" + UUID().uuidString).path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  /// The fixture as a program whose cells behave as the tangler's output would; `failIn`
  /// makes that cell throw.
  static func program(
    folder: String, markdown: String = markdown, failIn: String? = nil
  ) -> SectionProgram {
    SectionProgram(
      number: "9.1", slug: "9.1-test", sourcePath: folder + "/9.1-test.md", markdown: markdown
    ) { nb in
      nb.beginCell("setup")
      do {
        let lr = nb.param("lr", 0.1), numEpochs = nb.param("numEpochs", 3)
        let convArch = nb.param("convArch", [(1, 64), (2, 128)])
        let names = nb.param("names", ["x"])
        _ = nb.param("resize", 28)
        print("hello")
        FileHandle.standardError.write(Data("params lr=\(lr) numEpochs=\(numEpochs) convArch=\(convArch) names=\(names)\n".utf8))
        nb.endCell()
        nb.beginCell("train")
        do {
          let batchSize = nb.param("batchSize", 256)
          print("<script>alert(1)</script>")
          print("batch \(batchSize)")
          print("loss 0.500, train acc 0.800, test acc 0.750")
          if failIn == "train" { throw TestFailure(message: "boom <b>") }
          let summary = TrainingSummary(
            network: "tiny", parameterCount: 1234, flopsPerExample: 5_000_000, epochs: 2,
            finalLoss: 0.5, trainAccuracy: 0.8, testAccuracy: 0.75, examplesPerSecond: 1000,
            wallSeconds: 1.5, lossPerEpoch: [1.0, 0.5], trainAccuracyPerEpoch: [0.6, 0.8],
            testAccuracyPerEpoch: [0.7, 0.75])
          nb.recordTraining(summary)
          nb.addFigure(svg: LinePlot.trainingCurves(summary).svg(), caption: "curves of <tiny>")
          nb.endCell()
          nb.beginCell("after")
          do {
            print("after")
            nb.endCell()
          }
        }
      }
    }
  }

  static func read(_ path: String) -> String {
    (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
  }
}

struct TestFailure: Error, CustomStringConvertible {
  var message: String
  var description: String { message }
}
