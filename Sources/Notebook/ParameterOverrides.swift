import ChapterFormat
import Foundation

/// A parameter of the section: its name and every cell line that declares it (7.5 declares
/// `lr` in both of its training cells; an override applies to all of them).
public struct ParameterInfo: Sendable, Equatable {
  public var name: String
  public var declarations: [ParameterDeclaration]
  public var defaultValue: ParameterValue { declarations[0].value }
}

/// An override in force, and where it came from (for the report and for messages).
public struct ParameterOverride: Sendable, Equatable {
  public var value: ParameterValue
  /// `profile quick`, `variant vgg16` or `--set`.
  public var source: String
}

/// One request to change a cell parameter or a runner setting (`trainSubset`, `testSubset`),
/// from a profile's entry, a variant's assignment or `--set`: the three sources go through
/// `ParameterOverrides.resolve`, one set of checks and messages.
struct OverrideRequest {
  var name: String
  /// `profile quick`, `variant wide` or `--set` (the report's source column).
  var source: String
  /// The start of every message about it: `profile 'quick'`, `variant 'wide'`, `--set lr=2`.
  var what: String
  /// Its line in the chapter; nil for `--set`, which has none.
  var line: Int?
  /// How a profile writes it, `'lr: 0.5'`, for messages; nil for the others.
  var written: String?
  /// The value, read as the type of `template`.
  var parse: (_ template: ParameterValue) -> Result<ParameterValue, OverrideLiteral.Failure>

  init(profile: String, _ entry: ProfileEntry) {
    (name, source, what, line) = (entry.key, "profile \(profile)", "profile '\(profile)'", entry.line)
    written = "'\(entry.key): \(entry.value.text)'"
    parse = { ParameterOverrides.yamlValue(entry.value, as: $0) }
  }

  init(variant: String, _ assignment: (name: String, literal: String, line: Int)) {
    (name, source, what, line) = (assignment.name, "variant \(variant)", "variant '\(variant)'", assignment.line)
    parse = { OverrideLiteral.parse(assignment.literal, as: $0) }
  }

  init(set: (key: String, value: String)) {
    (name, source, what, line) = (set.key, "--set", "--set \(set.key)=\(set.value)", nil)
    parse = { OverrideLiteral.parse(set.value, as: $0) }
  }
}

/// Checks override requests against a section's parameters and ranges, in order, a later one
/// replacing an earlier one of the same name.
enum ParameterOverrides {
  struct Resolved {
    var overrides: [String: ParameterOverride] = [:]
    var trainSubset: Int?
    var testSubset: Int?
  }

