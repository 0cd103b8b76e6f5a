import CCmark

/// Parses a chapter `.md` file into a `ChapterDocument` with cmark.
///
/// Only the document's top-level blocks matter: a fenced block whose info string starts with
/// `swift` is a cell, `output` / `output reference` an output block, `variant name=NAME` a
/// variant; everything else is prose, kept verbatim from the file (a fence inside a list
/// item or a quote is prose too). Every line number is a line of the original file,
/// front matter included.
public enum ChapterParser {
  /// Parses `text`, the contents of the file at `path` (used only in errors).
  public static func parse(_ text: String, path: String) throws(ChapterError) -> ChapterDocument {
    var parser = Parser(path: path, text: text)
    return try parser.run()
  }

  /// The front matter's YAML alone, without parsing the rest; nil when there is none or it
  /// is not closed (`parse` reports that).
  public static func frontMatter(of text: String) -> String? {
    guard let (yaml, start) = try? Parser(path: "", text: text).splitFrontMatter(), start > 1
    else { return nil }
    return yaml
  }

  /// Parses a fence's info string: the first word, then `key=value` attributes whose
  /// values may be double-quoted (`title="Two words"`, with `\"` and `\\` escapes). A word
  /// without `=` becomes a key with an empty value.
  public static func parseInfo(_ info: String) -> (word: String, attributes: [(String, String)]) {
    var tokens: [String] = []
    var current = ""
    var inQuotes = false
    var hasToken = false
    var chars = info.makeIterator()
    while let c = chars.next() {
      if inQuotes {
        if c == "\\", let next = chars.next() {
          current.append(next)
        } else if c == "\"" {
          inQuotes = false
        } else {
          current.append(c)
        }
      } else if c == "\"" {
        inQuotes = true
        hasToken = true
      } else if c.isWhitespace {
        if hasToken { tokens.append(current) }
        current = ""
        hasToken = false
      } else {
        current.append(c)
        hasToken = true
      }
    }
    if hasToken { tokens.append(current) }
    guard let word = tokens.first else { return ("", []) }
    let attributes = tokens.dropFirst().map { token -> (String, String) in
      guard let eq = token.firstIndex(of: "=") else { return (token, "") }
      return (String(token[..<eq]), String(token[token.index(after: eq)...]))
    }
    return (word, attributes)
  }

  /// Whether `id` is a valid cell or variant id: `[A-Za-z0-9_-]+`.
  public static func isValidID(_ id: String) -> Bool {
    !id.isEmpty
      && id.utf8.allSatisfy { c in
        (c >= 0x30 && c <= 0x39) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A) || c == 0x5F
          || c == 0x2D
      }
  }
}

/// One top-level fenced code block as cmark reports it.
private struct Fence {
  var info: String
  var literal: String
  /// Lines of the opening and closing fences.
  var startLine: Int
  var endLine: Int
}

private struct Parser {
  let path: String
  /// The file's lines, without terminators; `lines[0]` is line 1.
  let lines: [String]
  let text: String
  var blocks: [ChapterBlock] = []
  var cellLines: [String: Int] = [:]
  var cellCount = 0
  var lastCell: String?
  var variantLines: [String: Int] = [:]

  init(path: String, text: String) {
    self.path = path
    self.text = text
    self.lines = text.splitLines()
  }

  func error(_ line: Int, _ message: String) -> ChapterError {
    ChapterError(path: path, line: line, message: message)
  }

