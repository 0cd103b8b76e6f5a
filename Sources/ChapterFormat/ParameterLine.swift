/// A line of cell code that declares parameters: `let lr = 0.05, numEpochs = 10  // book`.
///
/// The tangler rewrites such a line in place (same line, same indentation, same trailing
/// comment) so that diagnostics keep pointing at the right Markdown line.
struct ParameterLine: Equatable {
  /// 0-based index of the line within the cell's code.
  var index: Int
  /// Everything before `let` (the indentation).
  var indent: String
  /// The declarations, in order: name, literal source text, value.
  var bindings: [(name: String, literal: String, value: ParameterValue)]
  /// Everything after the last literal: spaces and a `//` comment, or nothing.
  var suffix: String

  static func == (a: ParameterLine, b: ParameterLine) -> Bool {
    a.index == b.index && a.indent == b.indent && a.suffix == b.suffix
      && a.bindings.map(\.name) == b.bindings.map(\.name)
      && a.bindings.map(\.literal) == b.bindings.map(\.literal)
  }

  /// The parameter lines of a cell's code: lines that start at brace, paren and bracket
  /// depth 0, outside any string or comment, and are `let NAME = LITERAL[, NAME = LITERAL]*`
  /// with an optional trailing `//` comment, every value a literal of `ParameterLiteral`'s
  /// grammar. Any other `let` is ordinary code, and so is a literal spread over several
  /// lines: a parameter is rewritten in place, on its one line.
  static func scan(_ code: String) -> [ParameterLine] {
    let lines = code.splitLines()
    let topLevel = CodeDepthScanner.topLevelLines(lines)
    var result: [ParameterLine] = []
    for (index, line) in lines.enumerated() where topLevel[index] {
      if let parsed = parse(line, index: index) { result.append(parsed) }
    }
    return result
  }

  /// Parses one line; `nil` if it is not a parameter line.
  static func parse(_ line: String, index: Int) -> ParameterLine? {
    let chars = Array(line)
    var start = 0
    while start < chars.count, chars[start] == " " || chars[start] == "\t" { start += 1 }
    guard chars.count >= start + 4, String(chars[start..<start + 3]) == "let",
      chars[start + 3] == " " || chars[start + 3] == "\t"
    else { return nil }
    // The code ends where a `//` comment outside a string starts.
    var codeEnd = CodeDepthScanner.commentStart(chars, from: start) ?? chars.count
    // Not past the space after `let`: a bare `let ` (or `let  // note`) has no declarations.
    while codeEnd > start + 4, chars[codeEnd - 1].isWhitespace { codeEnd -= 1 }
    let declarations = CodeDepthScanner.splitTopLevelCommas(Array(chars[(start + 4)..<codeEnd]))
    var bindings: [(name: String, literal: String, value: ParameterValue)] = []
    for declaration in declarations {
      guard let eq = declaration.firstIndex(of: "=") else { return nil }
      let name = String(declaration[..<eq]).trimmingSpaces
      let literal = String(declaration[(eq + 1)...]).trimmingSpaces
      guard name.isSwiftIdentifier, let value = ParameterLiteral.parse(literal) else { return nil }
      bindings.append((name, literal, value))
    }
    guard !bindings.isEmpty else { return nil }
    return ParameterLine(
      index: index, indent: String(chars[..<start]), bindings: bindings,
      suffix: String(chars[codeEnd...]))
  }

  /// The line with every value read through the session: `let lr = nb.param("lr", 0.05)`.
  func rewritten(session: String = "nb") -> String {
    let parts = bindings.map { b in
      "\(b.name) = \(session).param(\(ParameterValue.stringLiteral(b.name)), \(b.literal))"
    }
    return indent + "let " + parts.joined(separator: ", ") + suffix
  }
}

