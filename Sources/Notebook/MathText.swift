import Common
import Foundation

/// TeX math in prose (`$...$` inline, `$$...$$` on its own) rendered as HTML
/// text with Unicode symbols, so that an offline report needs no script.
/// The Markdown report keeps the TeX, which GitHub renders itself.
///
/// Covers the notation the chapters use: Greek letters, `\mathbf`,
/// `\mathcal`, `\hat`, `\frac`, sub- and superscripts, common operators and
/// delimiters; an unknown command shows as its name.
enum MathText {
  /// Replaces each math span of `markdown` (outside code) by a placeholder
  /// that Markdown leaves alone, returning the HTML to put back for each.
  static func protect(_ markdown: String) -> (String, [(token: String, html: String)]) {
    var out = "", spans: [(String, String)] = []
    let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false)
    var inFence = false
    var displayBuffer: String?
    for (n, line) in lines.enumerated() {
      let trimmed = line.drop(while: { $0 == " " })
      if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") { inFence.toggle() }
      // A line without `$` outside a display block has no math: it stays as it is.
      if inFence || line.hasPrefix("    ") || (displayBuffer == nil && !line.utf8.contains(UInt8(ascii: "$"))) {
        out += line
      } else {
        out += protectLine(String(line), &spans, &displayBuffer)
      }
      if n < lines.count - 1 { out += "\n" }
    }
    return (out, spans)
  }

  /// Puts the rendered math back into cmark's HTML.
  static func restore(_ html: String, _ spans: [(token: String, html: String)]) -> String {
    guard !spans.isEmpty else { return html }
    let byToken = Dictionary(spans.map { ($0.token, $0.html) }, uniquingKeysWith: { first, _ in first })
    // One pass over the page: each `MATHSPAN<n>X` found is looked up.
    var out = ""
    var rest = Substring(html)
    while let start = rest.firstRange(of: "MATHSPAN") {
      out += rest[..<start.lowerBound]
      let digits = rest[start.upperBound...].prefix { $0.isASCII && $0.isNumber }
      let end = digits.endIndex
      if !digits.isEmpty, end < rest.endIndex, rest[end] == "X",
        let math = byToken[String(rest[start.lowerBound...end])]
      {
        out += math
        rest = rest[rest.index(after: end)...]
      } else {
        out += rest[start]
        rest = rest[start.upperBound...]
      }
    }
    return out + rest
  }

  private static func protectLine(
    _ line: String, _ spans: inout [(String, String)], _ display: inout String?
  ) -> String {
    var out = ""
    var chars = Array(line)
    var i = 0
    var inCode = false
    func token(_ html: String) -> String {
      let t = "MATHSPAN\(spans.count)X"
      spans.append((t, html))
      return t
    }
    if display != nil {
      // Inside a $$ ... $$ block spread over lines.
      if let end = line.range(of: "$$") {
        display! += " " + line[..<end.lowerBound]
        out = token("<span class=\"math display\">\(render(display!))</span>")
        display = nil
        chars = Array(line[end.upperBound...])
      } else {
        display! += " " + line
        return ""
      }
    }
    while i < chars.count {
      let c = chars[i]
      if c == "`" { inCode.toggle() }
      if !inCode, c == "\\", i + 1 < chars.count, chars[i + 1] == "$" {
        out += "\\$"
        i += 2
        continue
      }
      if !inCode, c == "$" {
        let isDisplay = i + 1 < chars.count && chars[i + 1] == "$"
        let start = i + (isDisplay ? 2 : 1)
        var j = start
        var found = -1
        while j < chars.count {
          if chars[j] == "$" && (!isDisplay || (j + 1 < chars.count && chars[j + 1] == "$")) {
            found = j
            break
          }
          j += 1
        }
        if isDisplay && found < 0 {
          display = String(chars[start...])
          return out
        }
        if found > start, !chars[start].isWhitespace, !chars[found - 1].isWhitespace || isDisplay {
          let tex = String(chars[start..<found])
          let cls = isDisplay ? "math display" : "math"
          out += token("<span class=\"\(cls)\">\(render(tex))</span>")
          i = found + (isDisplay ? 2 : 1)
          continue
        }
      }
      out.append(c)
      i += 1
    }
    return out
  }

  // MARK: TeX to HTML

  static func render(_ tex: String) -> String {
    var parser = Parser(Array(tex))
    return parser.sequence(until: nil).trimmingCharacters(in: .whitespaces)
  }

  static let symbols: [String: String] = [
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ",
    "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ",
    "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ",
    "Theta": "Θ", "Lambda": "Λ", "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    "odot": "⊙", "cdot": "·", "times": "×", "in": "∈", "notin": "∉", "subseteq": "⊆",
    "subset": "⊂", "supseteq": "⊇", "cup": "∪", "cap": "∩", "to": "→", "rightarrow": "→",
    "leftarrow": "←", "mapsto": "↦", "approx": "≈", "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥",
    "neq": "≠", "infty": "∞", "sum": "Σ", "prod": "Π", "ldots": "…", "cdots": "⋯", "dots": "…",
    "lfloor": "⌊", "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉", "partial": "∂", "nabla": "∇",
    "prime": "′", "pm": "±", "mid": "|", "|": "‖", "{": "{", "}": "}", "%": "%", "#": "#",
    "ln": "ln", "log": "log", "exp": "exp", "min": "min", "max": "max", "sin": "sin", "cos": "cos",
    "quad": "\u{2003}", "qquad": "\u{2003}\u{2003}", ",": "\u{2009}", ";": "\u{2005}",
    ":": "\u{2005}", "!": "", " ": " ", "left": "", "right": "", "big": "", "Big": "",
    "bigl": "", "bigr": "", "Bigl": "", "Bigr": "", "displaystyle": "", "top": "⊤",
  ]

  struct Parser {
    let s: [Character]
    var i = 0
    init(_ s: [Character]) { self.s = s }

    mutating func sequence(until close: Character?) -> String {
      var out = ""
      while i < s.count {
        let c = s[i]
        if let close, c == close {
          i += 1
          return out
        }
        out += atom()
      }
      return out
    }

    /// One unit: a group, a command with its arguments, a script, or a character.
    mutating func atom() -> String {
      let c = s[i]
      switch c {
      case "{":
        i += 1
        return sequence(until: "}")
      case "_", "^":
        i += 1
        let tag = c == "_" ? "sub" : "sup"
        guard i < s.count else { return "" }
        return "<\(tag)>" + argument() + "</\(tag)>"
      case "\\":
        i += 1
        return command()
      case " ", "\t":
        i += 1
        return " "
      case "<": i += 1; return "&lt;"
      case ">": i += 1; return "&gt;"
      case "&": i += 1; return "&amp;"
      case "'": i += 1; return "′"
      default:
        i += 1
        return c.isLetter ? "<i>\(c)</i>" : String(c)
      }
    }

    /// A command's argument: a braced group or a single atom.
    mutating func argument() -> String {
      while i < s.count, s[i] == " " { i += 1 }
      guard i < s.count else { return "" }
      return atom()
    }

    /// The raw text of a braced argument (for `\text`).
    mutating func rawArgument() -> String {
      while i < s.count, s[i] == " " { i += 1 }
      guard i < s.count, s[i] == "{" else { return i < s.count ? String(s[i]) : "" }
      i += 1
      var depth = 1, text = ""
      while i < s.count {
        if s[i] == "{" { depth += 1 }
        if s[i] == "}" { depth -= 1; if depth == 0 { i += 1; break } }
        text.append(s[i])
        i += 1
      }
      return HTML.escape(text)
    }

    mutating func command() -> String {
      guard i < s.count else { return "\\" }
      var name = ""
      if s[i].isLetter {
        while i < s.count, s[i].isLetter {
          name.append(s[i])
          i += 1
        }
      } else {
        name = String(s[i])
        i += 1
      }
      switch name {
      case "mathbf", "boldsymbol": return "<b>" + argument() + "</b>"
      case "mathcal", "mathscr":
        let inner = rawArgument()
        return String(inner.map { c -> Character in
          guard let a = c.asciiValue, (65...90).contains(a),
            let u = Unicode.Scalar(0x1D4D0 + UInt32(a - 65)) else { return c }
          return Character(u)
        })
      case "mathrm", "operatorname", "text", "textrm", "mathit":
        return name == "mathit" ? "<i>" + rawArgument() + "</i>" : rawArgument()
      case "hat", "widehat": return argument() + "\u{0302}"
      case "bar", "overline": return argument() + "\u{0305}"
      case "tilde": return argument() + "\u{0303}"
      case "frac", "dfrac", "tfrac":
        let a = argument(), b = argument()
        return wrap(a) + "/" + wrap(b)
      case "sqrt": return "√" + wrap(argument())
      default: return MathText.symbols[name] ?? name
      }
    }

    /// Parenthesises a fraction's part unless it is one symbol.
    func wrap(_ html: String) -> String {
      let plain = html.replacingOccurrences(of: "<[^>]+>", with: "", options: .regularExpression)
      return plain.count <= 1 ? html : "(" + html + ")"
    }
  }
}
