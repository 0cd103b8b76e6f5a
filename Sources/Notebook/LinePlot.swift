import Common
import Foundation

/// A small, self-contained SVG line chart in the style of d2l's training plots: an x axis of
/// epochs, a y axis from 0, one line per named series with its own colour and dash pattern,
/// a legend beside the plot. The output depends only on the input (no ids, no dates), so two
/// runs with the same numbers give byte-identical figures.
public struct LinePlot: Sendable, Equatable {
  /// One curve. `x` defaults to 1, 2, 3, ... (epochs). With `low` and `high` (one value per
  /// point each), a band between them is shaded in the curve's colour: the spread of runs
  /// whose mean the curve is.
  public struct Series: Sendable, Equatable {
    public var name: String
    public var values: [Double]
    public var x: [Double]?
    public var low: [Double]?
    public var high: [Double]?
    public init(
      name: String, values: [Double], x: [Double]? = nil, low: [Double]? = nil,
      high: [Double]? = nil
    ) {
      self.name = name
      self.values = values
      self.x = x
      self.low = low
      self.high = high
    }
  }

  public var title: String
  public var xLabel: String
  public var yLabel: String
  public var series: [Series]
  public var width: Int
  public var height: Int
  /// The x axis's extent; nil: from the smallest to the largest x.
  public var xRange: ClosedRange<Double>?

  public init(
    title: String, xLabel: String = "epoch", yLabel: String = "", series: [Series],
    width: Int = 600, height: Int = 340, xRange: ClosedRange<Double>? = nil
  ) {
    self.title = title
    self.xLabel = xLabel
    self.yLabel = yLabel
    self.series = series
    self.width = width
    self.height = height
    self.xRange = xRange
  }

  /// The three curves `train_ch6` draws, as the book draws them: training loss and accuracy
  /// five times per epoch (the running values of the epoch so far, at fractional epochs),
  /// test accuracy at each epoch's end, on an axis from 0 to the last epoch. A record without
  /// the finer curve draws its per-epoch values.
  public static func trainingCurves(_ summary: TrainingSummary) -> LinePlot {
    let curve = summary.trainingCurve
    let epochs = (1...max(summary.testAccuracyPerEpoch.count, 1)).map(Double.init)
    let train: [Series] =
      curve.isEmpty
      ? [
        Series(name: "train loss", values: summary.lossPerEpoch),
        Series(name: "train acc", values: summary.trainAccuracyPerEpoch),
      ]
      : [
        Series(name: "train loss", values: curve.map(\.loss), x: curve.map(\.epoch)),
        Series(name: "train acc", values: curve.map(\.trainAccuracy), x: curve.map(\.epoch)),
      ]
    return LinePlot(
      title: summary.network,
      series: train + [Series(name: "test acc", values: summary.testAccuracyPerEpoch, x: epochs)],
      xRange: 0...Double(max(summary.epochs, summary.testAccuracyPerEpoch.count, 1)))
  }

  /// d2l's styles, in order: solid blue, dashed magenta, dash-dot green, dotted red, ...
  static let styles: [(color: String, dash: String?)] = [
    ("#1f77b4", nil), ("#c2187a", "7 4"), ("#2e7d32", "9 3 2 3"), ("#d62728", "2 3"),
    ("#ff7f0e", "12 4"), ("#6a3d9a", "4 2 4 6"), ("#8c564b", nil), ("#17becf", "7 4"),
  ]

  /// The chart as one `<svg>` element (no XML declaration: it is inlined in HTML pages and,
  /// with the namespace it declares, also valid as an `.svg` file).
  public func svg() -> String {
    let legendWidth = series.isEmpty ? 0 : 20 + 30 + 7 * min(series.map(\.name.count).max() ?? 0, 24)
    let left = 52.0, right = Double(width - legendWidth) - 12, top = 34.0
    let bottom = Double(height) - 44
    let points = series.map { s in
      s.values.enumerated().map { (i, v) in (s.x.flatMap { i < $0.count ? $0[i] : nil } ?? Double(i + 1), v) }
    }
    let xs = points.flatMap { $0.map(\.0) }.filter(\.isFinite)
    let ys = (points.flatMap { $0.map(\.1) } + series.flatMap { $0.high ?? [] }).filter(\.isFinite)
    var xMin = xRange?.lowerBound ?? xs.min() ?? 1, xMax = xRange?.upperBound ?? xs.max() ?? 1
    if xMax - xMin < 1e-12 {
      xMin = max(xMin - 1, 0)
      xMax = xMin + 2
    }
    let yTicks = Self.niceTicks(max: max(ys.max() ?? 1, 0))
    let yMax = yTicks.last ?? 1
    let xTicks = Self.xTicks(xMin, xMax)
    func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * (right - left) }
    func py(_ y: Double) -> Double { bottom - y / yMax * (bottom - top) }