/// Just enough of Swift's lexical structure to know where brackets nest: strings (plain,
/// multi-line and raw), line and nested block comments.
enum CodeDepthScanner {
  /// For each line, whether it starts at depth 0 and outside any string or comment.
  static func topLevelLines(_ lines: [String]) -> [Bool] {
    var depth = 0
    var blockComment = 0
    // `"""` strings span lines; `rawHashes` is the `#` count of a raw one.
    var inMultiline = false
    var rawHashes = 0
    var result: [Bool] = []
    for line in lines {
      result.append(depth == 0 && blockComment == 0 && !inMultiline)
      let c = Array(line)
      var i = 0
      while i < c.count {
        if blockComment > 0 {
          if c[i] == "*", i + 1 < c.count, c[i + 1] == "/" { blockComment -= 1; i += 2; continue }
          if c[i] == "/", i + 1 < c.count, c[i + 1] == "*" { blockComment += 1; i += 2; continue }
          i += 1
          continue
        }
        if inMultiline {
          if let end = closingQuote(c, at: i, quotes: 3, hashes: rawHashes) {
            inMultiline = false
            i = end
          } else if rawHashes == 0, c[i] == "\\" {
            i += 2
          } else {
            i += 1
          }
          continue
        }
        switch c[i] {
        case "/" where i + 1 < c.count && c[i + 1] == "/":
          i = c.count
        case "/" where i + 1 < c.count && c[i + 1] == "*":
          blockComment += 1
          i += 2
        case "{", "(", "[":
          depth += 1
          i += 1
        case "}", ")", "]":
          depth = max(0, depth - 1)
          i += 1
        case "#", "\"":
          var hashes = 0
          var j = i
          while j < c.count, c[j] == "#" { hashes += 1; j += 1 }
          guard j < c.count, c[j] == "\"" else { i = j; continue }
          if j + 2 < c.count, c[j + 1] == "\"", c[j + 2] == "\"" {
            inMultiline = true
            rawHashes = hashes
            i = j + 3
          } else {
            i = skipString(c, from: j + 1, hashes: hashes)
          }
        default:
          i += 1
        }
      }
    }
    return result
  }

  /// Index just past the closing `"` (+ hashes) of a one-line string whose body starts at
  /// `from`; the end of the line if it is not closed.
  static func skipString(_ c: [Character], from: Int, hashes: Int) -> Int {
    var i = from
    while i < c.count {
      if hashes == 0, c[i] == "\\" { i += 2; continue }
      if let end = closingQuote(c, at: i, quotes: 1, hashes: hashes) { return end }
      i += 1
    }
    return c.count
  }

  /// If `c[i...]` starts with `quotes` quotes followed by `hashes` `#`, the index past them.
  static func closingQuote(_ c: [Character], at i: Int, quotes: Int, hashes: Int) -> Int? {
    var j = i
    for _ in 0..<quotes {
      guard j < c.count, c[j] == "\"" else { return nil }
      j += 1
    }
    for _ in 0..<hashes {
      guard j < c.count, c[j] == "#" else { return nil }
      j += 1
    }
    return j
  }

  /// Where a `//` comment starts on a line, outside strings; `nil` if there is none.
  static func commentStart(_ c: [Character], from: Int) -> Int? {
    var i = from
    while i < c.count {
      if c[i] == "/", i + 1 < c.count, c[i + 1] == "/" { return i }
      if c[i] == "\"" {
        i = skipString(c, from: i + 1, hashes: 0)
        continue
      }
      i += 1
    }
    return nil
  }

  /// Splits at commas outside brackets and strings.
  static func splitTopLevelCommas(_ c: [Character]) -> [[Character]] {
    var parts: [[Character]] = []
    var depth = 0
    var partStart = 0
    var i = 0
    while i < c.count {
      switch c[i] {
      case "\"":
        i = skipString(c, from: i + 1, hashes: 0)
        continue
      case "(", "[", "{": depth += 1
      case ")", "]", "}": depth -= 1
      case "," where depth == 0:
        parts.append(Array(c[partStart..<i]))
        partStart = i + 1
      default: break
      }
      i += 1
    }
    parts.append(Array(c[partStart..<c.count]))
    return parts
  }
}

extension String {
  /// Lines without their terminators; a final line break does not start another line.
  func splitLines() -> [String] {
    var lines = utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
      .map { String(decoding: $0, as: UTF8.self) }
    if lines.last == "" { lines.removeLast() }
    return lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
  }

  /// `[A-Za-z_][A-Za-z0-9_]*`: the names a parameter may have.
  var isSwiftIdentifier: Bool {
    func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A || c == 0x5F }
    guard let first = utf8.first, isLetter(first) else { return false }
    return utf8.allSatisfy { isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) }
  }
}
