import Common
import ChapterFormat
import Foundation

/// A section as the report's navigation links name it.
public struct SectionLink: Sendable, Equatable {
  public var number: String
  public var title: String
  /// File stem of its reports, e.g. `7.5-batch-norm`.
  public var slug: String
  public init(number: String, title: String, slug: String) {
    self.number = number
    self.title = title
    self.slug = slug
  }
}

/// Previous/next/index links at the top and bottom of a report. The runner does not know the
/// other sections; whoever calls it (the CLI) does.
public struct ReportNavigation: Sendable, Equatable {
  public var previous: SectionLink?
  public var next: SectionLink?
  /// Whether to link `index.html`/`index.md` in the output folder.
  public var index: Bool
  public init(previous: SectionLink? = nil, next: SectionLink? = nil, index: Bool = true) {
    self.previous = previous
    self.next = next
    self.index = index
  }

  /// The neighbours of `slug` in `sections` (in book order).
  public static func neighbours(of slug: String, in sections: [SectionLink]) -> ReportNavigation {
    guard let i = sections.firstIndex(where: { $0.slug == slug }) else {
      return ReportNavigation()
    }
    return ReportNavigation(
      previous: i > 0 ? sections[i - 1] : nil,
      next: i + 1 < sections.count ? sections[i + 1] : nil)
  }
}

/// What both report formats show, derived once from a finished session.
struct ReportModel {
  enum Item {
    case prose(Prose)
    case cell(Cell, CellRecord, outputShownLater: Bool, figureNumbers: [Int])
    /// A checked ```` ```output ```` block and the record of the cell it follows.
    case expected(OutputBlock, CellRecord?)
    /// ```` ```output reference ````: the book's figure beside this run's output.
    case reference(OutputBlock, CellRecord?)
    case variant(Variant)
  }

  struct ParameterRow {
    var name: String
    var value: String
    var book: String
    var differs: Bool
    var source: String?
    var cell: String
    var line: Int
  }

  let session: NotebookSession
  let provenance: Provenance
  let totalSeconds: Double
  let navigation: ReportNavigation
  let items: [Item]
  /// Every figure in page order; numbers in `items` index this from 1.
  let figures: [Figure]
  /// Figures recorded outside any cell, as numbers into `figures`.
  let sectionFigureNumbers: [Int]

  var plan: RunPlan { session.plan }
  var settings: RunSettings { session.settings }
  var records: [CellRecord] { session.records }

  init(
    session: NotebookSession, provenance: Provenance, totalSeconds: Double,
    navigation: ReportNavigation
  ) {
    self.session = session
    self.provenance = provenance
    self.totalSeconds = totalSeconds
    self.navigation = navigation
    let document = session.plan.document
    let cells = document.cells
    let referenced = Set(
      document.blocks.compactMap { b -> String? in
        if case .output(let o) = b, o.isReference { o.cell } else { nil }
      })
    var items: [Item] = []
    var figures: [Figure] = []
    var cellIndex = 0
    var recordsByID: [String: CellRecord] = [:]
    for block in document.blocks {
      switch block {
      case .prose(var p):
        // The page's title comes from the front matter; a chapter's own `# Title` line
        // at the top would repeat it.
        if items.isEmpty, let title = session.plan.frontMatter.title {
          p.markdown = Self.dropLeadingTitle(p.markdown, title: title)
        }
        items.append(.prose(p))
      case .cell(let c):
        let record =
          cellIndex < session.records.count && session.records[cellIndex].id == c.id
          ? session.records[cellIndex]
          : (session.records.first { $0.id == c.id } ?? CellRecord(id: c.id, line: c.line))
        cellIndex += 1
        recordsByID[c.id] = record
        let numbers = record.figures.map { f -> Int in
          figures.append(f)
          return figures.count
        }
        items.append(
          .cell(c, record, outputShownLater: referenced.contains(c.id), figureNumbers: numbers))
      case .output(let o):
        let record = o.cell.flatMap { recordsByID[$0] }
        items.append(o.isReference ? .reference(o, record) : .expected(o, record))
      case .variant(let v):
        items.append(.variant(v))
      }
    }
    // Cells the program ran that the document does not have (stale generated code).
    for record in session.records.dropFirst(cells.count) {
      let numbers = record.figures.map { f -> Int in
        figures.append(f)
        return figures.count
      }
      let cell = Cell(id: record.id, attributes: [:], code: "", line: 0, parameters: [])
      items.append(.cell(cell, record, outputShownLater: false, figureNumbers: numbers))
    }
    var sectionNumbers: [Int] = []
    for f in session.sectionFigures {
      figures.append(f)
      sectionNumbers.append(figures.count)
    }
    self.items = items
    self.figures = figures
    self.sectionFigureNumbers = sectionNumbers
  }

