import CCmark
import Common
import Foundation

/// Prose to HTML with cmark, and the headings found on the way (for the table of contents).
enum MarkdownHTML {
  /// A heading of the rendered page.
  struct Heading: Equatable {
    var level: Int
    /// The heading's inner HTML without tags (already escaped).
    var text: String
    var id: String
  }

  /// CommonMark to HTML. CMARK_OPT_DEFAULT leaves out raw HTML (cmark's "safe" mode), so a
  /// chapter cannot inject markup or scripts into its report.
  static func render(_ markdown: String) -> String {
    let length = markdown.utf8.count
    guard let html = cmark_markdown_to_html(markdown, length, CMARK_OPT_DEFAULT) else { return "" }
    defer { free(html) }
    return String(cString: html)
  }

  /// Adds `id`s to the `<hN>` tags cmark wrote (it writes them bare) and returns the
  /// headings. `used` keeps ids unique across the prose blocks of one page.
  static func addHeadingIDs(_ html: String, used: inout Set<String>) -> (String, [Heading]) {
    var out = ""
    var headings: [Heading] = []
    var rest = Substring(html)
    // The standard library's search, not Foundation's `range(of:)`, which goes through
    // NSString for every call.
    while let open = rest.firstRange(of: "<h") {
      let afterH = rest[open.upperBound...]
      guard let level = afterH.first?.wholeNumberValue, (1...6).contains(level),
        afterH.dropFirst().first == ">",
        let close = afterH.firstRange(of: "</h\(level)>")
      else {
        out += rest[..<open.upperBound]
        rest = afterH
        continue
      }
      let inner = afterH[afterH.index(afterH.startIndex, offsetBy: 2)..<close.lowerBound]
      let text = stripTags(String(inner))
      let id = uniqueID(slug(text), used: &used)
      headings.append(Heading(level: level, text: text, id: id))
      out += rest[..<open.lowerBound]
      out += "<h\(level) id=\"\(id)\">\(inner)</h\(level)>"
      rest = afterH[close.upperBound...]
    }
    out += rest
    return (out, headings)
  }

  static func stripTags(_ html: String) -> String {
    var out = ""
    var inTag = false
    for ch in html {
      if ch == "<" { inTag = true } else if ch == ">" { inTag = false } else if !inTag { out.append(ch) }
    }
    return out
  }

  /// GitHub's anchor rule: lower case, spaces to `-`, punctuation dropped.
  static func slug(_ text: String) -> String {
    var out = ""
    for ch in HTML.unescape(text).lowercased() {
      if ch.isLetter || ch.isNumber || ch == "-" || ch == "_" {
        out.append(ch)
      } else if ch == " " {
        out.append("-")
      }
    }
    return out.isEmpty ? "section" : out
  }

  static func uniqueID(_ base: String, used: inout Set<String>) -> String {
    var id = base
    var n = 1
    while used.contains(id) {
      id = "\(base)-\(n)"
      n += 1
    }
    used.insert(id)
    return id
  }

  /// ATX headings (`## Title`) of Markdown prose, outside fenced code.
  static func markdownHeadings(_ markdown: String) -> [(level: Int, text: String)] {
    var result: [(Int, String)] = []
    var fence: String?
    for rawLine in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
      let line = rawLine.drop { $0 == " " }
      if let f = fence {
        if line.hasPrefix(f) { fence = nil }
        continue
      }
      if line.hasPrefix("```") || line.hasPrefix("~~~") {
        fence = String(line.prefix { $0 == line.first })
        continue
      }
      let hashes = line.prefix { $0 == "#" }.count
      guard (1...6).contains(hashes), line.dropFirst(hashes).first == " " else { continue }
      var text = line.dropFirst(hashes).trimmingCharacters(in: .whitespaces)
      while text.hasSuffix("#") { text.removeLast() }
      result.append((hashes, text.trimmingCharacters(in: .whitespaces)))
    }
    return result
  }
}
