import Common

/// Swift syntax highlighting for the HTML report, with no script: a small tokenizer that
/// wraps keywords, strings, numbers, comments, types and attributes in `<span class=...>`.
/// It only has to look right for the code of our chapters, not to parse Swift.
enum SwiftHighlighter {
  static let keywords: Set<String> = [
    "actor", "any", "as", "associatedtype", "async", "await", "break", "case", "catch", "class",
    "continue", "convenience", "default", "defer", "deinit", "do", "else", "enum", "extension",
    "fallthrough", "false", "fileprivate", "final", "for", "func", "guard", "if", "import", "in",
    "init", "inout", "internal", "is", "lazy", "let", "mutating", "nil", "nonisolated",
    "open", "operator", "override", "private", "protocol", "public", "repeat", "required",
    "rethrows", "return", "self", "Self", "some", "static", "struct", "subscript", "super",
    "switch", "throw", "throws", "true", "try", "typealias", "var", "weak", "where", "while",
  ]

  /// HTML for `code`: escaped text with spans (classes `kw`, `str`, `num`, `com`, `ty`, `at`).
  static func html(_ code: String) -> String {
    let c = Array(code.unicodeScalars)
    var out = ""
    var i = 0
    func span(_ cls: String, _ from: Int, _ to: Int) {
      out += "<span class=\"\(cls)\">" + HTML.escape(text(from, to)) + "</span>"
    }
    func text(_ from: Int, _ to: Int) -> String {
      var s = String.UnicodeScalarView()
      s.append(contentsOf: c[from..<to])
      return String(s)
    }
    func isIdentStart(_ u: Unicode.Scalar) -> Bool {
      // ASCII without the Unicode property tables: nearly all code is.
      if u.isASCII { return u == "_" || ("a"..."z").contains(u) || ("A"..."Z").contains(u) }
      return u.properties.isAlphabetic
    }
    func isIdent(_ u: Unicode.Scalar) -> Bool {
      isIdentStart(u) || ("0"..."9").contains(u)
    }
    while i < c.count {
      let u = c[i]
      let next: Unicode.Scalar? = i + 1 < c.count ? c[i + 1] : nil
      if u == "/" && next == "/" {
        var j = i
        while j < c.count && c[j] != "\n" { j += 1 }
        span("com", i, j)
        i = j
      } else if u == "/" && next == "*" {
        // Swift block comments nest.
        var j = i + 2, depth = 1
        while j < c.count && depth > 0 {
          if c[j] == "/" && j + 1 < c.count && c[j + 1] == "*" {
            depth += 1
            j += 2
          } else if c[j] == "*" && j + 1 < c.count && c[j + 1] == "/" {
            depth -= 1
            j += 2
          } else {
            j += 1
          }
        }
        span("com", i, min(j, c.count))
        i = min(j, c.count)
      } else if u == "\"" {
        let triple = i + 2 < c.count && c[i + 1] == "\"" && c[i + 2] == "\""
        var j = i + (triple ? 3 : 1)
        while j < c.count {
          if c[j] == "\\" {
            j += 2
            continue
          }
          if triple {
            if c[j] == "\"" && j + 2 < c.count && c[j + 1] == "\"" && c[j + 2] == "\"" {
              j += 3
              break
            }
          } else if c[j] == "\"" || c[j] == "\n" {
            j += 1
            break
          }
          j += 1
        }
        span("str", i, min(j, c.count))
        i = min(j, c.count)
      } else if ("0"..."9").contains(u) {
        var j = i
        while j < c.count
          && (isIdent(c[j]) || (c[j] == "." && j + 1 < c.count && ("0"..."9").contains(c[j + 1])))
        {
          j += 1
        }
        span("num", i, j)
        i = j
      } else if u == "@" || u == "#", next.map(isIdentStart) ?? false {
        var j = i + 1
        while j < c.count && isIdent(c[j]) { j += 1 }
        span("at", i, j)
        i = j
      } else if isIdentStart(u) {
        var j = i
        while j < c.count && isIdent(c[j]) { j += 1 }
        let word = text(i, j)
        if keywords.contains(word) {
          span("kw", i, j)
        } else if let first = word.unicodeScalars.first, first.properties.isUppercase {
          span("ty", i, j)
        } else {
          out += HTML.escape(word)
        }
        i = j
      } else {
        HTML.append(u, escapedTo: &out)
        i += 1
      }
    }
    return out
  }
}
