import Common
import ChapterFormat
import Foundation

/// The Markdown report, for GitHub: figures are `.svg` files beside it, linked relatively.
enum MarkdownReport {
  /// The page and the figure files it links (`name` relative to the report's folder).
  static func render(_ model: ReportModel, figureName: (Int) -> String)
    -> (text: String, figures: [(name: String, svg: String)])
  {
    var s = ""
    let fileName = model.fileName
    s += navigation(model) + "\n\n"
    s += "# \(model.heading)\n\n"
    if let d = model.plan.frontMatter.description { s += "\(d)\n\n" }
    s += header(model) + "\n"
    let headings = model.items.flatMap { item -> [(level: Int, text: String)] in
      if case .prose(let p) = item { MarkdownHTML.markdownHeadings(p.markdown) } else { [] }
    }.filter { $0.level >= 2 && $0.level <= 3 }
    if !headings.isEmpty {
      s += "**Contents**\n\n"
      var used: Set<String> = []
      for h in headings {
        // GitHub derives anchors from the heading's text the same way.
        let id = MarkdownHTML.uniqueID(MarkdownHTML.slug(h.text), used: &used)
        s += String(repeating: "  ", count: h.level - 2) + "- [\(h.text)](#\(id))\n"
      }
      s += "\n"
    }
    for item in model.items {
      switch item {
      case .prose(let p):
        s += p.markdown
        if !p.markdown.hasSuffix("\n") { s += "\n" }
        s += "\n"
      case .cell(let cell, let record, let outputLater, let numbers):
        s += "<a id=\"cell-\(cell.id)\"></a>\n"
        var caption = "*Cell `\(cell.id)`"
        if cell.line > 0 { caption += " · \(fileName):\(cell.line)" }
        switch record.status {
        case .ok: caption += " · \(ReportModel.seconds(record.seconds))*"
        case .failed: caption += " · failed after \(ReportModel.seconds(record.seconds))*"
        case .notRun, .running: caption += " · not run*"
        }
        s += caption + "\n\n"
        s += fenced(cell.code, info: "swift")
        if !outputLater, !record.output.isEmpty { s += fenced(record.output, info: "text") }
        for n in numbers { s += figure(model.figures[n - 1], n, figureName) }
        if case .failed(let message) = record.status {
          s += "**Error in cell `\(cell.id)`:**\n\n" + fenced(message, info: "text")
        }
        if record.status == .notRun { s += "*Not run: an earlier cell failed.*\n\n" }
      case .expected(let block, let record):
        if let record, record.status != .notRun, record.status != .running {
          if ReportModel.matches(record.output, block.text) {
            s += "✅ The output of cell `\(record.id)` matches the expected output.\n\n"
          } else {
            s += "❌ The output of cell `\(record.id)` differs from the expected output"
              + " (line \(block.line)). Expected:\n\n" + fenced(block.text, info: "text")
          }
        } else {
          s += "Expected output (not checked: the cell did not run):\n\n"
            + fenced(block.text, info: "text")
        }
      case .reference(let block, let record):
        s += "**The book reports:**\n\n" + fenced(block.text, info: "text")
        s += "**This run:**\n\n"
        if let record, record.status != .notRun, record.status != .running {
          s += fenced(record.output.isEmpty ? "(no output)" : record.output, info: "text")
        } else {
          s += "*(not run)*\n\n"
        }
        for line in ReportModel.accuracyAgainstBook(block, record) { s += "**\(line)**\n\n" }
      case .variant(let v):
        s += "**Variant `\(v.name)`** (`chapter run \(model.plan.program.number) --variant \(v.name)`):\n\n"
        s += fenced(v.assignments.map { "\($0.name) = \($0.literal)" }.joined(separator: "\n"), info: "swift")
      }
    }
    for n in model.sectionFigureNumbers { s += figure(model.figures[n - 1], n, figureName) }
    if let error = model.session.sectionError {
      s += "**Error outside any cell:**\n\n" + fenced(error, info: "text")
    }
    s += "---\n\n" + navigation(model) + "\n"
    let files = model.figures.enumerated().map { (i, f) in (figureName(i + 1), f.svg) }
    return (s, files)
  }

