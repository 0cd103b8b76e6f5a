/// One section of the book as the tangler compiles it: its identity, the Markdown it was
/// generated from (embedded, so a run never depends on the `.md` still being where it was),
/// and the function that runs its cells in order.
public struct SectionProgram: Sendable {
  /// The section number, e.g. `"7.5"`.
  public let number: String
  /// The file's base name without `.md`, e.g. `"7.5-batch-norm"`.
  public let slug: String
  /// Absolute path of the `.md` at build time: errors and traps point at it.
  public let sourcePath: String
  /// The whole `.md` file, verbatim.
  public let markdown: String
  /// Runs the cells; generated code calls `beginCell`/`endCell` around each one.
  public let run: @Sendable (NotebookSession) throws -> Void

  public init(
    number: String, slug: String, sourcePath: String, markdown: String,
    run: @escaping @Sendable (NotebookSession) throws -> Void
  ) {
    self.number = number
    self.slug = slug
    self.sourcePath = sourcePath
    self.markdown = markdown
    self.run = run
  }

  /// The slug without its leading number: `"batch-norm"` for `"7.5-batch-norm"`.
  public var shortSlug: String {
    let prefix = number + "-"
    return slug.hasPrefix(prefix) ? String(slug.dropFirst(prefix.count)) : slug
  }
}
