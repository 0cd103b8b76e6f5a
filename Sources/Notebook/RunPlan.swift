import ChapterFormat
import Foundation

/// What a run of a section is asked to do, as the command line says it.
public struct RunOptions: Sendable {
  /// `book`, `quick`, `smoke` or another declared profile; `nil` means `quick` when the
  /// chapter declares it and `book` otherwise.
  public var profile: String?
  /// `--set NAME=VALUE`, the value still as typed; parsed against the parameter's type.
  public var overrides: [String: String]
  /// `--variant NAME`: an exercise's ```` ```variant ```` block.
  public var variant: String?
  public var seed: UInt64
  public var threads: Int
  /// Folder of the reports; created when missing.
  public var outputDirectory: String
  /// No echo of cell output, no progress bar.
  public var quiet: Bool
  /// Every section of the book in order, for the report's previous/next links and the
  /// index page; empty: no neighbours, and no index is written.
  public var sections: [SectionLink]
  /// `chapter check`: run the cells but skip training (see `RunSettings.skipTraining`).
  public var skipTraining = false
  /// `--resume`: trainings continue from their checkpoints (see `RunSettings.resume`).
  public var resume = false
  /// `--no-cache`: every training runs, none is loaded from the cache (see
  /// `RunSettings.useCache`).
  public var noCache = false
  /// The math library's kernel set (e.g. `OpenBLAS SkylakeX`), appended to the report's
  /// machine line: on this machine kind it decides the speed as much as the CPU does.
  public var mathLibrary: String?
  /// `--cell-timeout SECONDS`: a cell running longer stops the run (`CellWatchdog`).
  public var cellTimeout: Double?

  public init(
    profile: String? = nil, overrides: [String: String] = [:], variant: String? = nil,
    seed: UInt64 = 0, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
    outputDirectory: String = "Output", quiet: Bool = false,
    sections: [SectionLink] = []
  ) {
    self.profile = profile
    self.overrides = overrides
    self.variant = variant
    self.seed = seed
    self.threads = threads
    self.outputDirectory = outputDirectory
    self.quiet = quiet
    self.sections = sections
  }

  /// Splits repeated `NAME=VALUE` arguments. Splits at the first `=` (a String value may
  /// contain more); a name given twice is an error rather than a silent last-one-wins.
  public static func parseSetArguments(_ arguments: [String]) throws -> [String: String] {
    var result: [String: String] = [:]
    for argument in arguments {
      guard let eq = argument.firstIndex(of: "=") else {
        throw NotebookError("--set '\(argument)': expected NAME=VALUE")
      }
      let name = argument[..<eq].trimmingCharacters(in: .whitespaces)
      let value = String(argument[argument.index(after: eq)...])
      guard !name.isEmpty else { throw NotebookError("--set '\(argument)': the name is empty") }
      guard result[name] == nil else {
        throw NotebookError("--set \(name) is given twice")
      }
      result[name] = value
    }
    return result
  }
}

/// The settings a run uses, for cells and for D2L (data subsets, seeds, threads).
public struct RunSettings: Sendable, Equatable {
  public var profile: String
  public var seed: UInt64
  public var threads: Int
  /// Number of Fashion-MNIST training images to use; `nil` means all 60,000.
  public var trainSubset: Int?
  /// Number of test images to use; `nil` means all 10,000.
  public var testSubset: Int?
  public var quiet: Bool
  /// Set by `chapter check`: training functions return at once without training, so that
  /// the cells' checked outputs (shapes, summaries) are verified in seconds.
  public var skipTraining = false
  /// `--resume`: a training whose checkpoint exists (same section, cell, code and
  /// parameters) continues from it instead of starting afresh.
  public var resume = false
  /// Trainings are looked up in, and stored to, the training cache (`TrainingCache`);
  /// `--no-cache` turns it off (a cached result is then recomputed, and not stored).
  public var useCache = true

  public init(
    profile: String = "book", seed: UInt64 = 0, threads: Int = 1, trainSubset: Int? = nil,
    testSubset: Int? = nil, quiet: Bool = false
  ) {
    self.profile = profile
    self.seed = seed
    self.threads = threads
    self.trainSubset = trainSubset
    self.testSubset = testSubset
    self.quiet = quiet
  }
}

/// A bad input that has no single line of a chapter to point at (a usage mistake, an unknown
/// section, an unwritable output folder). Located mistakes are `ChapterError`s. Both mean
/// exit code 2.
public struct NotebookError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { "error: \(message)" }
}

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

