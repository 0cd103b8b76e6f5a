import ChapterFormat
import Common
import Foundation

/// `chapter sweep 7.5 --set lr=0.1,0.5,1.0 --set batchSize=128,256 [--variant base,without-bn]
/// [--seed 0,1,2]`: runs a section once per combination of variant, values and seed (each
/// run through the training cache, so a combination already trained costs seconds) and
/// writes one comparison report to `<output>/sweeps/`. With more than one seed, each
/// combination of variant and values gets one row per training: its test accuracy's mean
/// and spread (min–max) over the seeds beside the book's, and one curve of the mean with a
/// band from the lowest to the highest seed. A table of every single run follows, and the
/// section's own reports are not written.
public enum SectionSweep {
  /// One axis of a sweep: a parameter and the values it takes, as typed.
  public struct Axis: Sendable, Equatable {
    public var name: String
    public var values: [String]
  }

  /// One run of the sweep.
  public struct Run: Sendable {
    /// `--variant`'s value for this run; nil for the chapter as it is (`base`).
    public var variant: String? = nil
    public var assignment: [(name: String, value: String)]
    public var seed: UInt64 = 0
    public var trainings: [TrainingSummary]
    public var seconds: Double
    public var failure: String?
  }

  /// The name `--variant` lists for the chapter without a variant.
  public static let baseVariant = "base"

  /// `base,without-bn` as the variants to run: nil stands for `base`.
  public static func variants(_ text: String?) throws -> [String?] {
    guard let text else { return [nil] }
    let names = text.split(separator: ",", omittingEmptySubsequences: false)
      .map { $0.trimmingCharacters(in: .whitespaces) }
    guard names.allSatisfy({ !$0.isEmpty }) else {
      throw NotebookError("--variant: empty name in '\(text)'")
    }
    guard Set(names).count == names.count else {
      throw NotebookError("--variant: a variant is listed twice in '\(text)'")
    }
    return names.map { $0 == baseVariant ? nil : $0 }
  }

  /// Splits `NAME=V1,V2,...` arguments; commas inside brackets, parentheses or
  /// quotes belong to a value (`convArch=[(1,64),(2,128)],[(2,64)]`).
  public static func axes(_ arguments: [String]) throws -> [Axis] {
    var axes: [Axis] = []
    for argument in arguments {
      guard let eq = argument.firstIndex(of: "="), eq != argument.startIndex else {
        throw NotebookError("--set expects NAME=VALUE[,VALUE...], got '\(argument)'")
      }
      let name = String(argument[..<eq])
      let values = splitTopLevel(String(argument[argument.index(after: eq)...]))
      guard !values.isEmpty, values.allSatisfy({ !$0.isEmpty }) else {
        throw NotebookError("--set \(name): empty value in '\(argument)'")
      }
      guard !axes.contains(where: { $0.name == name }) else {
        throw NotebookError("--set \(name) is given twice; list its values in one --set")
      }
      axes.append(Axis(name: name, values: values))
    }
    return axes
  }

  static func splitTopLevel(_ text: String) -> [String] {
    var parts: [String] = [], current = "", depth = 0, inString = false, escaped = false
    for c in text {
      if inString {
        current.append(c)
        if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
        continue
      }
      switch c {
      case "\"": inString = true; current.append(c)
      case "[", "(": depth += 1; current.append(c)
      case "]", ")": depth -= 1; current.append(c)
      case "," where depth == 0:
        parts.append(current.trimmingCharacters(in: .whitespaces))
        current = ""
      default: current.append(c)
      }
    }
    parts.append(current.trimmingCharacters(in: .whitespaces))
    return parts
  }

  /// Every combination, the first axis varying slowest.
  public static func combinations(_ axes: [Axis]) -> [[(name: String, value: String)]] {
    axes.reduce([[]]) { partial, axis in
      partial.flatMap { prefix in axis.values.map { prefix + [(axis.name, $0)] } }
    }
  }

