import ChapterFormat

/// The doctest of a section: each ```` ```output ```` block (not `reference`)
/// against what its cell printed in a run.
public struct OutputMismatch: Sendable, Equatable {
  public var cell: String
  /// `.md` line of the expected block.
  public var line: Int
  /// Unified diff from the expected text to the printed one.
  public var diff: String
}

public enum OutputCheck {
  /// Compares every checked output block of `document` with the records of a run.
  /// A cell that did not run counts as having printed nothing.
  public static func mismatches(
    document: ChapterDocument, records: [CellRecord]
  ) -> [OutputMismatch] {
    var result: [OutputMismatch] = []
    for case .output(let block) in document.blocks where !block.isReference {
      guard let cell = block.cell else { continue }
      let printed = records.first { $0.id == cell }?.output ?? ""
      if !matches(printed, block.text) {
        let diff = UnifiedDiff.make(
          expected: normalized(block.text), actual: normalized(printed),
          expectedName: "\(document.path):\(block.line) (expected)",
          actualName: "cell '\(cell)' (printed)")
        result.append(OutputMismatch(cell: cell, line: block.line, diff: diff))
      }
    }
    return result
  }

  /// What "matches" means for an output block, in a report's "✓ matches" and in `chapter
  /// check` alike: the same lines, where trailing spaces, tabs and carriage returns on a
  /// line (a chapter saved with CRLF line ends) and trailing blank lines (which editors add
  /// and remove at will) are not significant.
  public static func matches(_ printed: String, _ expected: String) -> Bool {
    normalized(printed) == normalized(expected)
  }

  static func normalized(_ text: String) -> String {
    // "\r\n" is one Character, so lines are split at it as well as at "\n".
    let split = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
    var lines = split.map { line in
      var l = line
      while let c = l.last, c == " " || c == "\t" || c == "\r" { l.removeLast() }
      return l
    }
    while let last = lines.last, last.isEmpty { lines.removeLast() }
    return lines.joined(separator: "\n")
  }
}

/// A line-based unified diff (longest common subsequence), as `diff -u` prints it.
public enum UnifiedDiff {
  public static func make(
    expected: String, actual: String, expectedName: String, actualName: String, context: Int = 3
  ) -> String {
    let a = expected.isEmpty ? [] : expected.components(separatedBy: "\n")
    let b = actual.isEmpty ? [] : actual.components(separatedBy: "\n")
    // LCS table from the end, then walk it into an edit script.
    var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in stride(from: a.count - 1, through: 0, by: -1) {
      for j in stride(from: b.count - 1, through: 0, by: -1) {
        table[i][j] = a[i] == b[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
      }
    }
    enum Edit { case same(String), removed(String), added(String) }
    var edits: [Edit] = []
    var i = 0, j = 0
    while i < a.count || j < b.count {
      if i < a.count, j < b.count, a[i] == b[j] {
        edits.append(.same(a[i])); i += 1; j += 1
      } else if i < a.count, j == b.count || table[i + 1][j] >= table[i][j + 1] {
        edits.append(.removed(a[i])); i += 1
      } else {
        edits.append(.added(b[j])); j += 1
      }
    }
    // Group changes with `context` lines around them into hunks.
    var out = ["--- \(expectedName)", "+++ \(actualName)"]
    let changed = edits.indices.filter { if case .same = edits[$0] { false } else { true } }
    var k = 0
    while k < changed.count {
      var lo = max(0, changed[k] - context)
      var hi = min(edits.count, changed[k] + context + 1)
      while k + 1 < changed.count, changed[k + 1] - context <= hi {
        k += 1
        hi = min(edits.count, changed[k] + context + 1)
      }
      // Line numbers of the hunk's start in each text.
      var lineA = 1, lineB = 1
      for e in edits[..<lo] {
        switch e {
        case .same: lineA += 1; lineB += 1
        case .removed: lineA += 1
        case .added: lineB += 1
        }
      }
      var countA = 0, countB = 0, body: [String] = []
      for e in edits[lo..<hi] {
        switch e {
        case .same(let s): body.append(" " + s); countA += 1; countB += 1
        case .removed(let s): body.append("-" + s); countA += 1
        case .added(let s): body.append("+" + s); countB += 1
        }
      }
      out.append("@@ -\(lineA),\(countA) +\(lineB),\(countB) @@")
      out += body
      lo = hi
      k += 1
    }
    return out.joined(separator: "\n")
  }
}