  static func header(_ model: ReportModel) -> String {
    var rows: [(String, String)] = []
    rows.append(("Status", model.succeeded ? "ok" : "**\(cellText(model.statusLine))**"))
    var profile = "`\(model.settings.profile)`"
    if let d = model.plan.profileDescription { profile += " — \(cellText(d))" }
    if model.settings.profile == "book" { profile += " (the book's settings)" }
    rows.append(("Profile", profile))
    for r in model.settingRows {
      rows.append(("Data", "`\(r.name)` = \(r.value) ◆ differs from the book"))
    }
    rows.append(("Seed", "\(model.settings.seed)"))
    rows.append(("Threads", "\(model.settings.threads)"))
    if let v = model.plan.options.variant { rows.append(("Variant", "`\(v)`")) }
    for p in model.parameterRows {
      var v = code(p.value)
      if p.differs { v += " ◆ \(cellText(p.source ?? "changed")); the book: \(code(p.book))" }
      rows.append(("`\(p.name)`", v + " (cell `\(p.cell)`)"))
    }
    for t in model.trainings {
      let v = "\(grouped(t.parameterCount)) parameters, "
        + "\(scaled(t.flopsPerExample))FLOPs/example, \(t.epochs) epoch\(t.epochs == 1 ? "" : "s"): "
        + String(
          format: "loss %.3f, train acc %.3f, test acc ", t.finalLoss, t.trainAccuracy)
        + accuracyText(t.testAccuracy)
        + (t.againstBook.map { " (the book: \($0.book), \($0.difference))" } ?? "")
        + String(format: ", %.1f examples/s, ", t.examplesPerSecond) + t.timeText
      rows.append((cellText(t.network), v))
    }
    for note in model.plan.frontMatter.networks {
      rows.append((note.name.isEmpty ? "Network" : "Network `\(note.name)`", cellText(note.description)))
    }
    rows.append(("Commit", "`\(model.provenance.commit)`"))
    rows.append(("Date", model.provenance.date))
    rows.append(("Machine", cellText(model.provenance.machine)))
    rows.append(("Wall time", ReportModel.seconds(model.totalSeconds)))
    let times = model.records.map { r -> String in
      switch r.status {
      case .ok: "`\(r.id)` \(ReportModel.seconds(r.seconds))"
      case .failed: "`\(r.id)` failed"
      case .notRun, .running: "`\(r.id)` not run"
      }
    }
    if !times.isEmpty { rows.append(("Cells", times.joined(separator: " · "))) }
    var s = "| | |\n|---|---|\n"
    for (k, v) in rows { s += "| \(k) | \(v) |\n" }
    return s
  }

  static func navigation(_ model: ReportModel) -> String {
    var parts: [String] = []
    if let p = model.navigation.previous { parts.append("[← \(p.number) \(p.title)](\(p.slug).md)") }
    if model.navigation.index { parts.append("[Index](index.md)") }
    if let n = model.navigation.next { parts.append("[\(n.number) \(n.title) →](\(n.slug).md)") }
    return parts.joined(separator: " · ")
  }

  static func figure(_ f: Figure, _ n: Int, _ name: (Int) -> String) -> String {
    "![Figure \(n). \(altText(f.caption))](\(name(n)))\n\n*Figure \(n). \(f.caption)*\n\n"
  }

  /// A fenced block whose fence is longer than any run of backticks inside, so output that
  /// contains ``` cannot end it early.
  static func fenced(_ text: String, info: String) -> String {
    var longest = 0, run = 0
    for ch in text {
      if ch == "`" {
        run += 1
        longest = max(longest, run)
      } else {
        run = 0
      }
    }
    let fence = String(repeating: "`", count: max(3, longest + 1))
    let body = text.hasSuffix("\n") ? text : text + "\n"
    return "\(fence)\(info)\n\(body)\(fence)\n\n"
  }

  /// Text safe inside a table cell.
  static func cellText(_ s: String) -> String {
    s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
  }

  /// Inline code in a table cell, even when the value contains backticks or pipes.
  static func code(_ s: String) -> String {
    let ticks = s.contains("`") ? "``" : "`"
    let pad = s.hasPrefix("`") || s.hasSuffix("`") ? " " : ""
    return ticks + pad + cellText(s) + pad + ticks
  }

  static func altText(_ s: String) -> String {
    s.replacingOccurrences(of: "[", with: "(").replacingOccurrences(of: "]", with: ")")
      .replacingOccurrences(of: "\n", with: " ")
  }
}