  /// Plans every combination (so that a bad value or variant stops the sweep before anything
  /// runs), runs them in order, and writes the comparison report. `prepare` is called before
  /// each run with its seed (it seeds the engine). Returns the paths of the HTML and Markdown
  /// reports.
  public static func run(
    _ program: SectionProgram, options: RunOptions, axes: [Axis], variants: [String?] = [nil],
    seeds: [UInt64]? = nil, prepare: (UInt64) -> Void
  ) throws -> (html: String, markdown: String, runs: [Run]) {
    let seeds = seeds ?? [options.seed]
    let combos = combinations(axes)
    var planned: [(variant: String?, combo: [(name: String, value: String)], seed: UInt64, plan: RunPlan)] = []
    for variant in variants {
      for combo in combos {
        for seed in seeds {
          var o = options
          o.variant = variant
          o.seed = seed
          for (name, value) in combo { o.overrides[name] = value }
          planned.append((variant, combo, seed, try RunPlan(program: program, options: o)))
        }
      }
    }
    let folder = options.outputDirectory + "/sweeps"
    try AtomicFile.prepareFolder(folder)
    var runs: [Run] = []
    for p in planned {
      prepare(p.seed)
      let (session, seconds, _) = SectionRunner.execute(p.plan)
      // Stopped by a signal: no comparison of half the runs; the checkpoints stay for --resume.
      if let stop = session.interruption { throw stop }
      if session.succeeded { session.removeCheckpoints() }
      runs.append(Run(
        variant: p.variant, assignment: p.combo, seed: p.seed, trainings: session.trainings,
        seconds: seconds, failure: SectionRunner.failureMessage(session, p.plan)))
    }
    let dimensions = (variants != [nil] ? ["variant"] : []) + axes.map(\.name)
      + (seeds.count > 1 ? ["seed"] : [])
    let base = "\(program.slug)-" + dimensions.joined(separator: "-")
    let title = "\(program.number) sweep over " + dimensions.joined(separator: ", ")
      + " (profile \(planned.first?.plan.settings.profile ?? "?"))"
    let layout = Layout(axes: axes, variants: variants != [nil], seeds: seeds.count > 1)
    let plot = overlay(runs, title: title, layout: layout)
    let svgName = base + ".svg"
    try AtomicFile.write(plot.svg(), to: folder + "/" + svgName)
    let markdown = markdownReport(runs, layout: layout, title: title, svgName: svgName)
    let html = htmlReport(runs, layout: layout, title: title, svg: plot.svg())
    try AtomicFile.write(markdown, to: folder + "/" + base + ".md")
    try AtomicFile.write(html, to: folder + "/" + base + ".html")
    return (folder + "/" + base + ".html", folder + "/" + base + ".md", runs)
  }

  /// Which dimensions the sweep has, for its tables' columns.
  struct Layout {
    var axes: [Axis]
    var variants: Bool
    var seeds: Bool

    /// The columns that name a combination (without the seed).
    var combinationHeaders: [String] {
      (variants ? ["variant"] : []) + axes.map { "`\($0.name)`" }
    }

    func combination(_ run: Run) -> [String] {
      (variants ? [run.variant ?? SectionSweep.baseVariant] : []) + run.assignment.map(\.value)
    }

    /// A combination as the figure's legend names it: `without-bn lr=0.1`.
    func legend(_ run: Run) -> [String] {
      (variants ? [run.variant ?? SectionSweep.baseVariant] : [])
        + run.assignment.map { "\($0.name)=\($0.value)" }
    }
  }

  /// The runs of one combination of variant and values, over the seeds.
  struct Group {
    var variant: String?
    var assignment: [(name: String, value: String)]
    var runs: [Run]
  }

  static func groups(_ runs: [Run]) -> [Group] {
    var groups: [Group] = []
    for run in runs {
      let key = (run.variant, run.assignment.map(\.value))
      if let i = groups.firstIndex(where: { ($0.variant, $0.assignment.map(\.value)) == key }) {
        groups[i].runs.append(run)
      } else {
        groups.append(Group(variant: run.variant, assignment: run.assignment, runs: [run]))
      }
    }
    return groups
  }

