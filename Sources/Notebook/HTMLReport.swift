import Common
import ChapterFormat
import Foundation

/// The HTML report: one self-contained page (inline CSS and SVG, no script, nothing fetched;
/// a Content-Security-Policy says so to the browser too).
enum HTMLReport {
  static func render(_ model: ReportModel) -> String {
    let e = HTML.escape
    var used: Set<String> = ["contents", "run"]
    var body = ""
    var headings: [MarkdownHTML.Heading] = []

    for item in model.items {
      switch item {
      case .prose(let p):
        let (protected, math) = MathText.protect(p.markdown)
        let rendered = MathText.restore(MarkdownHTML.render(protected), math)
        let (html, hs) = MarkdownHTML.addHeadingIDs(rendered, used: &used)
        // The title is the page's <h1>; a `# ...` in the prose duplicates it.
        body += html
        headings += hs
      case .cell(let cell, let record, let outputLater, let numbers):
        body += renderCell(cell, record, outputLater: outputLater, figureNumbers: numbers, model)
      case .expected(let block, let record):
        body += "<div class=\"expected\">"
        guard let record, record.status == .ok || isFailed(record) else {
          body += "<div class=\"check skip\">Expected output (not checked: the cell did not run)</div>"
          body += "<pre class=\"out\">\(e(block.text))</pre></div>\n"
          continue
        }
        if ReportModel.matches(record.output, block.text) {
          body += "<div class=\"check ok\">&#10003; The output matches the expected output"
          body += " (<a href=\"#cell-\(e(record.id))\">cell \(e(record.id))</a>).</div>"
          body += "<details><summary>Expected output</summary>"
          body += "<pre class=\"out\">\(e(block.text))</pre></details></div>\n"
        } else {
          body += "<div class=\"check bad\">&#10007; The output differs from the expected output"
          body += " of line \(block.line) (<a href=\"#cell-\(e(record.id))\">cell \(e(record.id))</a>)."
          body += " Expected:</div>"
          body += "<pre class=\"out\">\(e(block.text))</pre></div>\n"
        }
      case .reference(let block, let record):
        body += "<div class=\"compare\"><div><div class=\"label\">The book reports</div>"
        body += "<pre class=\"out ref\">\(e(block.text))</pre></div>"
        body += "<div><div class=\"label\">This run</div>"
        if let record, record.status == .ok || isFailed(record) {
          let text = record.output.isEmpty ? "(no output)" : record.output
          body += "<pre class=\"out\">\(e(text))</pre>"
        } else {
          body += "<pre class=\"out notrun\">(not run)</pre>"
        }
        body += "</div></div>\n"
        for line in ReportModel.accuracyAgainstBook(block, record) {
          body += "<div class=\"versus\">\(e(line))</div>\n"
        }
      case .variant(let v):
        body += "<div class=\"variant\"><div class=\"label\">Variant <code>\(e(v.name))</code>"
        body += " &mdash; <code>chapter run \(e(model.plan.program.number)) --variant \(e(v.name))</code>"
        body += "</div><pre class=\"code\"><code>"
        body += v.assignments.map { SwiftHighlighter.html("\($0.name) = \($0.literal)") }
          .joined(separator: "\n")
        body += "</code></pre></div>\n"
      }
    }
    if !model.sectionFigureNumbers.isEmpty {
      for n in model.sectionFigureNumbers { body += figure(model.figures[n - 1], n) }
    }
    if let error = model.session.sectionError {
      body += "<div class=\"error\"><div class=\"label\">Error outside any cell</div>"
      body += "<pre>\(e(error))</pre></div>\n"
    }

    var page = pageStart(title: model.heading, style: css)
    page += navigation(model, position: "top")
    page += "<main>\n<h1 id=\"top\">\(e(model.heading))</h1>\n"
    if let d = model.plan.frontMatter.description { page += "<p class=\"lead\">\(e(d))</p>\n" }
    page += header(model)
    page += toc(headings, model)
    page += body
    page += "</main>\n"
    page += navigation(model, position: "bottom")
    page += "</body>\n</html>\n"
    return page
  }