  mutating func run() throws(ChapterError) -> ChapterDocument {
    let (frontMatter, bodyStart) = try splitFrontMatter()
    // Blank out the front matter rather than cut it, so cmark's line numbers are the
    // file's own.
    var body = String(repeating: "\n", count: bodyStart - 1)
    body += lines.dropFirst(bodyStart - 1).joined(separator: "\n")
    body += "\n"

    var fences: [Fence] = []
    guard let doc = cmark_parse_document(body, body.utf8.count, CMARK_OPT_DEFAULT) else {
      throw error(1, "cmark could not parse the file")
    }
    defer { cmark_node_free(doc) }
    var node = cmark_node_first_child(doc)
    while let n = node {
      node = cmark_node_next(n)
      guard cmark_node_get_type(n) == CMARK_NODE_CODE_BLOCK else { continue }
      let start = Int(cmark_node_get_start_line(n))
      guard let open = fenceMarker(start) else { continue }  // indented code is prose
      let end = Int(cmark_node_get_end_line(n))
      let closed =
        end > start && fenceMarker(end).map { $0.char == open.char && $0.count >= open.count
          && $0.rest.allSatisfy(\.isWhitespace) } == true
      guard closed else {
        let fence = String(repeating: open.char, count: open.count)
        throw error(
          start,
          "unterminated code fence: the \(fence) opened here is never closed, so it would swallow "
            + "the rest of the file; add a line \(fence) after the block's last line")
      }
      let info = cmark_node_get_fence_info(n).map { String(cString: $0) } ?? ""
      if Self.ownBlockWords.contains(ChapterParser.parseInfo(info).word),
        let swallowed = swallowedOpening(after: start, before: end, char: open.char)
      {
        throw error(
          start,
          "\(Self.blockName(info)) has no closing fence: its text runs on into line "
            + "\(swallowed)'s \(lines[swallowed - 1].trimmingTrailingSpaces), and the block "
            + "ends at that block's closing fence instead; add a line "
            + "\(String(repeating: open.char, count: open.count)) after the block's last line")
      }
      fences.append(
        Fence(
          info: info,
          literal: cmark_node_get_literal(n).map { String(cString: $0) } ?? "",
          startLine: start, endLine: end))
    }

    var proseStart = bodyStart
    for fence in fences {
      let (word, attributes) = ChapterParser.parseInfo(fence.info)
      let block: ChapterBlock
      switch word {
      case "swift": block = try cell(fence, attributes)
      case "output": block = try output(fence, attributes)
      case "variant": block = try variant(fence, attributes)
      default: continue  // `text`, `bash`, ...: prose
      }
      addProse(from: proseStart, to: fence.startLine - 1)
      blocks.append(block)
      proseStart = fence.endLine + 1
    }
    addProse(from: proseStart, to: lines.count)

    let document = ChapterDocument(
      path: path, frontMatter: frontMatter, frontMatterLine: bodyStart > 1 ? 2 : 1,
      blocks: blocks)
    try checkParameters(document)
    return document
  }

  /// The front matter's text and the first line after it (1 if there is none).
  func splitFrontMatter() throws(ChapterError) -> (String, Int) {
    guard let first = lines.first, first.trimmingBOM.trimmingTrailingSpaces == "---" else {
      return ("", 1)
    }
    guard let close = lines.dropFirst().firstIndex(where: { $0.trimmingTrailingSpaces == "---" })
    else {
      throw error(
        1,
        "front matter opened by '---' on line 1 is never closed: add a line '---' after the "
          + "YAML (or remove the first line if the file has no front matter)")
    }
    let yaml = lines[1..<close].map { $0 + "\n" }.joined()
    return (yaml, close + 2)
  }

  /// The info words of the chapter's own blocks: cells, output blocks and variants.
  static let ownBlockWords: Set<String> = ["swift", "output", "variant"]

  /// The first line strictly between `start` and `end` that opens one of the chapter's own
  /// blocks (a fence of the same character with the info string `swift`, `output` or
  /// `variant`), if any. Inside a cell, output or variant such a line can only mean that
  /// the block lost its closing fence: cmark then reads on to the next bare fence, the
  /// closing fence of the block that line opens, and the missing fence would otherwise show
  /// up as compiler errors in the prose it swallowed. (Other blocks, a ````markdown example
  /// of the chapter format say, may hold such lines.)
  func swallowedOpening(after start: Int, before end: Int, char: Character) -> Int? {
    guard end > start + 1 else { return nil }
    for line in (start + 1)..<end {
      guard let marker = fenceMarker(line), marker.char == char else { continue }
      let word = ChapterParser.parseInfo(String(marker.rest)).word
      if Self.ownBlockWords.contains(word) { return line }
    }
    return nil
  }