  /// `markdown` without a first ATX `# title` heading equal to `title`.
  static func dropLeadingTitle(_ markdown: String, title: String) -> String {
    var lines = markdown.split(separator: "\n", omittingEmptySubsequences: false)
    guard let i = lines.firstIndex(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }),
      lines[i].hasPrefix("# "),
      lines[i].dropFirst(2).trimmingCharacters(in: .whitespaces).lowercased() == title.lowercased()
    else { return markdown }
    lines.remove(at: i)
    return lines.joined(separator: "\n")
  }

  var heading: String { "\(plan.program.number) \(plan.title)" }

  var failed: CellRecord? { session.failedCell }

  var succeeded: Bool { session.succeeded }

  /// The parameters in force: every declared one, with the book's value beside it.
  var parameterRows: [ParameterRow] {
    plan.parameters.map { info in
      let o = plan.overrides[info.name]
      let value = o?.value ?? info.defaultValue
      let differs = info.declarations.contains { $0.value != value }
      let d = info.declarations[0]
      return ParameterRow(
        name: info.name, value: value.swiftLiteral, book: info.defaultValue.swiftLiteral,
        differs: o != nil && differs, source: o?.source, cell: d.cell, line: d.line)
    }
  }

  /// Runner settings that differ from the book (which uses all the data).
  var settingRows: [(name: String, value: String)] {
    var rows: [(String, String)] = []
    if let n = settings.trainSubset { rows.append(("trainSubset", "\(n) training images")) }
    if let n = settings.testSubset { rows.append(("testSubset", "\(n) test images")) }
    return rows
  }

  var trainings: [TrainingSummary] { session.trainings }

  /// The run's status in one line.
  var statusLine: String {
    if let f = failed, case .failed(let message) = f.status {
      return "failed in cell '\(f.id)': \(Self.firstLine(message))"
    }
    if let e = session.sectionError { return "failed: \(Self.firstLine(e))" }
    return "ok"
  }

  /// "Test accuracy: the book 0.892, this run 0.656 (-0.236)" under a reference block, for
  /// each training of its cell whose book figure the block states (`recordTraining` paired
  /// them).
  static func accuracyAgainstBook(_ block: OutputBlock, _ record: CellRecord?) -> [String] {
    guard let record, record.status == .ok else { return [] }
    let stated = testAccuracies(in: block.text)
    return record.trainings.compactMap { t in
      guard let book = t.againstBook, let v = t.bookTestAccuracy, stated.contains(v) else {
        return nil
      }
      return "Test accuracy: the book \(book.book), this run \(accuracyText(t.testAccuracy)) "
        + "(\(book.difference))"
    }
  }

  var fileName: String { (plan.document.path as NSString).lastPathComponent }

  static func firstLine(_ s: String) -> String {
    String(s.split(separator: "\n", omittingEmptySubsequences: true).first ?? "")
  }

  /// Whether a cell's output matches an expected block: `OutputCheck.matches`, the one
  /// definition that `chapter check` uses too.
  static func matches(_ output: String, _ expected: String) -> Bool {
    OutputCheck.matches(output, expected)
  }

  static func seconds(_ s: Double) -> String {
    if s < 0.01 { return "< 0.01 s" }
    if s < 10 { return String(format: "%.2f s", s) }
    if s < 60 { return String(format: "%.1f s", s) }
    let m = Int(s) / 60
    return String(format: "%d min %02d s", m, Int(s) % 60)
  }
}
