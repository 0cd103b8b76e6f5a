/// What a chapter's file name says: `7.5-batch-norm.md` is section `7.5`, slug
/// `7.5-batch-norm`.
///
/// Only files named `N.M-slug.md` are sections; anything else in `Chapters/` (such as
/// `index.md`) is not tangled.
public struct SectionFileName: Sendable, Equatable {
  /// The section number, e.g. `7.5` (one or more dots).
  public var number: String
  /// The file name without `.md`, e.g. `7.5-batch-norm`.
  public var slug: String
  /// The words after the number, e.g. `batch-norm`.
  public var title: String

  /// Parses a file name (or a path: only its last component counts).
  public init?(fileName: String) {
    let name = fileName.split(separator: "/").last.map(String.init) ?? fileName
    guard name.hasSuffix(".md") else { return nil }
    let slug = String(name.dropLast(3))
    guard let dash = slug.firstIndex(of: "-") else { return nil }
    let number = String(slug[..<dash])
    let title = String(slug[slug.index(after: dash)...])
    let components = number.split(separator: ".", omittingEmptySubsequences: false)
    guard components.count >= 2,
      components.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }),
      !title.isEmpty,
      title.unicodeScalars.allSatisfy({
        $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-"
          || $0 == "_")
      })
    else { return nil }
    self.number = number
    self.slug = slug
    self.title = title
  }

  /// `7_5_batch_norm`: the stem of the generated Swift names.
  public var identifierStem: String {
    let raw = number + "_" + title
    return String(raw.map { $0.isLetter || $0.isNumber ? $0 : "_" })
  }

  /// `section_7_5_batch_norm`: the generated `SectionProgram` constant.
  public var programIdentifier: String { "section_" + identifierStem }

  /// `run_7_5_batch_norm`: the generated function that runs the cells.
  public var runIdentifier: String { "run_" + identifierStem }

  /// The numeric components of the number, for ordering (7.10 after 7.9).
  public var numberComponents: [Int] { Self.components(number) }

  static func components(_ number: String) -> [Int] {
    number.split(separator: ".").map { Int($0) ?? 0 }
  }
}