  /// The mean and the lowest and highest of `values` (NaNs, from failed runs, left out).
  static func spread(_ values: [Double]) -> (mean: Double, min: Double, max: Double)? {
    let v = values.filter(\.isFinite)
    guard let lo = v.min(), let hi = v.max() else { return nil }
    return (v.reduce(0, +) / Double(v.count), lo, hi)
  }

  /// Per epoch, the mean, lowest and highest of the runs' series (as long as the shortest).
  static func epochSpread(_ series: [[Double]]) -> (mean: [Double], low: [Double], high: [Double]) {
    let n = series.map(\.count).min() ?? 0
    var mean: [Double] = [], low: [Double] = [], high: [Double] = []
    for e in 0..<n {
      let s = spread(series.map { $0[e] }) ?? (.nan, .nan, .nan)
      mean.append(s.mean)
      low.append(s.min)
      high.append(s.max)
    }
    return (mean, low, high)
  }

  /// A group's k-th trainings, one per run that has one.
  static func trainings(_ group: Group, _ k: Int) -> [TrainingSummary] {
    group.runs.compactMap { k < $0.trainings.count ? $0.trainings[k] : nil }
  }

  static func label(_ values: [String], _ training: TrainingSummary, many: Bool) -> String {
    let params = values.joined(separator: " ")
    return many ? "\(params) \(training.network)" : params
  }

  /// Training loss and test accuracy per epoch: one curve per run, or with several seeds one
  /// curve per combination (the mean over its seeds, in a band from the lowest to the highest).
  static func overlay(_ runs: [Run], title: String, layout: Layout) -> LinePlot {
    let many = Set(runs.flatMap { $0.trainings.map(\.network) }).count > 1
    var series: [LinePlot.Series] = []
    if layout.seeds {
      for group in groups(runs) {
        let count = group.runs.map(\.trainings.count).max() ?? 0
        for k in 0..<count {
          let ts = trainings(group, k)
          guard let first = ts.first else { continue }
          let name = label(layout.legend(group.runs[0]), first, many: many)
            + " (mean of \(ts.count))"
          let loss = epochSpread(ts.map(\.lossPerEpoch))
          let test = epochSpread(ts.map(\.testAccuracyPerEpoch))
          series.append(.init(name: name + " loss", values: loss.mean, low: loss.low, high: loss.high))
          series.append(.init(name: name + " test acc", values: test.mean, low: test.low, high: test.high))
        }
      }
    } else {
      for run in runs {
        for t in run.trainings {
          let name = label(layout.legend(run), t, many: many)
          series.append(.init(name: name + " loss", values: t.lossPerEpoch))
          series.append(.init(name: name + " test acc", values: t.testAccuracyPerEpoch))
        }
      }
    }
    return LinePlot(title: title, series: series, width: 760, height: 400)
  }

  static let summaryHeaders = [
    "network", "seeds", "test acc (mean)", "min–max", "the book", "difference", "loss (mean)",
    "train acc (mean)", "training time (mean)",
  ]

  /// One row per combination and training: the spread over the seeds.
  static func summaryRows(_ runs: [Run], layout: Layout) -> [[String]] {
    var rows: [[String]] = []
    for group in groups(runs) {
      let count = group.runs.map(\.trainings.count).max() ?? 0
      let failed = group.runs.filter { $0.failure != nil }.map { "seed \($0.seed)" }
      for k in 0..<count {
        let ts = trainings(group, k)
        guard let first = ts.first, let test = spread(ts.map(\.testAccuracy)) else { continue }
        let f3 = { (v: Double) in String(format: "%.3f", v) }
        let book = first.bookTestAccuracy
        rows.append(layout.combination(group.runs[0]) + [
          first.network,
          "\(ts.count)" + (failed.isEmpty ? "" : " (failed: \(failed.joined(separator: ", ")))"),
          f3(test.mean), "\(f3(test.min))–\(f3(test.max))",
          book.map(f3) ?? "", book.map { accuracyDifference(test.mean, book: $0) } ?? "",
          spread(ts.map(\.finalLoss)).map { f3($0.mean) } ?? "",
          spread(ts.map(\.trainAccuracy)).map { f3($0.mean) } ?? "",
          spread(ts.map(\.wallSeconds)).map { String(format: "%.1f s", $0.mean) } ?? "",
        ])
      }
    }
    return rows
  }

