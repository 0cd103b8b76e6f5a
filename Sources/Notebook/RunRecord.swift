import Foundation

/// The machine-readable summary of a section's last run, `<slug>.json` beside its reports:
/// the index page and `chapter list` read it, so neither has to parse HTML.
public struct RunRecord: Codable, Sendable, Equatable {
  public var number: String
  public var slug: String
  public var title: String
  public var profile: String
  public var seed: UInt64
  public var threads: Int
  public var variant: String?
  public var trainSubset: Int?
  public var testSubset: Int?
  /// `ok` or `failed`.
  public var status: String
  public var failedCell: String?
  public var commit: String
  public var date: String
  public var machine: String
  public var wallSeconds: Double
  /// Parameters that differ from the book, as `name: literal`.
  public var changedParameters: [String: String]
  public var trainings: [TrainingSummary]

  init(model: ReportModel) {
    let plan = model.plan
    number = plan.program.number
    slug = plan.program.slug
    title = plan.title
    profile = model.settings.profile
    seed = model.settings.seed
    threads = model.settings.threads
    variant = plan.options.variant
    trainSubset = model.settings.trainSubset
    testSubset = model.settings.testSubset
    status = model.succeeded ? "ok" : "failed"
    failedCell = model.failed?.id
    commit = model.provenance.commit
    date = model.provenance.date
    machine = model.provenance.machine
    wallSeconds = model.totalSeconds
    changedParameters = Dictionary(
      uniqueKeysWithValues: model.parameterRows.filter(\.differs).map { ($0.name, $0.value) })
    trainings = model.trainings
  }

  func write(to folder: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    // Non-finite numbers (a loss that went NaN) must not make the record unwritable.
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    let data = try encoder.encode(self)
    try AtomicFile.write([UInt8](data), to: folder + "/" + slug + ".json")
  }

  /// The last run of `slug` in `folder`, if its record is there and readable.
  public static func read(slug: String, folder: String) -> RunRecord? {
    guard let data = FileManager.default.contents(atPath: folder + "/" + slug + ".json") else {
      return nil
    }
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return try? decoder.decode(RunRecord.self, from: data)
  }
}

/// `index.html` and `index.md`: every section's last run in one table (network, parameters,
/// FLOPs per example, profile, epochs, final loss, train and test accuracy, examples/s, time).
public enum SectionIndex {
  public static func write(sections: [SectionLink], folder: String) throws {
    let records = sections.map { RunRecord.read(slug: $0.slug, folder: folder) }
    try AtomicFile.write(html(sections, records), to: folder + "/index.html")
    try AtomicFile.write(markdown(sections, records), to: folder + "/index.md")
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
      t.network, ReportModel.count(t.parameterCount), ReportModel.flops(t.flopsPerExample),
      r.profile, "\(t.epochs)", String(format: "%.3f", t.finalLoss),
      String(format: "%.3f", t.trainAccuracy), String(format: "%.3f", t.testAccuracy),
      t.againstBook?.book ?? "", t.againstBook?.difference ?? "",
      String(format: "%.1f", t.examplesPerSecond), t.timeText, status,
    ]
  }

  static func html(_ sections: [SectionLink], _ records: [RunRecord?]) -> String {
    let e = HTML.escape
    var s = """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
      <link rel="icon" href="data:,">
      <title>Modern Convolutional Neural Networks</title>
      <style>
      \(HTMLReport.css)
      table.index { border-collapse: collapse; font: 14px Helvetica, Arial, sans-serif; width: 100%; }
      table.index th, table.index td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eeeeee; }
      </style>
      </head>
      <body>
      <main>
      <h1>Modern Convolutional Neural Networks</h1>
      <p>The last run of each section. Run one with <code>chapter run SECTION</code>.</p>
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

  static func markdown(_ sections: [SectionLink], _ records: [RunRecord?]) -> String {
    var s = "# Modern Convolutional Neural Networks\n\n"
    s += "The last run of each section. Run one with `chapter run SECTION`.\n\n"
    s += "| " + columns.joined(separator: " | ") + " |\n"
    s += "|" + String(repeating: "---|", count: columns.count) + "\n"
    for row in rows(sections, records) {
      let link = "[\(row.section.number) \(MarkdownReport.cellText(row.section.title))](\(row.section.slug).md)"
      s += "| \(link) | " + cells(row).map(MarkdownReport.cellText).joined(separator: " | ") + " |\n"
    }
    return s
  }
}
