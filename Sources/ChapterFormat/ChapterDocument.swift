/// A chapter file parsed into what the runner and the tangler need: its front
/// matter (kept as text; the notebook reads it as YAML), and its blocks in
/// document order.
///
/// Lines are 1-based lines of the `.md` file, so that every error and every
/// `#sourceLocation` can point at the Markdown.
public struct ChapterDocument: Sendable, Equatable {
  /// Path of the `.md` file, as given to the parser (used in messages).
  public var path: String
  /// The raw YAML between the leading `---` lines, without them; empty if none.
  public var frontMatter: String
  /// Line of the first front-matter line (after the opening `---`).
  public var frontMatterLine: Int
  public var blocks: [ChapterBlock]

  public init(path: String, frontMatter: String, frontMatterLine: Int, blocks: [ChapterBlock]) {
    self.path = path
    self.frontMatter = frontMatter
    self.frontMatterLine = frontMatterLine
    self.blocks = blocks
  }

  /// The code cells, in order.
  public var cells: [Cell] {
    blocks.compactMap { if case .cell(let c) = $0 { c } else { nil } }
  }
}

/// One block of a chapter, in document order.
public enum ChapterBlock: Sendable, Equatable {
  /// Markdown prose (headings, paragraphs, lists, non-Swift fences), verbatim.
  case prose(Prose)
  case cell(Cell)
  /// An ```` ```output ```` block (checked) or ```` ```output reference ```` (the book's figure).
  case output(OutputBlock)
  /// An ```` ```variant name=NAME ```` block: parameter assignments an exercise runs.
  case variant(Variant)
}

public struct Prose: Sendable, Equatable {
  public var markdown: String
  public var line: Int
  public init(markdown: String, line: Int) {
    self.markdown = markdown
    self.line = line
  }
}

/// A Swift code cell: a fence whose info string starts with `swift`.
public struct Cell: Sendable, Equatable {
  /// `cell=ID` from the info string, or `cell-N` (N = 1-based position among cells).
  public var id: String
  /// Other `key=value` attributes of the info string.
  public var attributes: [String: String]
  /// The code, exactly as in the file (ends with a newline).
  public var code: String
  /// Line of the first code line (the line after the opening fence).
  public var line: Int
  /// Top-level `let NAME = LITERAL` parameters declared in this cell.
  public var parameters: [ParameterDeclaration]

  public init(
    id: String, attributes: [String: String], code: String, line: Int,
    parameters: [ParameterDeclaration]
  ) {
    self.id = id
    self.attributes = attributes
    self.code = code
    self.line = line
    self.parameters = parameters
  }
}

/// `let name = literal` at the top level of a cell. A line may declare
/// several (`let lr = 0.9, numEpochs = 10`).
public struct ParameterDeclaration: Sendable, Equatable {
  public var name: String
  /// The literal's source text, e.g. `1.0`, `[(1, 64), (1, 128)]`.
  public var literal: String
  public var value: ParameterValue
  /// The cell that declares it.
  public var cell: String
  /// The `.md` line of the declaration.
  public var line: Int

  public init(name: String, literal: String, value: ParameterValue, cell: String, line: Int) {
    self.name = name
    self.literal = literal
    self.value = value
    self.cell = cell
    self.line = line
  }
}

/// The value of a cell parameter. Its case is the parameter's type: a profile
/// or `--set` value must parse to the same case.
public enum ParameterValue: Sendable, Equatable, Hashable {
  case int(Int)
  case double(Double)
  case bool(Bool)
  case string(String)
  case intArray([Int])
  case doubleArray([Double])
  case boolArray([Bool])
  case stringArray([String])
  /// Arrays of Int pairs, such as VGG's `[(1, 64), (1, 128)]`.
  case intPairArray([IntPair])
}

public struct IntPair: Sendable, Equatable, Hashable {
  public var first: Int
  public var second: Int
  public init(_ first: Int, _ second: Int) {
    self.first = first
    self.second = second
  }
}

public struct OutputBlock: Sendable, Equatable {
  /// The expected text (ends with a newline).
  public var text: String
  /// `true` for ```` ```output reference ````: the book's result, shown, not checked.
  public var isReference: Bool
  /// The cell this block follows (the nearest preceding cell), if any.
  public var cell: String?
  public var line: Int

  public init(text: String, isReference: Bool, cell: String?, line: Int) {
    self.text = text
    self.isReference = isReference
    self.cell = cell
    self.line = line
  }
}

/// An exercise's parameter change: ```` ```variant name=vgg16 ```` with lines
/// `NAME = LITERAL`.
public struct Variant: Sendable, Equatable {
  public var name: String
  /// Assignments in order, parsed with the same literal grammar as parameters.
  public var assignments: [(name: String, literal: String, line: Int)]
  public var line: Int

  public init(name: String, assignments: [(name: String, literal: String, line: Int)], line: Int) {
    self.name = name
    self.assignments = assignments
    self.line = line
  }

  public static func == (a: Variant, b: Variant) -> Bool {
    a.name == b.name && a.line == b.line
      && a.assignments.map { "\($0.name)=\($0.literal)@\($0.line)" }
        == b.assignments.map { "\($0.name)=\($0.literal)@\($0.line)" }
  }
}

/// A problem in a chapter file, located at its line.
public struct ChapterError: Error, Sendable, Equatable, CustomStringConvertible {
  public var path: String
  public var line: Int
  public var message: String
  public init(path: String, line: Int, message: String) {
    self.path = path
    self.line = line
    self.message = message
  }
  public var description: String { "\(path):\(line): error: \(message)" }
}
