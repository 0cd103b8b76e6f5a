import Foundation
import Testing

@testable import Notebook

#if canImport(FoundationXML)
  import FoundationXML
#endif

@Suite struct LinePlotTests {
  let plot = LinePlot(
    title: "LeNet <BN> & co",
    series: [
      .init(name: "train loss", values: [2.1, 0.9, 0.6, 0.5]),
      .init(name: "train acc", values: [0.3, 0.7, 0.8, 0.85]),
      .init(name: "test acc", values: [0.35, .nan, 0.79, 0.84]),
    ])

  /// Parses with XMLParser; returns element names in order, or nil if malformed.
  func elements(_ svg: String) -> [String]? {
    final class Collector: NSObject, XMLParserDelegate {
      var names: [String] = []
      func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
        qualifiedName: String?, attributes: [String: String] = [:]
      ) { names.append(name) }
    }
    let parser = XMLParser(data: Data(svg.utf8))
    let collector = Collector()
    parser.delegate = collector
    return parser.parse() ? collector.names : nil
  }

  /// A series with `low` and `high` gets a shaded band under its curve (a bar for a single
  /// point), and the y axis reaches the band's top.
  @Test func bandsAreShadedUnderTheirCurves() throws {
    let banded = LinePlot(
      title: "bands",
      series: [
        .init(name: "mean", values: [0.5, 0.6, 0.7], low: [0.4, 0.5, 0.6], high: [0.6, 0.7, 2.2]),
        .init(name: "one point", values: [0.5], low: [0.45], high: [0.55]),
        .init(name: "no band", values: [0.3, 0.4]),
      ])
    let svg = banded.svg()
    let names = try #require(elements(svg))
    #expect(names.filter { $0 == "polygon" }.count == 1)
    #expect(names.filter { $0 == "rect" }.count == 3, "background, frame and the one-point bar")
    // Drawn before the curves, so that the lines stay on top.
    let band = try #require(svg.range(of: "<polygon"))
    let firstCurve = try #require(svg.range(of: "<path"))
    #expect(band.lowerBound < firstCurve.lowerBound)
    #expect(svg.contains(">2.5</text>"), "the axis goes up to the highest band value")
  }

  @Test func wellFormed() throws {
    let svg = plot.svg()
    let names = try #require(elements(svg))
    #expect(names.first == "svg")
    #expect(names.filter { $0 == "path" }.count == 3)
    #expect(svg.contains("LeNet &lt;BN&gt; &amp; co"))
    #expect(!svg.contains("<BN>"))
    #expect(svg.contains("train loss") && svg.contains("test acc"))
  }

  @Test func distinctStylesAndLegend() {
    let svg = plot.svg()
    #expect(svg.contains("stroke=\"#1f77b4\""))
    #expect(svg.contains("stroke=\"#c2187a\" stroke-width=\"2\" stroke-dasharray=\"7 4\""))
    #expect(svg.contains("stroke-dasharray=\"9 3 2 3\""))
  }

  @Test func nanBreaksTheLine() {
    let svg = plot.svg()
    // The test-acc path restarts after the NaN with a second move-to.
    let testPath = svg.components(separatedBy: "<title>test acc</title>")[1]
    let d = testPath.components(separatedBy: "d=\"")[1].prefix { $0 != "\"" }
    #expect(d.filter { $0 == "M" }.count == 2)
  }

  @Test func deterministic() {
    #expect(plot.svg() == plot.svg())
  }

  @Test func axisFromZeroWithNiceTicks() {
    #expect(LinePlot.niceTicks(max: 2.1) == [0, 0.5, 1, 1.5, 2, 2.5])
    #expect(LinePlot.niceTicks(max: 0.9) == [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    #expect(LinePlot.niceTicks(max: 0) == [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    #expect(LinePlot.xTicks(1, 10) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    #expect(LinePlot.xTicks(1, 90) == [10, 20, 30, 40, 50, 60, 70, 80, 90])
    #expect(LinePlot.xTicks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1])
    #expect(LinePlot.xTicks(0, 10) == Array(0...10).map(Double.init))
  }

  /// The book's resolution: the training series at fractional epochs, the test accuracy at
  /// whole ones, on an axis from 0; a record without the finer curve draws per epoch.
  @Test func trainingCurvesAtFractionalEpochs() {
    var summary = TrainingSummary(
      network: "net", parameterCount: 1, flopsPerExample: 1, epochs: 1, finalLoss: 0.5,
      trainAccuracy: 0.8, testAccuracy: 0.7, examplesPerSecond: 1, wallSeconds: 1,
      lossPerEpoch: [0.5], trainAccuracyPerEpoch: [0.8], testAccuracyPerEpoch: [0.7],
      trainingCurve: (1...5).map { .init(epoch: Double($0) / 5, loss: 1 / Double($0), trainAccuracy: 0.8) })
    let plot = LinePlot.trainingCurves(summary)
    #expect(plot.series.map(\.values.count) == [5, 5, 1])
    #expect(plot.series[0].x == [0.2, 0.4, 0.6, 0.8, 1.0])
    #expect(plot.series[2].x == [1])
    #expect(plot.xRange == 0...1)
    let svg = plot.svg()
    #expect(svg.components(separatedBy: "<circle").count - 1 == 11)
    #expect(svg.contains(">0.6</text>"))
    summary.trainingCurve = []
    #expect(LinePlot.trainingCurves(summary).series.map(\.values.count) == [1, 1, 1])
  }

  /// Records written before the curve existed still decode (the index reads them).
  @Test func oldRecordsDecodeWithoutACurve() throws {
    let json = """
      {"network":"n","parameterCount":1,"flopsPerExample":2,"epochs":1,"finalLoss":0.5,
       "trainAccuracy":0.8,"testAccuracy":0.7,"examplesPerSecond":3,"wallSeconds":4,
       "lossPerEpoch":[0.5],"trainAccuracyPerEpoch":[0.8],"testAccuracyPerEpoch":[0.7]}
      """
    let summary = try JSONDecoder().decode(TrainingSummary.self, from: Data(json.utf8))
    #expect(summary.trainingCurve.isEmpty && summary.testAccuracy == 0.7)
  }

  @Test func oneEpochAndEmptyPlotsAreStillValid() throws {
    let one = LinePlot(title: "one", series: [.init(name: "loss", values: [0.4])])
    #expect(elements(one.svg()) != nil)
    #expect(one.svg().contains("<circle"))
    let empty = LinePlot(title: "none", series: [])
    #expect(elements(empty.svg()) != nil)
  }
}

