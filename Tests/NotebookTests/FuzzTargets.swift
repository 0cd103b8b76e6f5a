// The parsers' fuzz targets and the contracts they check, shared (a symbolic link) by the
// seeded mutation loop of `FuzzTests` and by the libFuzzer executable of `scripts/fuzz.sh`
// (`Tests/Fuzz/LibFuzzer`). Each of the two defines `fuzzCheck` and `fuzzFailure`: a
// recorded test issue there, a trap here, which libFuzzer takes as a crash.
import Foundation

@testable import ChapterFormat
@testable import Notebook

// MARK: The targets

/// One function per parser; each checks the contracts the CLI relies on.
enum FuzzTargets {
  static let path = "/fuzz/9.9-fuzz.md"

  /// A whole chapter: parse, tangle, then plan runs with the default profile, `smoke` and
  /// its last variant.
  static func chapter(_ text: String) {
    let document: ChapterDocument
    do {
      document = try ChapterParser.parse(text, path: path)
    } catch {
      expectLocated(error, in: text, "chapter")
      return
    }
    if let quick = FrontMatter.plainTitle(ofChapter: text), let front = try? FrontMatter.parse(document) {
      fuzzCheck(quick == front.title, "quick title \(quick), YAML \(front.title ?? "none"): \(sample(text))")
    }
    let lines = lineCount(text)
    var ids = Set<String>()
    for cell in document.cells {
      fuzzCheck(ChapterParser.isValidID(cell.id), "bad id \(cell.id): \(sample(text))")
      fuzzCheck(ids.insert(cell.id).inserted, "duplicate id \(cell.id): \(sample(text))")
      fuzzCheck(cell.line >= 1 && cell.line <= lines + 1, "cell line \(cell.line): \(sample(text))")
      for p in cell.parameters {
        fuzzCheck(p.name.isSwiftIdentifier && p.line >= cell.line, "\(p.name): \(sample(text))")
      }
    }
    let tangled = SwiftTangler.tangle(
      document, markdown: text, sourcePath: path, section: SectionFileName(fileName: path)!)
    for cell in document.cells {
      fuzzCheck(tangled.contains(ParameterValue.stringLiteral(cell.id)), "\(sample(text))")
    }
    // The default profile, the tests' one, and the last variant (each plan reads the YAML
    // again, so one of each keeps an input fast).
    for profile in [nil, "smoke"] { plan(text, document, RunOptions(profile: profile, threads: 1)) }
    let variant = document.variants.last?.name ?? "no-such-variant"
    plan(text, document, RunOptions(profile: "smoke", variant: variant, threads: 1))
  }

  /// YAML front matter in front of a fixed body whose cells declare one parameter of each
  /// type, so that profile values meet every type check.
  static func frontMatter(_ yaml: String) {
    let text = "---\n" + yaml + (yaml.hasSuffix("\n") ? "" : "\n") + "---\n\n" + typedCells
    let document: ChapterDocument
    do {
      document = try ChapterParser.parse(text, path: path)
    } catch {
      expectLocated(error, in: text, "front matter (chapter)")
      return
    }
    let front: FrontMatter
    do {
      front = try FrontMatter.parse(document)
    } catch {
      expectLocated(error, in: text, "front matter")
      return
    }
    for (name, range) in front.ranges {
      fuzzCheck(!range.conditions.isEmpty, "range of \(name): \(sample(yaml))")
      _ = range.description
    }
    // The quick title reader agrees with the YAML parser whenever it answers.
    if let quick = FrontMatter.plainTitle(ofChapter: text) {
      fuzzCheck(quick == front.title, "quick title \(quick), YAML \(front.title ?? "none"): \(sample(yaml))")
    }
    let names: [String?] = [nil, "book"] + front.profiles.map(\.name)
    for name in names { plan(text, document, RunOptions(profile: name, threads: 1)) }
  }

  /// One literal: the grammar, the coercions of `--set` to every parameter type, the
  /// parameter-line and range parsers that embed it.
  static func literal(_ text: String) {
    if let value = ParameterLiteral.parse(text) {
      // What a value prints as Swift must read back as the same value (the tangler and
      // the report rely on it).
      fuzzCheck(
        ParameterLiteral.parse(value.swiftLiteral) == value,
        "\(value.swiftLiteral) does not read back: \(sample(text))")
      fuzzCheck(ParameterLiteral.parse(text, as: value) == value, "\(sample(text))")
      if case .double(let d) = value { fuzzCheck(d.isFinite, "\(sample(text))") }
    }
    for template in templates {
      if let value = ParameterLiteral.parse(text, as: template) {
        fuzzCheck(value.typeName == template.typeName, "\(template.typeName): \(sample(text))")
      }
      switch OverrideLiteral.parse(text, as: template) {
      case .success(let value):
        fuzzCheck(value.typeName == template.typeName, "\(template.typeName): \(sample(text))")
        fuzzCheck(ParameterRange.finiteViolation(value) == nil, "\(sample(text))")
      case .failure(let failure):
        fuzzCheck(!failure.message.isEmpty, "\(sample(text))")
      }
    }
    // The text as a value, as the rest of a declaration line, and as a line of its own.
    for line in ["let x = " + text, "  let a = 1, b = " + text + "  // c", "let " + text, text] {
      if let parsed = ParameterLine.parse(line, index: 0) {
        fuzzCheck(!parsed.bindings.isEmpty)
        _ = parsed.rewritten()
      }
    }
    _ = ParameterLine.scan(text)
    do {
      let range = try ParameterRange(text)
      fuzzCheck(!range.conditions.isEmpty)
      for template in templates { _ = range.violation(template) }
    } catch let failure as OverrideLiteral.Failure {
      fuzzCheck(!failure.message.isEmpty)
    } catch {
      fuzzFailure("ParameterRange threw \(type(of: error)): \(error) for \(sample(text))")
    }
  }

