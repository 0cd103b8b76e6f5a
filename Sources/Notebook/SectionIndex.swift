import Common
import Foundation

/// The chapter's own page, `Chapters/index.md`: its first `# ` heading is the index report's
/// title, and its text between that heading and its `## Contents` (the list of sections that
/// the index's table replaces) the introduction.
public struct ChapterPage: Sendable, Equatable {
  public var title: String
  /// Markdown, trimmed; empty when the page has none.
  public var introduction: String

  /// Without a page (a package with no `Chapters/index.md`): a plain title, no introduction.
  public init(markdown: String?) {
    title = "The chapter's sections"
    introduction = ""
    guard let markdown else { return }
    var lines = markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard let heading = lines.firstIndex(where: { $0.hasPrefix("# ") }) else {
      introduction = markdown.trimmingCharacters(in: .whitespacesAndNewlines)
      return
    }
    title = lines[heading].dropFirst(2).trimmingCharacters(in: .whitespaces)
    lines = Array(lines[(heading + 1)...])
    if let contents = lines.firstIndex(where: {
      $0.trimmingCharacters(in: .whitespaces).lowercased() == "## contents"
    }) {
      lines = Array(lines[..<contents])
    }
    introduction = lines.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
  }
}

/// `index.html` and `index.md`: every section's last run in one table (network, parameters,
/// FLOPs per example, profile, epochs, final loss, train and test accuracy, examples/s, time).
///
/// The page starts with the chapter's own page (`Chapters/index.md`): its title and its
/// introduction, up to the list of contents that the table replaces.
public enum SectionIndex {
  public static func write(sections: [SectionLink], chapter: ChapterPage, folder: String) throws {
    let records = sections.map { RunRecord.read(slug: $0.slug, folder: folder) }
    try AtomicFile.write(html(sections, records, chapter), to: folder + "/index.html")
    try AtomicFile.write(markdown(sections, records, chapter), to: folder + "/index.md")
  }

  struct Row {
    var section: SectionLink
    var record: RunRecord?
    var training: TrainingSummary?
  }

  static func rows(_ sections: [SectionLink], _ records: [RunRecord?]) -> [Row] {
    zip(sections, records).flatMap { (s, r) -> [Row] in
      guard let r, !r.trainings.isEmpty else { return [Row(section: s, record: r, training: nil)] }
      return r.trainings.map { Row(section: s, record: r, training: $0) }
    }
  }

  static let columns = [
    "section", "network", "params", "FLOPs/ex", "profile", "epochs", "loss", "train acc",
    "test acc", "the book", "difference", "ex/s", "time", "run",
  ]

  static func cells(_ row: Row) -> [String] {
    // One cell per column but the first (the section's link): the last two are the time and
    // the run's status, the fourth the profile.
    var cells = Array(repeating: "", count: columns.count - 1)
    guard let r = row.record else {
      cells[cells.count - 1] = "not run yet"
      return cells
    }
    let status = r.status == "ok" ? r.date : "failed (\(r.failedCell ?? "?")), \(r.date)"
    guard let t = row.training else {
      cells[3] = r.profile
      cells[cells.count - 2] = ReportModel.seconds(r.wallSeconds)
      cells[cells.count - 1] = status
      return cells
    }
    return [
      t.network, grouped(t.parameterCount), scaled(t.flopsPerExample),
      r.profile, "\(t.epochs)", String(format: "%.3f", t.finalLoss),
      String(format: "%.3f", t.trainAccuracy), accuracyText(t.testAccuracy),
      t.againstBook?.book ?? "", t.againstBook?.difference ?? "",
      String(format: "%.1f", t.examplesPerSecond), t.timeText, status,
    ]
  }

  static func html(_ sections: [SectionLink], _ records: [RunRecord?], _ chapter: ChapterPage) -> String {
    let e = HTML.escape
    let style = HTMLReport.css + """

      table.index { border-collapse: collapse; font: 14px Helvetica, Arial, sans-serif; width: 100%; }
      table.index th, table.index td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eeeeee; }
      """
    var s = HTMLReport.pageStart(title: chapter.title, style: style) + """
      <main>
      <h1>\(e(chapter.title))</h1>
      \(MarkdownHTML.render(chapter.introduction))
      <h2>The last run of each section</h2>
      <p>Run one with <code>chapter run SECTION</code>.</p>
      <table class="index">
      <tr>
      """
    s += columns.map { "<th>\($0)</th>" }.joined() + "</tr>\n"
    for row in rows(sections, records) {
      let link = "<a href=\"\(e(row.section.slug)).html\">\(e(row.section.number)) \(e(row.section.title))</a>"
      s += "<tr><td>\(link)</td>" + cells(row).map { "<td>\(e($0))</td>" }.joined() + "</tr>\n"
    }
    s += "</table>\n</main>\n</body>\n</html>\n"
    return s
  }

  static func markdown(_ sections: [SectionLink], _ records: [RunRecord?], _ chapter: ChapterPage) -> String {
    var s = "# \(chapter.title)\n\n"
    if !chapter.introduction.isEmpty { s += chapter.introduction + "\n\n" }
    s += "## The last run of each section\n\n"
    s += "Run one with `chapter run SECTION`.\n\n"
    s += "| " + columns.joined(separator: " | ") + " |\n"
    s += "|" + String(repeating: "---|", count: columns.count) + "\n"
    for row in rows(sections, records) {
      let link = "[\(row.section.number) \(MarkdownReport.cellText(row.section.title))](\(row.section.slug).md)"
      s += "| \(link) | " + cells(row).map(MarkdownReport.cellText).joined(separator: " | ") + " |\n"
    }
    return s
  }
}