@Suite struct HighlighterTests {
  @Test func tokens() {
    let html = SwiftHighlighter.html(
      "let x: Tensor = f(\"a<b\", 0.5) // note <i>\n/* c */ @discardableResult")
    #expect(html.contains("<span class=\"kw\">let</span>"))
    #expect(html.contains("<span class=\"ty\">Tensor</span>"))
    #expect(html.contains("<span class=\"str\">&quot;a&lt;b&quot;</span>"))
    #expect(html.contains("<span class=\"num\">0.5</span>"))
    #expect(html.contains("<span class=\"com\">// note &lt;i&gt;</span>"))
    #expect(html.contains("<span class=\"com\">/* c */</span>"))
    #expect(html.contains("<span class=\"at\">@discardableResult</span>"))
  }

  @Test func leadingTitleIsDroppedOnce() {
    #expect(ReportModel.dropLeadingTitle("\n# Batch Norm\n\ntext\n", title: "Batch norm") == "\n\ntext\n")
    #expect(ReportModel.dropLeadingTitle("# Other\n", title: "Batch norm") == "# Other\n")
  }

  @Test func headingsGetIDs() {
    var used: Set<String> = []
    let (html, headings) = MarkdownHTML.addHeadingIDs(
      MarkdownHTML.render("## A *b* & c\n\ntext\n\n## A *b* & c\n"), used: &used)
    #expect(headings.map(\.id) == ["a-b--c", "a-b--c-1"])
    #expect(html.contains("<h2 id=\"a-b--c\">A <em>b</em> &amp; c</h2>"))
  }
}

@Suite struct ProgressBarTests {
  final class Sink: @unchecked Sendable {
    var text = ""
  }

  @Test func linesModePrintsOneLinePerEpoch() {
    let sink = Sink()
    var t = 0.0
    let bar = ProgressBar(label: "lenet", style: .lines, write: { sink.text += $0 }, clock: { t })
    for batch in 1...10 {
      t += 0.01
      bar.update(epoch: 1, epochs: 2, batch: batch, batches: 10, examplesPerSecond: 500, loss: 0.7)
    }
    bar.endEpoch(summary: "loss 0.700, train acc 0.500, test acc 0.400")
    bar.finish()
    #expect(sink.text == "lenet epoch 1/2: loss 0.700, train acc 0.500, test acc 0.400 (0.1s, 500 ex/s)\n")
  }

  @Test func terminalModeThrottlesRedraws() {
    let sink = Sink()
    var t = 0.0
    let bar = ProgressBar(
      label: "net", style: .terminal(width: 120), write: { sink.text += $0 }, clock: { t })
    for batch in 1...100 {
      t += 0.01  // 100 updates over one second: about ten redraws
      bar.update(epoch: 1, epochs: 1, batch: batch, batches: 100, examplesPerSecond: 1e4, loss: 1)
    }
    let draws = sink.text.components(separatedBy: "\r").count - 1
    #expect(draws >= 9 && draws <= 12)
    #expect(sink.text.contains("epoch 1/1"))
    #expect(sink.text.contains("100/100"))
    #expect(sink.text.contains("ETA"))
    bar.finish()
    #expect(sink.text.hasSuffix("\r\u{1B}[K"))
  }

  @Test func silentPrintsNothing() {
    let sink = Sink()
    let bar = ProgressBar(label: "x", style: .silent, write: { sink.text += $0 })
    bar.update(epoch: 1, epochs: 1, batch: 1, batches: 1, examplesPerSecond: 1, loss: 1)
    bar.endEpoch(summary: "s")
    bar.finish()
    #expect(sink.text.isEmpty)
  }
}
