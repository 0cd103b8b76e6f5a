import ChapterFormat
import Foundation
import Yams

/// The YAML front matter of a chapter, read with its `.md` lines so that every mistake in it
/// can be reported where it is.
///
/// ```yaml
/// section: "7.5"
/// title: Batch Normalization
/// network: { scratch: LeNet with our BatchNorm, concise: LeNet with the engine's BatchNorm }
/// ranges: { resize: ">= 28" }
/// profiles:
///   quick: { description: a few minutes, numEpochs: 2, trainSubset: 12000, testSubset: 2000 }
///   smoke: { numEpochs: 1, trainSubset: 256, testSubset: 256 }
/// ```
///
/// Profile values stay untyped here ( `YAMLValue`): their types come from the cells'
/// parameters, which `RunPlan` checks them against.
public struct FrontMatter: Sendable {
  public var section: String?
  public var title: String?
  public var description: String?
  /// `network:` — a string, or a mapping from a network's name to its description.
  public var networks: [NetworkNote]
  /// `ranges:` — allowed values of parameters, see `ParameterRange`.
  public var ranges: [String: ParameterRange]
  /// Declared profiles in file order (the implicit `book` is not among them unless declared).
  public var profiles: [ProfileDefinition]
  /// `.md` line of the first front-matter line (or 1 when there is no front matter).
  public var line: Int

  /// The top-level keys a chapter may use; anything else is a typo worth an error.
  public static let knownKeys = ["section", "title", "description", "network", "ranges", "profiles"]
  /// Keys of a profile that are runner settings rather than cell parameters.
  public static let settingKeys = ["trainSubset", "testSubset"]

  public func profile(named name: String) -> ProfileDefinition? {
    profiles.first { $0.name == name }
  }
}

/// A network the section trains, as the front matter describes it (for the report header).
public struct NetworkNote: Sendable, Equatable {
  public var name: String
  public var description: String
}

/// One `profiles:` entry: its keys, still as YAML, each with its `.md` line.
public struct ProfileDefinition: Sendable {
  public var name: String
  public var description: String?
  public var line: Int
  public var entries: [ProfileEntry]
}

/// `key: value` inside a profile.
public struct ProfileEntry: Sendable {
  public var key: String
  public var value: YAMLValue
  public var line: Int
}

/// A YAML value reduced to what parameters need: scalars (with whether they were quoted,
/// since a quoted `"[(1, 64)]"` is a Swift literal to parse) and sequences.
public indirect enum YAMLValue: Sendable, Equatable {
  case scalar(String, quoted: Bool)
  case sequence([YAMLValue])
  case mapping
  case null

  /// How the value reads in a message.
  public var text: String {
    switch self {
    case .scalar(let s, _): s
    case .sequence(let items): "[" + items.map(\.text).joined(separator: ", ") + "]"
    case .mapping: "{...}"
    case .null: "null"
    }
  }
}

extension FrontMatter {
  /// The `title` of a chapter's front matter, read from the YAML alone (the chapter is not
  /// parsed, nothing is checked); nil when there is none, or it is not a single value.
  public static func title(ofChapter markdown: String) -> String? {
    plainTitle(ofChapter: markdown) ?? yamlTitle(ofChapter: markdown)
  }

  /// The same, from the YAML parser.
  static func yamlTitle(ofChapter markdown: String) -> String? {
    guard let yaml = ChapterParser.frontMatter(of: markdown),
      case .mapping(let mapping)? = try? composeYAML(yaml),
      case .scalar(let title)? = mapping["title"]
    else { return nil }
    return title.string
  }

