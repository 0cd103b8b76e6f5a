/// Escaping for HTML and XML text and attribute values.
enum HTML {
  /// Escapes `& < > " '`: safe in text and in quoted attributes of HTML and SVG.
  static func escape(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for ch in s.unicodeScalars {
      switch ch {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&#39;"
      default:
        // Control characters other than tab/newline are not allowed in XML.
        if ch.value < 0x20 && ch != "\n" && ch != "\t" && ch != "\r" {
          out += "\u{FFFD}"
        } else {
          out.unicodeScalars.append(ch)
        }
      }
    }
    return out
  }
}