  /// How an error names a block from its info string: "cell 'residual'", "variant
  /// 'deeper'", "the output block", or "the swift block" for a cell without an id.
  static func blockName(_ info: String) -> String {
    let (word, attributes) = ChapterParser.parseInfo(info)
    let value = { (key: String) in attributes.first { $0.0 == key }?.1 }
    switch word {
    case "swift": return value("cell").map { "cell '\($0)'" } ?? "the swift block"
    case "variant": return value("name").map { "variant '\($0)'" } ?? "the variant block"
    default: return "the \(word.isEmpty ? "code" : word) block"
    }
  }

  /// The fence character, its count and what follows, if line `line` is a fence line.
  func fenceMarker(_ line: Int) -> (char: Character, count: Int, rest: Substring)? {
    guard line >= 1, line <= lines.count else { return nil }
    var s = Substring(lines[line - 1])
    var indent = 0
    while s.first == " ", indent < 4 { s.removeFirst(); indent += 1 }
    guard indent < 4, let c = s.first, c == "`" || c == "~" else { return nil }
    let run = s.prefix { $0 == c }.count
    guard run >= 3 else { return nil }
    return (c, run, s.dropFirst(run))
  }

  /// Appends lines `from...to` as prose, without leading and trailing blank lines. Taking
  /// the whole gap between two cells (rather than cmark's nodes) keeps the prose verbatim
  /// and merged: non-Swift fences, blank lines and link definitions all stay in it.
  mutating func addProse(from: Int, to: Int) {
    var first = from, last = min(to, lines.count)
    while first <= last, lines[first - 1].allSatisfy(\.isWhitespace) { first += 1 }
    while last >= first, lines[last - 1].allSatisfy(\.isWhitespace) { last -= 1 }
    guard first <= last else { return }
    let markdown = lines[(first - 1)..<last].map { $0 + "\n" }.joined()
    blocks.append(.prose(Prose(markdown: markdown, line: first)))
  }

  mutating func cell(_ fence: Fence, _ attributes: [(String, String)]) throws(ChapterError)
    -> ChapterBlock
  {
    cellCount += 1
    var id = "cell-\(cellCount)"
    var others: [String: String] = [:]
    for (key, value) in attributes {
      if key == "cell" {
        guard ChapterParser.isValidID(value) else {
          throw error(
            fence.startLine,
            "bad cell id '\(value)': ids may contain only letters, digits, '_' and '-' "
              + "(e.g. cell=train-1)")
        }
        id = value
      } else {
        others[key] = value
      }
    }
    if let previous = cellLines[id] {
      throw error(
        fence.startLine,
        "duplicate cell id '\(id)': line \(previous) already names a cell '\(id)'; "
          + "give one of them another cell= id")
    }
    cellLines[id] = fence.startLine
    lastCell = id
    let line = fence.startLine + 1
    let parameters = ParameterLine.scan(fence.literal).flatMap { p in
      p.bindings.map {
        ParameterDeclaration(
          name: $0.name, literal: $0.literal, value: $0.value, cell: id, line: line + p.index)
      }
    }
    return .cell(
      Cell(id: id, attributes: others, code: fence.literal, line: line, parameters: parameters))
  }

  func output(_ fence: Fence, _ attributes: [(String, String)]) throws(ChapterError)
    -> ChapterBlock
  {
    var isReference = false
    for (key, value) in attributes {
      guard key == "reference", value.isEmpty else {
        throw error(
          fence.startLine,
          "unknown output option '\(key)\(value.isEmpty ? "" : "=" + value)': expected "
            + "```output (checked) or ```output reference (the book's result, not checked)")
      }
      isReference = true
    }
    guard let cell = lastCell else {
      throw error(
        fence.startLine,
        "output block before any cell: an ```output block shows what the cell above it "
          + "prints; move it after a ```swift cell")
    }
    return .output(
      OutputBlock(text: fence.literal, isReference: isReference, cell: cell, line: fence.startLine))
  }