  static func isFailed(_ r: CellRecord) -> Bool {
    if case .failed = r.status { true } else { false }
  }

  static func renderCell(
    _ cell: Cell, _ record: CellRecord, outputLater: Bool, figureNumbers: [Int],
    _ model: ReportModel
  ) -> String {
    let e = HTML.escape
    var s = "<section class=\"cell\" id=\"cell-\(e(cell.id))\">\n<div class=\"cell-head\">"
    s += "<span class=\"cell-id\">\(e(cell.id))</span>"
    if cell.line > 0 { s += "<span class=\"loc\">\(e(model.fileName)):\(cell.line)</span>" }
    switch record.status {
    case .ok: s += "<span class=\"time\">\(ReportModel.seconds(record.seconds))</span>"
    case .failed: s += "<span class=\"time bad\">failed after \(ReportModel.seconds(record.seconds))</span>"
    case .notRun, .running: s += "<span class=\"time notrun\">not run</span>"
    }
    s += "</div>\n<pre class=\"code\"><code>\(SwiftHighlighter.html(cell.code))</code></pre>\n"
    if !outputLater, !record.output.isEmpty {
      s += "<pre class=\"out\">\(e(record.output))</pre>\n"
    }
    for n in figureNumbers { s += figure(model.figures[n - 1], n) }
    if case .failed(let message) = record.status {
      s += "<div class=\"error\"><div class=\"label\">Error in cell \(e(cell.id))</div>"
      s += "<pre>\(e(message))</pre></div>\n"
    }
    if record.status == .notRun {
      s += "<div class=\"notrun-note\">Not run: an earlier cell failed.</div>\n"
    }
    s += "</section>\n"
    return s
  }

  static func figure(_ f: Figure, _ n: Int) -> String {
    "<figure id=\"fig\(n)\">\n\(f.svg)<figcaption>Figure \(n). \(HTML.escape(f.caption))"
      + "</figcaption>\n</figure>\n"
  }

