/// Escaping for HTML and XML text and attribute values.
public enum HTML {
  /// Escapes `& < > " '`: safe in text and in quoted attributes of HTML and SVG.
  public static func escape(_ s: String) -> String {
    // Most text has nothing to escape: it is returned as it is, not copied.
    guard s.utf8.contains(where: needsEscaping) else { return s }
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for ch in s.unicodeScalars { append(ch, escapedTo: &out) }
    return out
  }

  /// Appends `ch` to `out`, escaped as `escape` does.
  public static func append(_ ch: Unicode.Scalar, escapedTo out: inout String) {
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

  /// Undoes `escape` (the five entities it writes; others stay as they are).
  public static func unescape(_ s: String) -> String {
    guard s.utf8.contains(UInt8(ascii: "&")) else { return s }
    let entities: [(String, String)] = [
      ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'"),
    ]
    var out = ""
    var rest = Substring(s)
    while let amp = rest.firstIndex(of: "&") {
      out += rest[..<amp]
      let tail = rest[amp...]
      if let (entity, text) = entities.first(where: { tail.hasPrefix($0.0) }) {
        out += text
        rest = tail.dropFirst(entity.count)
      } else {
        out += "&"
        rest = tail.dropFirst()
      }
    }
    return out + rest
  }

  /// Whether the UTF-8 byte `b` starts something `escape` changes.
  private static func needsEscaping(_ b: UInt8) -> Bool {
    switch b {
    case UInt8(ascii: "&"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "\""),
      UInt8(ascii: "'"):
      return true
    case UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r"): return false
    default: return b < 0x20
    }
  }
}