  /// `--set` arguments, one per line: split them, then plan a run of the typed chapter
  /// with all of them and with each alone.
  static func setArguments(_ text: String) {
    let arguments = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let document: ChapterDocument
    do {
      document = try ChapterParser.parse(typedChapter, path: path)
    } catch {
      fuzzFailure("the typed chapter does not parse: \(error)")
      return
    }
    for group in [arguments] + arguments.map({ [$0] }) {
      let overrides: [String: String]
      do {
        overrides = try RunOptions.parseSetArguments(group)
      } catch let error as NotebookError {
        fuzzCheck(!error.message.isEmpty)
        continue
      } catch {
        fuzzFailure("parseSetArguments threw \(type(of: error)): \(error)")
        continue
      }
      guard
        let plan = plan(
          typedChapter, document, RunOptions(profile: "book", overrides: overrides, threads: 1))
      else { continue }
      for (name, override) in plan.overrides {
        let declared = plan.parameters.first { $0.name == name }?.defaultValue
        fuzzCheck(declared?.accepts(override.value) == true, "\(name): \(sample(text))")
        fuzzCheck(ParameterRange.finiteViolation(override.value) == nil, "\(sample(text))")
        if let range = plan.frontMatter.ranges[name] ?? ParameterRange.implied(for: name) {
          fuzzCheck(range.violation(override.value) == nil, "\(name): \(sample(text))")
        }
      }
      for key in FrontMatter.settingKeys {
        if let n = key == "trainSubset" ? plan.settings.trainSubset : plan.settings.testSubset {
          fuzzCheck(n >= 1, "\(key) = \(n): \(sample(text))")
        }
      }
    }
  }

  // MARK: Helpers

  /// Plans a run; every error must be one the CLI reports as bad input (exit code 2).
  @discardableResult
  static func plan(_ text: String, _ document: ChapterDocument, _ options: RunOptions) -> RunPlan? {
    let program = SectionProgram(
      number: "9.9", slug: "9.9-fuzz", sourcePath: path, markdown: text
    ) { _ in }
    do {
      let plan = try RunPlan(program: program, document: document, options: options)
      _ = SectionOverview.describe(plan)
      return plan
    } catch {
      fuzzCheck(
        NotebookError.inputErrorDescription(error) != nil,
        "RunPlan threw \(type(of: error)): \(error) for \(sample(text))")
      if error is ChapterError { expectLocated(error, in: text, "plan") }
      if let e = error as? NotebookError { fuzzCheck(!e.message.isEmpty) }
      return nil
    }
  }

  /// A `ChapterError` naming the file, with a message and a line of the file.
  static func expectLocated(_ error: Error, in text: String, _ what: String) {
    guard let e = error as? ChapterError else {
      fuzzFailure("\(what) threw \(type(of: error)): \(error) for \(sample(text))")
      return
    }
    fuzzCheck(e.path == path, "\(what): \(e)")
    fuzzCheck(!e.message.isEmpty, "\(what): \(e)")
    fuzzCheck(e.line >= 1 && e.line <= lineCount(text) + 1, "\(what): \(e) for \(sample(text))")
    fuzzCheck(e.description.hasPrefix(path + ":\(e.line): error: "))
  }

  /// Lines as cmark counts them (`\n`, `\r\n` and a lone `\r` each end one).
  static func lineCount(_ text: String) -> Int {
    var count = 1
    var previous: UInt8 = 0
    for byte in text.utf8 {
      if byte == 0x0A, previous != 0x0D { count += 1 }
      if byte == 0x0D { count += 1 }
      previous = byte
    }
    return count
  }

  /// The start of an input, escaped, for a failure message.
  static func sample(_ text: String) -> String {
    let head = text.unicodeScalars.prefix(300).map { $0.escaped(asASCII: true) }.joined()
    return "\"" + head + (text.unicodeScalars.count > 300 ? "…" : "") + "\" (\(text.utf8.count) bytes)"
  }

  /// One value of each parameter type.
  static let templates: [ParameterValue] = [
    .int(1), .double(0.5), .bool(true), .string("s"), .intArray([1]), .doubleArray([0.5]),
    .boolArray([true]), .stringArray(["s"]), .intPairArray([IntPair(1, 64)]),
  ]

  /// Cells declaring one parameter of each type, several with implied or declared ranges.
  static let typedCells = """
    ```swift cell=params
    let lr = 0.1, numEpochs = 2, batchSize = 64, resize = 28
    let ratio = 4, dropout = 0.5, flag = false, optimizer = "sgd"
    let names = ["a", "b"], rates = [0.1, 1.0], flags = [true]
    let convArch = [(1, 64), (2, 128)]
    let blockCounts = [2, 2, 2, 2]
    ```

    ```swift cell=train
    let lr = 0.5
    ```

    ```variant name=wide
    convArch = [(1, 128), (2, 256)]
    ```

    """

  static let typedChapter = """
    ---
    section: "9.9"
    title: Fuzz
    ranges: { resize: ">= 28", ratio: "1...64", dropout: "0 ..< 1", blockCounts: ">= 1" }
    profiles:
      smoke: { numEpochs: 1, trainSubset: 64, testSubset: 32 }
    ---

    """ + typedCells
}