  static func rows(_ runs: [Run], layout: Layout) -> [[String]] {
    var rows: [[String]] = []
    for run in runs {
      let params = layout.combination(run) + (layout.seeds ? ["\(run.seed)"] : [])
      if let failure = run.failure, run.trainings.isEmpty {
        rows.append(params + ["—", "failed: " + failure, "", "", "", "", String(format: "%.1f s", run.seconds)])
      }
      for t in run.trainings {
        rows.append(params + [
          t.network, String(format: "%.3f", t.finalLoss), String(format: "%.3f", t.trainAccuracy),
          String(format: "%.3f", t.testAccuracy), String(format: "%.1f", t.examplesPerSecond),
          t.timeText, String(format: "%.1f s", run.seconds),
        ])
      }
    }
    return rows
  }

  static func runHeaders(_ layout: Layout) -> [String] {
    layout.combinationHeaders + (layout.seeds ? ["seed"] : []) + metricHeaders
  }

  static let metricHeaders = ["network", "loss", "train acc", "test acc", "examples/s", "training time", "run time"]

  /// The report's tables in order, each with the sentence that introduces it: with several
  /// seeds the combinations' summary and then every run; otherwise every run alone. Both
  /// report formats render this list.
  static func tables(_ runs: [Run], layout: Layout)
    -> [(intro: String?, headers: [String], rows: [[String]])]
  {
    let every = (headers: runHeaders(layout), rows: rows(runs, layout: layout))
    guard layout.seeds else { return [(nil, every.headers, every.rows)] }
    return [
      ("Each combination over its seeds: the mean test accuracy and its spread, beside the book's.",
       layout.combinationHeaders + summaryHeaders, summaryRows(runs, layout: layout)),
      ("Every run:", every.headers, every.rows),
    ]
  }

  static func markdownReport(_ runs: [Run], layout: Layout, title: String, svgName: String) -> String {
    func table(_ headers: [String], _ rows: [[String]]) -> String {
      var t = "| " + headers.joined(separator: " | ") + " |\n|"
      t += String(repeating: "---|", count: headers.count) + "\n"
      for row in rows {
        t += "| " + row.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n"
      }
      return t
    }
    var s = "# \(title)\n\n"
    for t in tables(runs, layout: layout) {
      if let intro = t.intro { s += intro + "\n\n" }
      s += table(t.headers, t.rows) + "\n"
    }
    s += "![Training loss and test accuracy of every run](\(svgName))\n"
    return s
  }

  static func htmlReport(_ runs: [Run], layout: Layout, title: String, svg: String) -> String {
    let e = HTML.escape
    func htmlTable(_ headers: [String], _ rows: [[String]]) -> String {
      var t = "<table><tr>" + headers.map { h in
        h.hasPrefix("`") ? "<th><code>\(e(h.trimmingCharacters(in: CharacterSet(charactersIn: "`"))))</code></th>"
          : "<th>\(e(h))</th>"
      }.joined() + "</tr>\n"
      for row in rows { t += "<tr>" + row.map { "<td>\(e($0))</td>" }.joined() + "</tr>\n" }
      return t + "</table>"
    }
    let table = tables(runs, layout: layout).map { t in
      (t.intro.map { "<p>\($0)</p>\n" } ?? "") + htmlTable(t.headers, t.rows)
    }.joined(separator: "\n")
    let style = """
      body { font: 16px/1.5 Helvetica, Arial, sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em; }
      table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: 4px 8px; text-align: right; }
      th { background: #f4f4f4; }
      """
    return HTMLReport.pageStart(title: title, style: style) + """
      <p><a href="../index.html">Index</a></p>
      <h1>\(e(title))</h1>
      \(table)
      <figure>\(svg)<figcaption>Training loss and test accuracy per epoch of every run.</figcaption></figure>
      </body>
      </html>

      """
  }
}
