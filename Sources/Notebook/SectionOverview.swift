import ChapterFormat

/// `chapter show 7.2`: a section's cells, parameters (defaults and the
/// overrides a profile, variant or `--set` would apply), variants, profiles
/// and ranges, as plain text.
public enum SectionOverview {
  public static func describe(_ plan: RunPlan) -> String {
    let doc = plan.document
    var lines = ["\(plan.program.number) \(plan.title)  (\(doc.path))", ""]
    lines.append("cells:")
    for cell in doc.cells {
      let params = cell.parameters.map(\.name)
      lines.append("  \(cell.id)  line \(cell.line)" + (params.isEmpty ? "" : "  parameters: " + params.joined(separator: ", ")))
    }
    lines.append("")
    lines.append("parameters (profile \(plan.settings.profile)):")
    for info in plan.parameters {
      let d = info.declarations[0]
      var line = "  \(info.name): \(d.value.typeName) = \(d.literal)  (cell \(d.cell), line \(d.line))"
      if let o = plan.overrides[info.name] { line += "  -> \(o.value.swiftLiteral) from \(o.source)" }
      if let range = plan.frontMatter.ranges[info.name] { line += "  range \(range)" }
      lines.append(line)
    }
    if let t = plan.settings.trainSubset { lines.append("  trainSubset = \(t) training images") }
    if let t = plan.settings.testSubset { lines.append("  testSubset = \(t) test images") }
    lines.append("")
    lines.append("profiles:")
    lines.append("  book: the book's settings (the cells' own values)")
    for p in plan.frontMatter.profiles where p.name != "book" {
      let entries = p.entries.map { "\($0.key)=\($0.value.text)" }.joined(separator: ", ")
      lines.append("  \(p.name): " + (p.description.map { $0 + "; " } ?? "") + entries)
    }
    let variants = doc.variants
    if !variants.isEmpty {
      lines.append("")
      lines.append("variants (chapter run \(plan.program.number) --variant NAME):")
      for v in variants {
        lines.append("  \(v.name): " + v.assignments.map { "\($0.name) = \($0.literal)" }.joined(separator: ", "))
      }
    }
    return lines.joined(separator: "\n") + "\n"
  }
}