  static func resolve(
    _ requests: [OverrideRequest], parameters: [ParameterInfo], frontMatter: FrontMatter,
    path: String
  ) throws -> Resolved {
    let byName = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0) })
    var resolved = Resolved()

    /// A located error where the request has a line, a plain one otherwise.
    func failure(_ r: OverrideRequest, _ message: String, plainSuffix: String = "") -> Error {
      if let line = r.line { return ChapterError(path: path, line: line, message: message) }
      return NotebookError(message + plainSuffix)
    }
    func describe(_ info: ParameterInfo) -> String {
      let d = info.declarations[0]
      return "parameter '\(info.name)' of cell '\(d.cell)' (line \(d.line)) is "
        + withArticle(info.defaultValue.typeName)
    }
    func unknown(_ key: String) -> String {
      let names = parameters.map(\.name)
      var message = "unknown parameter '\(key)'"
      if let near = nearestName(key, in: names + FrontMatter.settingKeys) {
        message += " (did you mean '\(near)'?)"
      }
      message += "; cell parameters: "
        + (names.isEmpty ? "none" : names.joined(separator: ", "))
        + "; runner settings: " + FrontMatter.settingKeys.joined(separator: ", ")
      return message
    }

    for r in requests {
      // A runner setting: a number of images.
      if FrontMatter.settingKeys.contains(r.name) && byName[r.name] == nil {
        let v = try r.parse(.int(0)).get(orThrow: {
          failure(r, "\(r.what): '\(r.name)' is a number of images: \($0)")
        })
        guard case .int(let n) = v, n >= 1 else {
          throw ChapterError(
            path: path, line: r.line ?? frontMatter.line,
            message: "\(r.what): '\(r.name)' is a number of images, an Int of at least 1")
        }
        if r.name == "trainSubset" { resolved.trainSubset = n } else { resolved.testSubset = n }
        continue
      }
      guard let info = byName[r.name] else {
        throw failure(r, "\(r.what): " + unknown(r.name), plainSuffix: " (in \(path))")
      }
      let line = r.line ?? info.declarations[0].line
      let value = try r.parse(info.defaultValue).get(orThrow: {
        ChapterError(
          path: path, line: line,
          message: "\(r.what): " + (r.written.map { "\($0): " } ?? "") + "\(describe(info)); \($0)")
      })
      let range = frontMatter.ranges[info.name] ?? ParameterRange.implied(for: info.name)
      if let problem = ParameterRange.finiteViolation(value) ?? range?.violation(value) {
        let d = info.declarations[0]
        throw ChapterError(
          path: path, line: line,
          message: "\(r.what): parameter '\(info.name)' of cell '\(d.cell)' (line \(d.line)): "
            + problem)
      }
      resolved.overrides[info.name] = ParameterOverride(value: value, source: r.source)
    }

    // Every declaration of a name must take the override (two cells may disagree on type).
    for (name, o) in resolved.overrides {
      for d in byName[name]!.declarations where !d.value.accepts(o.value) {
        throw ChapterError(
          path: path, line: d.line,
          message: "\(o.source): '\(name)' of cell '\(d.cell)' is \(withArticle(d.value.typeName)), "
            + "the override \(o.value.swiftLiteral) is \(withArticle(o.value.typeName))")
      }
    }
    return resolved
  }

  /// Converts a profile's YAML value to a parameter value of `template`'s type.
  static func yamlValue(_ yaml: YAMLValue, as template: ParameterValue)
    -> Result<ParameterValue, OverrideLiteral.Failure>
  {
    switch yaml {
    case .scalar(let text, let quoted):
      if case .string = template, !quoted || !text.hasPrefix("\"") {
        return .success(.string(text))
      }
      return OverrideLiteral.parse(text, as: template)
    case .sequence:
      // Written back as a Swift literal so that one grammar decides (and `[1, 2]` in YAML
      // and `"[1, 2]"` mean the same). Nested sequences become tuples: [[1, 64], [2, 128]].
      func literal(_ v: YAMLValue, depth: Int) -> String {
        switch v {
        case .scalar(let s, let quoted):
          if quoted || Double(s) == nil && s != "true" && s != "false" {
            return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\")
              .replacingOccurrences(of: "\"", with: "\\\"") + "\""
          }
          return s
        case .sequence(let xs):
          let inner = xs.map { literal($0, depth: depth + 1) }.joined(separator: ", ")
          return depth == 0 ? "[" + inner + "]" : "(" + inner + ")"
        case .mapping: return "{}"
        case .null: return "nil"
        }
      }
      return OverrideLiteral.parse(literal(yaml, depth: 0), as: template)
    case .mapping:
      return .failure(.init(message: "a mapping is not a parameter value"))
    case .null:
      return .failure(.init(message: "the value is empty"))
    }
  }
}

/// The closest name within edit distance 2, for "did you mean".
func nearestName(_ name: String, in candidates: [String]) -> String? {
  func distance(_ a: [Character], _ b: [Character]) -> Int {
    var row = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
      var prev = row[0]
      row[0] = i
      for j in stride(from: 1, through: b.count, by: 1) {
        let cur = row[j]
        row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
        prev = cur
      }
    }
    return a.isEmpty ? b.count : row[b.count]
  }
  let lowered = Array(name.lowercased())
  let scored = candidates.map { ($0, distance(lowered, Array($0.lowercased()))) }
  guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 2, best.1 < name.count else {
    return nil
  }
  return best.0
}

extension Result {
  /// `get()` with the failure turned into a located error.
  func get<E: Error>(orThrow make: (String) -> E) throws -> Success {
    switch self {
    case .success(let v): return v
    case .failure(let f): throw make((f as? OverrideLiteral.Failure)?.message ?? "\(f)")
    }
  }
}