  mutating func variant(_ fence: Fence, _ attributes: [(String, String)]) throws(ChapterError)
    -> ChapterBlock
  {
    guard let name = attributes.first(where: { $0.0 == "name" })?.1, !name.isEmpty else {
      throw error(
        fence.startLine,
        "variant without a name: write ```variant name=NAME so that "
          + "`chapter run --variant NAME` can select it")
    }
    // Variant names often carry a value (`lr-0.1`), so they may also contain dots.
    guard ChapterParser.isValidID(name.replacingDots) else {
      throw error(
        fence.startLine,
        "bad variant name '\(name)': names may contain only letters, digits, '_', '-' and '.'")
    }
    if let previous = variantLines[name] {
      throw error(
        fence.startLine,
        "duplicate variant name '\(name)': line \(previous) already declares it; rename one")
    }
    variantLines[name] = fence.startLine
    var assignments: [(name: String, literal: String, line: Int)] = []
    for (offset, raw) in fence.literal.splitLines().enumerated() {
      let line = fence.startLine + 1 + offset
      let chars = Array(raw)
      let codeEnd = CodeDepthScanner.commentStart(chars, from: 0) ?? chars.count
      let code = String(chars[..<codeEnd]).trimmingSpaces
      if code.isEmpty { continue }
      let parsed = code.firstIndex(of: "=").map {
        (String(code[..<$0]).trimmingSpaces, String(code[code.index(after: $0)...]).trimmingSpaces)
      }
      guard case let (key, literal)? = parsed, key.isSwiftIdentifier,
        ParameterLiteral.parse(literal) != nil
      else {
        throw error(
          line,
          "variant '\(name)': expected 'NAME = LITERAL' (e.g. lr = 0.1 or "
            + "convArch = [(1, 64), (1, 128)]), found '\(code)'")
      }
      assignments.append((key, literal, line))
    }
    return .variant(Variant(name: name, assignments: assignments, line: fence.startLine))
  }

  /// Checks what needs the whole document: every variant sets a declared parameter to a
  /// value of its type, and a name declared twice has one type.
  func checkParameters(_ document: ChapterDocument) throws(ChapterError) {
    var declared: [String: ParameterDeclaration] = [:]
    for p in document.cells.flatMap(\.parameters) {
      if let first = declared[p.name] {
        guard first.value.typeName == p.value.typeName else {
          throw error(
            p.line,
            "parameter '\(p.name)' is a \(p.value.typeName) here but a "
              + "\(first.value.typeName) on line \(first.line); one override sets both, so "
              + "give them one type or different names")
        }
      } else {
        declared[p.name] = p
      }
    }
    for block in document.blocks {
      guard case .variant(let v) = block else { continue }
      for a in v.assignments {
        guard let p = declared[a.name] else {
          let known = declared.keys.sorted().joined(separator: ", ")
          throw error(
            a.line,
            "variant '\(v.name)' sets '\(a.name)', which no cell declares as a parameter "
              + "(a top-level `let \(a.name) = LITERAL`); parameters: "
              + (known.isEmpty ? "none" : known))
        }
        guard ParameterLiteral.parse(a.literal, as: p.value) != nil else {
          let found = ParameterLiteral.parse(a.literal)?.typeName ?? "?"
          throw error(
            a.line,
            "variant '\(v.name)' sets '\(a.name)' to a \(found), but the parameter is a "
              + "\(p.value.typeName) (line \(p.line), default \(p.literal))")
        }
      }
    }
  }
}

extension String {
  fileprivate var trimmingTrailingSpaces: Substring {
    var s = Substring(self)
    while let c = s.last, c == " " || c == "\t" { s.removeLast() }
    return s
  }

  fileprivate var replacingDots: String {
    String(map { $0 == "." ? "_" : $0 })
  }

  fileprivate var trimmingBOM: String {
    hasPrefix("\u{FEFF}") ? String(dropFirst()) : self
  }
}
