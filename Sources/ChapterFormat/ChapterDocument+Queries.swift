/// Lookups the runner and the CLI need on a parsed chapter.
extension ChapterDocument {
  /// Every parameter declaration of every cell, in document order. A name may appear in
  /// several cells (7.5 trains twice with the same `lr`); the parser guarantees one type.
  public var parameters: [ParameterDeclaration] { cells.flatMap(\.parameters) }

  /// The output blocks, in order.
  public var outputs: [OutputBlock] {
    blocks.compactMap { if case .output(let o) = $0 { o } else { nil } }
  }

  /// The variants, in order.
  public var variants: [Variant] {
    blocks.compactMap { if case .variant(let v) = $0 { v } else { nil } }
  }

  /// The cell named `id`, if any.
  public func cell(id: String) -> Cell? { cells.first { $0.id == id } }

  /// The variant named `name`, if any.
  public func variant(named name: String) -> Variant? { variants.first { $0.name == name } }

  /// The first declaration of parameter `name`, if any cell declares it.
  public func parameter(named name: String) -> ParameterDeclaration? {
    parameters.first { $0.name == name }
  }
}