/// A section run, fully checked: the document, its front matter, the effective overrides and
/// settings. Building one runs nothing; every bad input is found here.
public struct RunPlan: Sendable {
  public let program: SectionProgram
  public let document: ChapterDocument
  public let frontMatter: FrontMatter
  public let title: String
  public var settings: RunSettings
  public let parameters: [ParameterInfo]
  public let overrides: [String: ParameterOverride]
  public var options: RunOptions
  /// Set when the profile's subsets came from a profile description (for the report).
  public var profileDescription: String?

  /// Parses `program.markdown` and checks the options against it.
  public init(program: SectionProgram, options: RunOptions) throws {
    let document = try ChapterParser.parse(program.markdown, path: program.sourcePath)
    try self.init(program: program, document: document, options: options)
  }

  /// As above, from an already parsed document (tests build documents by hand).
  public init(program: SectionProgram, document: ChapterDocument, options: RunOptions) throws {
    self.program = program
    self.document = document
    self.options = options
    let frontMatter = try FrontMatter.parse(document)
    self.frontMatter = frontMatter
    self.title = frontMatter.title ?? Self.firstHeading(document) ?? program.slug

    var parameters: [ParameterInfo] = []
    for cell in document.cells {
      for decl in cell.parameters {
        if let i = parameters.firstIndex(where: { $0.name == decl.name }) {
          parameters[i].declarations.append(decl)
        } else {
          parameters.append(ParameterInfo(name: decl.name, declarations: [decl]))
        }
      }
    }
    self.parameters = parameters
    let byName = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0) })
    let path = document.path

    // Profile.
    let profileName = options.profile ?? (frontMatter.profile(named: "quick") != nil ? "quick" : "book")
    let profile = frontMatter.profile(named: profileName)
    if profile == nil && profileName != "book" {
      let declared = ["book"] + frontMatter.profiles.map(\.name).filter { $0 != "book" }
      throw ChapterError(
        path: path, line: frontMatter.line,
        message: "unknown profile '\(profileName)': this chapter's profiles are "
          + declared.joined(separator: ", "))
    }
    self.profileDescription = profile?.description

    var overrides: [String: ParameterOverride] = [:]
    var settings = RunSettings(
      profile: profileName, seed: options.seed, threads: options.threads, quiet: options.quiet)
    settings.skipTraining = options.skipTraining
    settings.resume = options.resume
    settings.useCache = !options.noCache

    func describe(_ info: ParameterInfo) -> String {
      let d = info.declarations[0]
      return "parameter '\(info.name)' of cell '\(d.cell)' (line \(d.line)) is "
        + withArticle(info.defaultValue.typeName)
    }
    func check(
      _ info: ParameterInfo, _ value: ParameterValue, at line: Int, _ what: String
    ) throws {
      let range = frontMatter.ranges[info.name] ?? ParameterRange.implied(for: info.name)
      if let problem = ParameterRange.finiteViolation(value) ?? range?.violation(value) {
        let d = info.declarations[0]
        throw ChapterError(
          path: path, line: line,
          message: "\(what): parameter '\(info.name)' of cell '\(d.cell)' (line \(d.line)): "
            + problem)
      }
    }
    func setting(_ key: String, _ value: ParameterValue, at line: Int, _ what: String) throws {
      guard case .int(let n) = value, n >= 1 else {
        throw ChapterError(
          path: path, line: line,
          message: "\(what): '\(key)' is a number of images, an Int of at least 1")
      }
      if key == "trainSubset" { settings.trainSubset = n } else { settings.testSubset = n }
    }
    func unknown(_ key: String) -> String {
      let names = parameters.map(\.name)
      var message = "unknown parameter '\(key)'"
      if let near = Self.nearest(key, in: names + FrontMatter.settingKeys) {
        message += " (did you mean '\(near)'?)"
      }
      message += "; cell parameters: "
        + (names.isEmpty ? "none" : names.joined(separator: ", "))
        + "; runner settings: " + FrontMatter.settingKeys.joined(separator: ", ")
      return message
    }

    if let profile {
      let what = "profile '\(profile.name)'"
      for entry in profile.entries {
        if FrontMatter.settingKeys.contains(entry.key) && byName[entry.key] == nil {
          let v = try Self.value(entry.value, as: .int(0)).get(orThrow: {
            ChapterError(
              path: path, line: entry.line,
              message: "\(what): '\(entry.key)' is a number of images: \($0)")
          })
          try setting(entry.key, v, at: entry.line, what)
          continue
        }
        guard let info = byName[entry.key] else {
          throw ChapterError(path: path, line: entry.line, message: "\(what): " + unknown(entry.key))
        }
        let value = try Self.value(entry.value, as: info.defaultValue).get(orThrow: {
          ChapterError(
            path: path, line: entry.line,
            message: "\(what): '\(entry.key): \(entry.value.text)': \(describe(info)); \($0)")
        })
        try check(info, value, at: entry.line, what)
        overrides[info.name] = ParameterOverride(value: value, source: "profile \(profile.name)")
      }
    }

    // Variant.
    if let variantName = options.variant {
      let variants = document.blocks.compactMap { b -> Variant? in
        if case .variant(let v) = b { v } else { nil }
      }
      guard let variant = variants.first(where: { $0.name == variantName }) else {
        let names = variants.map(\.name)
        throw NotebookError(
          "unknown variant '\(variantName)' in \(path): "
            + (names.isEmpty ? "it declares none" : "its variants are " + names.joined(separator: ", ")))
      }
      let what = "variant '\(variantName)'"
      for a in variant.assignments {
        if FrontMatter.settingKeys.contains(a.name) && byName[a.name] == nil {
          let v = try OverrideLiteral.parse(a.literal, as: .int(0)).get(orThrow: {
            ChapterError(
              path: path, line: a.line, message: "\(what): '\(a.name)' is a number of images: \($0)")
          })
          try setting(a.name, v, at: a.line, what)
          continue
        }
        guard let info = byName[a.name] else {
          throw ChapterError(path: path, line: a.line, message: "\(what): " + unknown(a.name))
        }
        let value = try OverrideLiteral.parse(a.literal, as: info.defaultValue).get(orThrow: {
          ChapterError(path: path, line: a.line, message: "\(what): \(describe(info)); \($0)")
        })
        try check(info, value, at: a.line, what)
        overrides[info.name] = ParameterOverride(value: value, source: "variant \(variantName)")
      }
    }

    // --set, in name order so that the first error reported does not depend on hashing.
    for (name, text) in options.overrides.sorted(by: { $0.key < $1.key }) {
      let what = "--set \(name)=\(text)"
      if FrontMatter.settingKeys.contains(name) && byName[name] == nil {
        let v = try OverrideLiteral.parse(text, as: .int(0)).get(orThrow: {
          NotebookError("\(what): '\(name)' is a number of images: \($0)")
        })
        try setting(name, v, at: frontMatter.line, what)
        continue
      }
      guard let info = byName[name] else {
        throw NotebookError("\(what): " + unknown(name) + " (in \(path))")
      }
      let line = info.declarations[0].line
      let value = try OverrideLiteral.parse(text, as: info.defaultValue).get(orThrow: {
        ChapterError(path: path, line: line, message: "\(what): \(describe(info)); \($0)")
      })
      try check(info, value, at: line, what)
      overrides[name] = ParameterOverride(value: value, source: "--set")
    }

    // Every declaration of a name must take the override (two cells may disagree on type).
    for (name, o) in overrides {
      for d in byName[name]!.declarations where !d.value.accepts(o.value) {
        throw ChapterError(
          path: path, line: d.line,
          message: "\(o.source): '\(name)' of cell '\(d.cell)' is \(withArticle(d.value.typeName)), "
            + "the override \(o.value.swiftLiteral) is \(withArticle(o.value.typeName))")
      }
    }
    self.overrides = overrides
    self.settings = settings
  }

  /// Converts a profile's YAML value to a parameter value of `template`'s type.
  static func value(_ yaml: YAMLValue, as template: ParameterValue)
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

  static func firstHeading(_ document: ChapterDocument) -> String? {
    for block in document.blocks {
      guard case .prose(let p) = block else { continue }
      for line in p.markdown.split(separator: "\n") where line.hasPrefix("# ") {
        return line.dropFirst(2).trimmingCharacters(in: .whitespaces)
      }
    }
    return nil
  }

  /// The closest name within edit distance 2, for "did you mean".
  static func nearest(_ name: String, in candidates: [String]) -> String? {
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

extension NotebookError {
  /// The message of an error that means bad input (exit code 2): a `ChapterError` (located)
  /// or a `NotebookError`; `nil` for any other error.
  public static func inputErrorDescription(_ error: Error) -> String? {
    if let e = error as? ChapterError { return e.description }
    if let e = error as? NotebookError { return e.message }
    return nil
  }
}