  static func header(_ model: ReportModel) -> String {
    let e = HTML.escape
    var s = "<table class=\"run\" id=\"run\">\n"
    func row(_ k: String, _ v: String) { s += "<tr><th>\(k)</th><td>\(v)</td></tr>\n" }
    let ok = model.succeeded
    row("Status", "<span class=\"\(ok ? "ok" : "bad")\">\(e(model.statusLine))</span>")
    var profile = "<code>\(e(model.settings.profile))</code>"
    if let d = model.plan.profileDescription { profile += " &mdash; \(e(d))" }
    if model.settings.profile == "book" { profile += " (the book's settings)" }
    row("Profile", profile)
    for r in model.settingRows {
      row("Data", "<code>\(e(r.name))</code> = \(e(r.value)) <span class=\"diff\">differs from the book</span>")
    }
    row("Seed", "\(model.settings.seed)")
    row("Threads", "\(model.settings.threads)")
    if let v = model.plan.options.variant { row("Variant", "<code>\(e(v))</code>") }
    let params = model.parameterRows
    if !params.isEmpty {
      var t = "<table class=\"params\"><tr><th>parameter</th><th>value</th><th>book</th><th>cell</th></tr>"
      for p in params {
        t += "<tr\(p.differs ? " class=\"changed\"" : "")><td><code>\(e(p.name))</code></td>"
        t += "<td><code>\(e(p.value))</code>"
        if p.differs { t += " <span class=\"diff\">&#9670; \(e(p.source ?? "changed"))</span>" }
        t += "</td><td><code>\(e(p.book))</code></td>"
        t += "<td><a href=\"#cell-\(e(p.cell))\">\(e(p.cell))</a> (line \(p.line))</td></tr>"
      }
      t += "</table>"
      row("Parameters", t)
    }
    if !model.trainings.isEmpty {
      var t = "<table class=\"train\"><tr><th>network</th><th>params</th><th>FLOPs/ex</th>"
      t += "<th>epochs</th><th>loss</th><th>train acc</th><th>test acc</th><th>the book</th>"
      t += "<th>difference</th><th>ex/s</th><th>time</th></tr>"
      for tr in model.trainings {
        t += "<tr><td>\(e(tr.network))</td><td>\(grouped(tr.parameterCount))</td>"
        t += "<td>\(scaled(tr.flopsPerExample))</td><td>\(tr.epochs)</td>"
        t += "<td>\(String(format: "%.3f", tr.finalLoss))</td>"
        t += "<td>\(String(format: "%.3f", tr.trainAccuracy))</td>"
        t += "<td>\(accuracyText(tr.testAccuracy))</td>"
        let book = tr.againstBook
        t += "<td>\(book?.book ?? "")</td><td>\(book?.difference ?? "")</td>"
        t += "<td>\(String(format: "%.1f", tr.examplesPerSecond))</td>"
        t += "<td>\(e(tr.timeText))</td></tr>"
      }
      t += "</table>"
      row("Training", t)
    }
    for note in model.plan.frontMatter.networks {
      row(note.name.isEmpty ? "Network" : "Network <code>\(e(note.name))</code>", e(note.description))
    }
    row("Commit", "<code>\(e(model.provenance.commit))</code>")
    row("Date", e(model.provenance.date))
    row("Machine", e(model.provenance.machine))
    row("Wall time", ReportModel.seconds(model.totalSeconds))
    let times = model.records.map { r -> String in
      let t: String
      switch r.status {
      case .ok: t = ReportModel.seconds(r.seconds)
      case .failed: t = "failed"
      case .notRun, .running: t = "not run"
      }
      return "<a href=\"#cell-\(e(r.id))\">\(e(r.id))</a>&nbsp;\(t)"
    }
    if !times.isEmpty { row("Cells", times.joined(separator: " &middot; ")) }
    s += "</table>\n"
    return s
  }

  static func toc(_ headings: [MarkdownHTML.Heading], _ model: ReportModel) -> String {
    let shown = headings.filter { $0.level >= 2 && $0.level <= 3 }
    guard !shown.isEmpty else { return "" }
    var s = "<nav class=\"toc\" id=\"contents\"><div class=\"label\">Contents</div><ul>\n"
    for h in shown {
      s += "<li class=\"l\(h.level)\"><a href=\"#\(h.id)\">\(h.text)</a></li>\n"
    }
    s += "</ul></nav>\n"
    return s
  }

  static func navigation(_ model: ReportModel, position: String) -> String {
    let e = HTML.escape
    let nav = model.navigation
    var parts: [String] = []
    if let p = nav.previous {
      parts.append(
        "<a class=\"prev\" rel=\"prev\" href=\"\(e(p.slug)).html\">&larr; \(e(p.number)) \(e(p.title))</a>")
    } else {
      parts.append("<span></span>")
    }
    if nav.index { parts.append("<a class=\"index\" href=\"index.html\">Index</a>") }
    if let n = nav.next {
      parts.append(
        "<a class=\"next\" rel=\"next\" href=\"\(e(n.slug)).html\">\(e(n.number)) \(e(n.title)) &rarr;</a>")
    } else {
      parts.append("<span></span>")
    }
    return "<nav class=\"pager \(position)\">" + parts.joined() + "</nav>\n"
  }

  /// A page's start, up to its `<body>`: the doctype, a content security policy that lets
  /// nothing load or run (inline styles and `data:` images only: a report is one file, and
  /// nothing in a cell's output can reach the network), the title and the style sheet.
  static func pageStart(title: String, style: String) -> String {
    """
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
    <link rel="icon" href="data:,">
    <title>\(HTML.escape(title))</title>
    <style>
    \(style)
    </style>
    </head>
    <body>

    """
  }

  static let css = """
    :root { color-scheme: light; }
    body { margin: 0; background: #fdfdfc; color: #1f2328;
      font: 17px/1.6 Georgia, "Times New Roman", serif; }
    main { max-width: 920px; margin: 0 auto; padding: 0 24px 48px; }
    h1, h2, h3, h4 { font-family: Helvetica, Arial, sans-serif; line-height: 1.25; }
    h1 { font-size: 2em; margin: 0.6em 0 0.4em; }
    h2 { border-bottom: 1px solid #e5e5e5; padding-bottom: 0.2em; margin-top: 1.8em; }
    a { color: #0b5fb0; text-decoration: none; } a:hover { text-decoration: underline; }
    code, pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 14px; }
    .math { font-family: "Times New Roman", Georgia, serif; white-space: nowrap; }
    .math.display { display: block; text-align: center; margin: 0.8em 0; white-space: normal; }
    :not(pre) > code { background: #f0f1f3; padding: 0.1em 0.3em; border-radius: 3px; }
    pre { overflow-x: auto; padding: 10px 14px; border-radius: 6px; line-height: 1.45; margin: 0.5em 0; }
    pre.code { background: #f6f8fa; border: 1px solid #dfe3e8; }
    pre.out { background: #ffffff; border: 1px solid #e5e5e5; border-left: 4px solid #8fb3d9; white-space: pre-wrap; }
    pre.out.ref { border-left-color: #c9a227; }
    pre.notrun { color: #8a8a8a; }
    .kw { color: #a626a4; font-weight: 600; } .str { color: #50a14f; } .num { color: #b76b01; }
    .com { color: #7c8790; font-style: italic; } .ty { color: #0e6ea8; } .at { color: #c18401; }
    .cell { margin: 1.2em 0; }
    .cell-head { font: 13px Helvetica, Arial, sans-serif; color: #57606a; display: flex; gap: 12px; }
    .cell-id { font-weight: bold; color: #24292f; }
    .time { margin-left: auto; } .time.bad, .bad { color: #b42318; } .ok { color: #1a7f37; }
    .notrun, .notrun-note { color: #8a8a8a; font: 14px Helvetica, Arial, sans-serif; }
    .error { border: 1px solid #f2b8b5; background: #fff5f5; border-radius: 6px; padding: 6px 12px; margin: 0.5em 0; }
    .error pre { margin: 0; padding: 4px 0; white-space: pre-wrap; }
    .label { font: bold 13px Helvetica, Arial, sans-serif; color: #57606a; margin-top: 4px; }
    .check { font: 14px Helvetica, Arial, sans-serif; margin: 0.3em 0; }
    .check.ok { color: #1a7f37; } .check.bad { color: #b42318; } .check.skip { color: #8a8a8a; }
    .compare { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; margin: 0.5em 0 1em; }
    .compare > div { min-width: 0; }
    .versus { font: bold 14px Helvetica, Arial, sans-serif; margin: -0.5em 0 1em; }
    .variant { margin: 0.8em 0; }
    figure { margin: 1em 0; text-align: center; }
    figure svg { max-width: 100%; height: auto; }
    figcaption { font: 14px Helvetica, Arial, sans-serif; color: #57606a; }
    table.run { border-collapse: collapse; font: 14px Helvetica, Arial, sans-serif; margin: 1em 0; width: 100%; }
    table.run > tbody > tr > th { text-align: left; vertical-align: top; padding: 4px 12px 4px 0; width: 7em; color: #57606a; }
    table.run > tbody > tr > td { padding: 4px 0; border-bottom: 1px solid #eeeeee; }
    table.params, table.train { border-collapse: collapse; }
    table.params th, table.train th { font-weight: normal; color: #57606a; text-align: left; padding: 2px 10px 2px 0; }
    table.params td, table.train td { padding: 2px 10px 2px 0; }
    tr.changed td { background: #fff8e1; }
    .diff { color: #9a6700; font-size: 12px; }
    nav.toc { background: #f6f8fa; border: 1px solid #e5e5e5; border-radius: 6px; padding: 8px 16px; margin: 1em 0; font: 15px Helvetica, Arial, sans-serif; }
    nav.toc ul { margin: 4px 0; padding-left: 18px; } nav.toc li.l3 { margin-left: 18px; }
    nav.pager { display: flex; justify-content: space-between; max-width: 920px; margin: 0 auto;
      padding: 10px 24px; font: 14px Helvetica, Arial, sans-serif; }
    nav.pager.top { border-bottom: 1px solid #eeeeee; } nav.pager.bottom { border-top: 1px solid #eeeeee; }
    p.lead { color: #57606a; }
    """
}