    var svg = SVGText()
    svg.out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\""
    svg.out += " viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"\(Self.escape(title))\""
    svg.out += " font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
    svg.out += "<title>\(Self.escape(title))</title>\n"
    svg.out += "<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"#ffffff\"/>\n"
    svg.text((left + right) / 2, 20, title, anchor: "middle", " font-size=\"14\" font-weight=\"bold\"")
    // Grid and ticks.
    svg.out += "<g stroke=\"#e3e3e3\" stroke-width=\"1\">\n"
    for t in yTicks { svg.line(left, py(t), right, py(t)) }
    for t in xTicks { svg.line(px(t), top, px(t), bottom) }
    svg.out += "</g>\n"
    svg.out += "<g fill=\"#333333\">\n"
    for t in yTicks { svg.text(left - 6, py(t) + 4, Self.label(t), anchor: "end") }
    for t in xTicks { svg.text(px(t), bottom + 16, Self.label(t), anchor: "middle") }
    svg.text((left + right) / 2, bottom + 34, xLabel, anchor: "middle")
    if !yLabel.isEmpty {
      let middle = Self.n((top + bottom) / 2)
      svg.text(14, (top + bottom) / 2, yLabel, anchor: "middle", " transform=\"rotate(-90 14 \(middle))\"")
    }
    svg.out += "</g>\n"
    svg.out += "<rect x=\"\(Self.n(left))\" y=\"\(Self.n(top))\" width=\"\(Self.n(right - left))\""
    svg.out += " height=\"\(Self.n(bottom - top))\" fill=\"none\" stroke=\"#555555\"/>\n"
    // Bands first, under every curve.
    for (i, s) in series.enumerated() {
      guard let low = s.low, let high = s.high else { continue }
      let xs = points[i].map(\.0)
      let corners = zip(xs, zip(low, high)).filter { $0.0.isFinite && $0.1.0.isFinite && $0.1.1.isFinite }
      let color = Self.styles[i % Self.styles.count].color
      if corners.count == 1, let (x, (lo, hi)) = corners.first {
        // One point (a one-epoch run): the band is a short bar over its range.
        svg.out += "<rect x=\"\(Self.n(px(x) - 3))\" y=\"\(Self.n(py(hi)))\" width=\"6\""
        svg.out += " height=\"\(Self.n(max(py(lo) - py(hi), 1)))\" fill=\"\(color)\" fill-opacity=\"0.15\"/>\n"
        continue
      }
      guard corners.count > 1 else { continue }
      let upper = corners.map { "\(Self.n(px($0.0))),\(Self.n(py($0.1.1)))" }
      let lower = corners.reversed().map { "\(Self.n(px($0.0))),\(Self.n(py($0.1.0)))" }
      svg.out += "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(color)\""
      svg.out += " fill-opacity=\"0.15\" stroke=\"none\"/>\n"
    }
    // Curves: a NaN breaks the line rather than dragging it to 0.
    for (i, s) in series.enumerated() {
      let style = Self.styles[i % Self.styles.count]
      var d = ""
      var pen = false
      var dots: [(Double, Double)] = []
      for (x, y) in points[i] {
        guard x.isFinite, y.isFinite else {
          pen = false
          continue
        }
        d += (pen ? " L" : (d.isEmpty ? "M" : " M")) + "\(Self.n(px(x))) \(Self.n(py(y)))"
        pen = true
        dots.append((px(x), py(y)))
      }
      let dash = Self.dash(style)
      svg.out += "<g><title>\(Self.escape(s.name))</title>\n"
      if !d.isEmpty {
        svg.out += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(style.color)\" stroke-width=\"2\"\(dash)/>\n"
      }
      // Markers, so that a one-epoch run still shows its points.
      for (x, y) in dots {
        svg.out += "<circle cx=\"\(Self.n(x))\" cy=\"\(Self.n(y))\" r=\"2.5\" fill=\"\(style.color)\"/>\n"
      }
      svg.out += "</g>\n"
    }
    // Legend.
    if !series.isEmpty {
      let lx = right + 18
      svg.out += "<g>\n"
      for (i, s) in series.enumerated() {
        let style = Self.styles[i % Self.styles.count]
        let y = top + 10 + Double(i) * 20
        svg.line(lx, y, lx + 24, y, " stroke=\"\(style.color)\" stroke-width=\"2\"\(Self.dash(style))")
        svg.text(lx + 30, y + 4, s.name, " fill=\"#333333\"")
      }
      svg.out += "</g>\n"
    }
    svg.out += "</svg>\n"
    return svg.out
  }

  /// 0 and about five round steps up to at least `max` (1, 2, 2.5 or 5 times a power of 10).
  static func niceTicks(max: Double) -> [Double] {
    let top = max > 0 && max.isFinite ? max : 1
    let raw = top / 5
    let magnitude = pow(10, floor(log10(raw)))
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].map { $0 * magnitude }.first { $0 >= raw } ?? raw
    var ticks: [Double] = []
    var t = 0.0
    while t < top - step * 1e-9 {
      ticks.append(t)
      // Round away binary noise (3 * 0.2 = 0.6000000000000001) so labels and tests see 0.6.
      t = Double(String(format: "%.12g", Double(ticks.count) * step)) ?? Double(ticks.count) * step
    }
    ticks.append(t)
    return ticks
  }

  /// Ticks at most about ten: whole numbers (epochs), or fifths and halves on an axis
  /// shorter than two epochs, where a run's points sit between whole epochs.
  static func xTicks(_ lo: Double, _ hi: Double) -> [Double] {
    let span = hi - lo
    let steps: [Double] = span < 2 ? [0.2, 0.5, 1] : [1, 2, 5, 10, 20, 50, 100, 200, 500]
    let step = steps.first { span / $0 <= 10 } ?? max(1, span / 10)
    var k = (lo / step - 1e-9).rounded(.up)
    var ticks: [Double] = []
    while k * step <= hi + 1e-9 {
      // k * step, not a running sum: 3 * 0.2 must print as 0.6.
      ticks.append(Double(String(format: "%.12g", k * step)) ?? k * step)
      k += 1
    }
    return ticks
  }

  /// Coordinates with one decimal, so output is stable and small.
  static func n(_ v: Double) -> String {
    let s = String(format: "%.1f", v)
    return s.hasSuffix(".0") ? String(s.dropLast(2)) : s
  }

  static func label(_ v: Double) -> String {
    if v == v.rounded() && abs(v) < 1e9 { return String(Int(v)) }
    var s = String(format: "%.3f", v)
    while s.hasSuffix("0") { s.removeLast() }
    return s
  }

  static func escape(_ s: String) -> String { HTML.escape(s) }

  /// A style's dash pattern as an attribute; empty for a solid line.
  static func dash(_ style: (color: String, dash: String?)) -> String {
    style.dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
  }
}

/// SVG being written: the two elements the chart repeats, with coordinates as `LinePlot.n`
/// prints them and text escaped.
private struct SVGText {
  var out = ""

  mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ attributes: String = "") {
    out += "<line x1=\"\(LinePlot.n(x1))\" y1=\"\(LinePlot.n(y1))\" x2=\"\(LinePlot.n(x2))\""
    out += " y2=\"\(LinePlot.n(y2))\"\(attributes)/>\n"
  }

  mutating func text(
    _ x: Double, _ y: Double, _ content: String, anchor: String? = nil, _ attributes: String = ""
  ) {
    let anchorAttribute = anchor.map { " text-anchor=\"\($0)\"" } ?? ""
    out += "<text x=\"\(LinePlot.n(x))\" y=\"\(LinePlot.n(y))\"\(anchorAttribute)\(attributes)>"
    out += "\(LinePlot.escape(content))</text>\n"
  }
}