  /// The title when the front matter is plainly a mapping and gives it in the simplest form,
  /// a top-level `title: Some words` on one line, as every chapter here does; nil for
  /// anything else (a quoted or continued title, a character YAML reads specially, a line
  /// that is not a plain `key: value`), which the YAML parser then reads. Every run lists
  /// every section's title, and composing each chapter's whole front matter for it took
  /// longer than the rest of the run's links. The fuzz tests check that it agrees with the
  /// YAML parser.
  static func plainTitle(ofChapter markdown: String) -> String? {
    // Line by line up to the front matter's end, not the whole chapter.
    var rest = Substring(markdown)
    let lines = AnyIterator<Substring> {
      guard !rest.isEmpty else { return nil }
      guard let end = rest.utf8.firstIndex(of: UInt8(ascii: "\n")) else {
        defer { rest = rest[rest.endIndex...] }
        return rest
      }
      defer { rest = rest[rest.utf8.index(after: end)...] }
      return rest[..<end]
    }
    func trimmed(_ line: Substring) -> Substring {
      var line = line
      while let last = line.last, last == " " || last == "\r" { line = line.dropLast() }
      return line
    }
    guard let first = lines.next(), trimmed(first) == "---" else { return nil }
    var title: Substring?
    var titleIsLast = false
    while let raw = lines.next() {
      let line = trimmed(raw)
      // YAML (libyaml's 1.1) also breaks lines at a lone carriage return, NEL, and the
      // Unicode line and paragraph separators: a title "continued" past one of them is
      // folded there, which this line-by-line reading would not do.
      guard !line.unicodeScalars.contains(where: { "\r\u{85}\u{2028}\u{2029}".unicodeScalars.contains($0) })
      else { return nil }
      if line == "---" { break }
      guard let c = line.first, c != "#" else { continue }
      if c == " " {
        // An indented line continues the line above: fine for any other key's value.
        if titleIsLast { return nil }
        continue
      }
      titleIsLast = false
      // A top-level line must read `key: value` or `key:` with a plain key.
      guard let colon = line.firstIndex(of: ":"),
        line[..<colon].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }),
        c.isLetter || c == "_"
      else { return nil }
      var value = line[line.index(after: colon)...]
      guard value.isEmpty || value.first == " " else { return nil }
      while value.first == " " { value = value.dropFirst() }
      guard closesOnItsLine(value) else { return nil }
      guard line[..<colon] == "title" else { continue }
      guard title == nil, let v = value.first, !"-?:,[]{}#&*!|>'\"%@`".contains(v),
        !value.contains(": "), !value.contains(" #"), !value.hasSuffix(":"), !value.contains("\t")
      else { return nil }
      title = value
      titleIsLast = true
    }
    return title.map(String.init)
  }

  /// Whether a top-level value ends on its line, so that nothing of it can run on into the
  /// next lines (where a `title:` would then be text): a plain value does; a quoted one must
  /// close at the line's end, and a bracketed one must close its brackets and the quotes in
  /// them, in both cases without escapes.
  private static func closesOnItsLine(_ value: Substring) -> Bool {
    guard let first = value.first else { return true }
    if first == "\"" || first == "'" {
      let body = value.dropFirst()
      return body.last == first && !body.dropLast().contains(first) && !body.contains("\\")
    }
    guard first == "[" || first == "{" else { return true }
    // A doubled quote escapes one in YAML's single-quoted scalars.
    guard !value.contains("''") else { return false }
    var quote: Character?
    var depth = 0
    var previous: Character = " "
    for c in value {
      if let q = quote {
        if c == "\\" { return false }
        if c == q { quote = nil }
      } else if (c == "\"" || c == "'") && "[{,: ".contains(previous) {
        // A quote opens a quoted scalar only where a flow value starts.
        quote = c
      } else if c == "[" || c == "{" {
        depth += 1
      } else if c == "]" || c == "}" {
        depth -= 1
      }
      previous = c
    }
    return quote == nil && depth == 0
  }

  /// The YAML as nodes. Their scalars are read as text (`Node.string`) and typed by the
  /// parameters they set, never by YAML's resolver, so the basic resolver and an empty
  /// constructor do: the default ones compile regular expressions and build tables at their
  /// first use, in every run.
  static func composeYAML(_ text: String) throws -> Node? {
    try Yams.compose(yaml: text, .basic, Constructor([:], [:], [:]))
  }

  /// Reads `document.frontMatter`. Errors name the `.md` path and line.
  public static func parse(_ document: ChapterDocument) throws -> FrontMatter {
    let base = document.frontMatterLine
    var result = FrontMatter(
      section: nil, title: nil, description: nil, networks: [], ranges: [:], profiles: [],
      line: base)
    let text = document.frontMatter
    if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return result }

    func error(_ line: Int, _ message: String) -> ChapterError {
      ChapterError(path: document.path, line: line, message: message)
    }
    func mdLine(_ node: Node) -> Int { base + max((node.mark?.line ?? 1) - 1, 0) }

    let root: Node?
    do {
      root = try composeYAML(text)
    } catch let yamlError as YamlError {
      let (line, problem) = describe(yamlError)
      throw error(base + line - 1, "bad front matter YAML: \(problem)")
    } catch {
      throw ChapterError(
        path: document.path, line: base, message: "bad front matter YAML: \(error)")
    }
    guard let root else { return result }
    guard case .mapping(let mapping) = root else {
      throw error(mdLine(root), "the front matter must be a YAML mapping (key: value lines)")
    }

    for (keyNode, value) in mapping {
      let key = keyNode.string ?? ""
      let line = mdLine(keyNode)
      switch key {
      case "section", "title", "description":
        guard case .scalar(let s) = value else {
          throw error(line, "front matter '\(key)' must be a single value")
        }
        switch key {
        case "section": result.section = s.string
        case "title": result.title = s.string
        default: result.description = s.string
        }
      case "network":
        switch value {
        case .scalar(let s): result.networks = [NetworkNote(name: "", description: s.string)]
        case .mapping(let m):
          result.networks = try m.map { k, v in
            guard let d = v.string else {
              throw error(mdLine(k), "network '\(k.string ?? "")' needs a text description")
            }
            return NetworkNote(name: k.string ?? "", description: d)
          }
        default:
          throw error(line, "front matter 'network' must be a text or a mapping name: text")
        }
      case "ranges":
        guard case .mapping(let m) = value else {
          throw error(line, "front matter 'ranges' must map parameter names to ranges")
        }
        for (k, v) in m {
          let name = k.string ?? ""
          do {
            result.ranges[name] = try ParameterRange(v.string ?? "")
          } catch let failure as OverrideLiteral.Failure {
            throw error(mdLine(k), "range of '\(name)': \(failure.message)")
          }
        }
      case "profiles":
        guard case .mapping(let m) = value else {
          throw error(line, "front matter 'profiles' must map profile names to their settings")
        }
        for (k, v) in m {
          result.profiles.append(try parseProfile(k, v, error: error, mdLine: mdLine))
        }
      default:
        let known = knownKeys.joined(separator: ", ")
        throw error(line, "unknown front matter key '\(key)' (known keys: \(known))")
      }
    }
    return result
  }

  private static func parseProfile(
    _ keyNode: Node, _ value: Node, error: (Int, String) -> ChapterError, mdLine: (Node) -> Int
  ) throws -> ProfileDefinition {
    let name = keyNode.string ?? ""
    var profile = ProfileDefinition(name: name, description: nil, line: mdLine(keyNode), entries: [])
    switch value {
    case .mapping(let m):
      for (k, v) in m {
        let key = k.string ?? ""
        if key == "description" {
          profile.description = v.string
          continue
        }
        profile.entries.append(ProfileEntry(key: key, value: yamlValue(v), line: mdLine(k)))
      }
    case .scalar(let s) where s.string.isEmpty || s.string == "~" || s.string == "null":
      break  // `book:` with nothing under it
    default:
      throw error(mdLine(keyNode), "profile '\(name)' must be a mapping of settings")
    }
    if name == "book", !profile.entries.isEmpty {
      throw error(
        profile.entries[0].line,
        "profile 'book' is the book's own settings and takes no overrides"
          + " (found '\(profile.entries[0].key)')")
    }
    return profile
  }

  private static func yamlValue(_ node: Node) -> YAMLValue {
    switch node {
    case .scalar(let s):
      let quoted = s.style == .singleQuoted || s.style == .doubleQuoted
      if !quoted, node.null != nil { return .null }
      return .scalar(s.string, quoted: quoted || s.style == .literal || s.style == .folded)
    case .sequence(let seq): return .sequence(seq.map(yamlValue))
    case .mapping: return .mapping
    case .alias: return .null
    }
  }

  /// A YAML error's line within the front matter (1-based) and its problem in words.
  private static func describe(_ error: YamlError) -> (Int, String) {
    switch error {
    case .scanner(let context, let problem, let mark, _),
      .parser(let context, let problem, let mark, _),
      .composer(let context, let problem, let mark, _):
      let ctx = context.map { "\($0.text) " } ?? ""
      return (max(mark.line, 1), ctx + problem)
    case .duplicatedKeysInMapping(let duplicates, let context):
      return (max(context.mark.line, 1), "duplicate keys " + duplicates.joined(separator: ", "))
    default:
      return (1, "\(error)")
    }
  }
}
