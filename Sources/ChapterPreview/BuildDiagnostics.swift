import Foundation

/// One compiler error from `swift build`'s output, placed in the chapter file it points at.
///
/// The tangled cells carry `#sourceLocation` lines, so the compiler names the `.md` file and
/// its line itself; this type only reads that and the line's text from the file.
public struct BuildDiagnostic: Equatable, Sendable {
  /// The file, relative to the package when it lies inside it.
  public var file: String
  public var line: Int
  public var column: Int
  public var message: String
  /// The text of that line in the file (nil when it cannot be read).
  public var source: String?

  /// The JSON object the page receives.
  var json: [String: Any] {
    var object: [String: Any] = [
      "file": file, "line": line, "column": column, "message": message,
    ]
    if let source { object["source"] = source }
    return object
  }
}

/// Reads the errors out of `swift build`'s output.
public enum BuildDiagnostics {
  /// Each distinct error line of `log` (see `parse`), in order (the build
  /// prints some twice). Paths under `packageRoot` are made relative to it, and the source
  /// line is read from the file.
  public static func errors(in log: String, packageRoot: String) -> [BuildDiagnostic] {
    var seen = Set<String>()
    var found: [BuildDiagnostic] = []
    for line in log.split(separator: "\n", omittingEmptySubsequences: true) {
      guard let diagnostic = parse(String(line)), seen.insert(String(line)).inserted else {
        continue
      }
      var placed = diagnostic
      placed.source = sourceLine(file: diagnostic.file, line: diagnostic.line)
      let prefix = packageRoot.hasSuffix("/") ? packageRoot : packageRoot + "/"
      if placed.file.hasPrefix(prefix) { placed.file.removeFirst(prefix.count) }
      found.append(placed)
    }
    return found
  }

  /// Where a run that crashed stopped: `chapter run`'s crash report names the section and
  /// cell (`chapter: section 7.5 crashed in cell …`) and then the statement (`at PATH:LINE`).
  public static func crash(in stderr: String, packageRoot: String) -> BuildDiagnostic? {
    let lines = stderr.split(separator: "\n").map(String.init)
    guard let headline = lines.first(where: { $0.hasPrefix("chapter: section ") && $0.contains(" crashed ") }),
      let at = lines.first(where: { $0.hasPrefix("  at /") })
    else { return nil }
    let location = at.dropFirst("  at ".count).prefix { $0 != " " }
    guard let colon = location.lastIndex(of: ":"), let line = Int(location[location.index(after: colon)...])
    else { return nil }
    let file = String(location[..<colon])
    let prefix = packageRoot.hasSuffix("/") ? packageRoot : packageRoot + "/"
    var message = String(headline.dropFirst("chapter: ".count))
    message = message.replacingOccurrences(of: prefix, with: "")
    return BuildDiagnostic(
      file: file.hasPrefix(prefix) ? String(file.dropFirst(prefix.count)) : file, line: line,
      column: 0, message: message, source: sourceLine(file: file, line: line))
  }

  /// `PATH:LINE:COLUMN: error: MESSAGE` (the compiler's form) or `PATH:LINE: error: MESSAGE`
  /// (the tangler's, which has no column), or nil for any other line.
  static func parse(_ line: String) -> BuildDiagnostic? {
    guard let marker = line.range(of: ": error: ") else { return nil }
    var location = line[..<marker.lowerBound].split(separator: ":", omittingEmptySubsequences: false)
    guard location.count >= 2, let last = Int(location.removeLast()) else { return nil }
    var lineNumber = last, column = 0
    if location.count >= 2, let previous = Int(location[location.count - 1]) {
      location.removeLast()
      (lineNumber, column) = (previous, last)
    }
    let file = location.joined(separator: ":")
    guard file.hasPrefix("/") else { return nil }
    return BuildDiagnostic(
      file: file, line: lineNumber, column: column,
      message: String(line[marker.upperBound...]), source: nil)
  }

  static func sourceLine(file: String, line: Int) -> String? {
    guard line >= 1, let text = try? String(contentsOfFile: file, encoding: .utf8) else {
      return nil
    }
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    return line <= lines.count ? String(lines[line - 1]) : nil
  }
}
