import ChapterFormat
import Foundation

/// The sections the `chapter` command knows (the generated `allSections`), looked up the
/// ways a reader names them: `7.5`, `batch-norm`, `7.5-batch-norm`, `Chapters/7.5-batch-norm.md`.
public struct SectionCatalog: Sendable {
  public let programs: [SectionProgram]

  public init(_ programs: [SectionProgram]) { self.programs = programs }

  public func find(_ query: String) throws -> SectionProgram {
    let q = query.trimmingCharacters(in: .whitespaces)
    var candidates = programs.filter { $0.number == q || $0.slug == q || $0.shortSlug == q }
    if candidates.isEmpty, q.hasSuffix(".md") || q.contains("/") {
      let absolute = URL(fileURLWithPath: q).standardizedFileURL.path
      let stem = ((q as NSString).lastPathComponent as NSString).deletingPathExtension
      candidates = programs.filter {
        URL(fileURLWithPath: $0.sourcePath).standardizedFileURL.path == absolute || $0.slug == stem
      }
    }
    if let program = candidates.first { return program }
    let known = programs.map { "\($0.number) (\($0.shortSlug))" }.joined(separator: ", ")
    throw NotebookError(
      "unknown section '\(query)'; the sections are: " + (known.isEmpty ? "none" : known))
  }

  /// Numbers, titles (from each front matter; the slug when it has none) and slugs, in
  /// book order.
  public func links() -> [SectionLink] {
    programs.map { p in
      SectionLink(number: p.number, title: Self.title(of: p), slug: p.slug)
    }
  }

  static func title(of program: SectionProgram) -> String {
    // Every run lists every section (for its links and the index): the title alone is
    // read without parsing the whole chapter with cmark.
    if let title = FrontMatter.title(ofChapter: program.markdown) { return title }
    guard let document = try? ChapterParser.parse(program.markdown, path: program.sourcePath)
    else { return program.shortSlug }
    let front = try? FrontMatter.parse(document)
    return front?.title ?? RunPlan.firstHeading(document) ?? program.shortSlug
  }

  /// `chapter list`: one line per section, with its last run in `outputFolder` if any.
  public func listing(outputFolder: String) -> String {
    let links = links()
    let width = links.map { $0.number.count + 2 + $0.title.count }.max() ?? 0
    var out = ""
    for link in links {
      var line = "\(link.number)  \(link.title)"
      line += String(repeating: " ", count: max(width - line.count, 0))
      if let r = RunRecord.read(slug: link.slug, folder: outputFolder) {
        line += "  last run: \(r.profile)"
        if r.status != "ok" { line += ", failed in cell \(r.failedCell ?? "?")" }
        if let t = r.trainings.last { line += ", test acc " + accuracyText(t.testAccuracy) }
        line += ", \(r.date)"
      } else {
        line += "  not run yet"
      }
      out += line + "\n"
    }
    return out
  }
}
