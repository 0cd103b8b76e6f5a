import ChapterFormat
import Foundation

/// `chapter sweep 7.5 --set lr=0.1,0.5,1.0 --set batchSize=128,256`: runs a
/// section once per combination of values and writes one comparison report
/// (a table of parameters against final loss, accuracies, throughput and
/// time, and the curves of every run overlaid in one SVG) to
/// `<output>/sweeps/`. Individual section reports are not written.
public enum SectionSweep {
  /// One axis of a sweep: a parameter and the values it takes, as typed.
  public struct Axis: Sendable, Equatable {
    public var name: String
    public var values: [String]
  }

  /// One run of the sweep.
  public struct Run: Sendable {
    public var assignment: [(name: String, value: String)]
    public var trainings: [TrainingSummary]
    public var seconds: Double
    public var failure: String?
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

  /// Plans every combination (so that a bad value stops the sweep before anything runs),
  /// runs them in order, and writes the comparison report. `prepare` is called before each
  /// run (it seeds the engine). Returns the paths of the HTML and Markdown reports.
  public static func run(
    _ program: SectionProgram, options: RunOptions, axes: [Axis], prepare: () -> Void
  ) throws -> (html: String, markdown: String, runs: [Run]) {
    let combos = combinations(axes)
    let plans = try combos.map { combo -> RunPlan in
      var o = options
      for (name, value) in combo { o.overrides[name] = value }
      return try RunPlan(program: program, options: o)
    }
    let folder = options.outputDirectory + "/sweeps"
    try AtomicFile.prepareFolder(folder)
    var runs: [Run] = []
    for (combo, plan) in zip(combos, plans) {
      prepare()
      let (session, seconds, _) = SectionRunner.execute(plan)
      // Stopped by a signal: no comparison of half the runs; the checkpoints stay for --resume.
      if let stop = session.interruption { throw stop }
      if session.succeeded { session.removeCheckpoints() }
      runs.append(Run(
        assignment: combo, trainings: session.trainings, seconds: seconds,
        failure: SectionRunner.failureMessage(session, plan)))
    }
    let base = "\(program.slug)-" + axes.map(\.name).joined(separator: "-")
    let title = "\(program.number) sweep over " + axes.map(\.name).joined(separator: ", ")
      + " (profile \(plans.first?.settings.profile ?? "?"))"
    let plot = overlay(runs, title: title)
    let svgName = base + ".svg"
    try AtomicFile.write(plot.svg(), to: folder + "/" + svgName)
    let markdown = markdownReport(runs, axes: axes, title: title, svgName: svgName)
    let html = htmlReport(runs, axes: axes, title: title, svg: plot.svg())
    try AtomicFile.write(markdown, to: folder + "/" + base + ".md")
    try AtomicFile.write(html, to: folder + "/" + base + ".html")
    return (folder + "/" + base + ".html", folder + "/" + base + ".md", runs)
  }

  static func label(_ run: Run, _ training: TrainingSummary, many: Bool) -> String {
    let params = run.assignment.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
    return many ? "\(params) \(training.network)" : params
  }

  /// Training loss and test accuracy of every run, one colour per run.
  static func overlay(_ runs: [Run], title: String) -> LinePlot {
    let many = Set(runs.flatMap { $0.trainings.map(\.network) }).count > 1
    var series: [LinePlot.Series] = []
    for run in runs {
      for t in run.trainings {
        let name = label(run, t, many: many)
        series.append(.init(name: name + " loss", values: t.lossPerEpoch))
        series.append(.init(name: name + " test acc", values: t.testAccuracyPerEpoch))
      }
    }
    return LinePlot(title: title, series: series, width: 760, height: 400)
  }

  static func rows(_ runs: [Run]) -> [[String]] {
    var rows: [[String]] = []
    for run in runs {
      let params = run.assignment.map(\.value)
      if let failure = run.failure, run.trainings.isEmpty {
        rows.append(params + ["—", "failed: " + failure, "", "", "", "", String(format: "%.1f s", run.seconds)])
      }
      for t in run.trainings {
        rows.append(params + [
          t.network, String(format: "%.3f", t.finalLoss), String(format: "%.3f", t.trainAccuracy),
          String(format: "%.3f", t.testAccuracy), String(format: "%.1f", t.examplesPerSecond),
          String(format: "%.1f s", t.wallSeconds), String(format: "%.1f s", run.seconds),
        ])
      }
    }
    return rows
  }

  static let metricHeaders = ["network", "loss", "train acc", "test acc", "examples/s", "training time", "run time"]

  static func markdownReport(_ runs: [Run], axes: [Axis], title: String, svgName: String) -> String {
    let headers = axes.map { "`\($0.name)`" } + metricHeaders
    var s = "# \(title)\n\n| " + headers.joined(separator: " | ") + " |\n|"
    s += String(repeating: "---|", count: headers.count) + "\n"
    for row in rows(runs) {
      s += "| " + row.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n"
    }
    s += "\n![Training loss and test accuracy of every run](\(svgName))\n"
    return s
  }

  static func htmlReport(_ runs: [Run], axes: [Axis], title: String, svg: String) -> String {
    let e = HTML.escape
    var table = "<table><tr>" + (axes.map { "<th><code>\(e($0.name))</code></th>" } + metricHeaders.map { "<th>\(e($0))</th>" }).joined() + "</tr>\n"
    for row in rows(runs) { table += "<tr>" + row.map { "<td>\(e($0))</td>" }.joined() + "</tr>\n" }
    table += "</table>"
    return """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
      <title>\(e(title))</title>
      <style>body { font: 16px/1.5 Helvetica, Arial, sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em; }
      table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: 4px 8px; text-align: right; }
      th { background: #f4f4f4; }</style>
      </head>
      <body>
      <p><a href="../index.html">Index</a></p>
      <h1>\(e(title))</h1>
      \(table)
      <figure>\(svg)<figcaption>Training loss and test accuracy per epoch of every run.</figcaption></figure>
      </body>
      </html>

      """
  }
}
