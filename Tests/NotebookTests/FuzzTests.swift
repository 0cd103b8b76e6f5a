import Foundation
import Testing

@testable import ChapterFormat
@testable import Notebook

/// Seeded random-input testing ("fuzzing") of every parser that reads what a person typed:
/// a whole chapter `.md` (cmark, cells, parameters, variants, then tangling and planning a
/// run), its YAML front matter (profiles and ranges), a parameter literal, and `--set
/// NAME=VALUE` arguments checked against a chapter's parameters.
///
/// libFuzzer (`-sanitize=fuzzer`) does not fit a SwiftPM test run, so this is a plain
/// mutation loop: seeds from `Tests/Fuzz/corpus/` (and the real chapters), mutated by bit
/// flips, truncation, deletion, duplication, splicing of other seeds and insertion of tokens
/// that matter to these grammars (fences, `---`, `cell=`, quotes, brackets, huge numbers,
/// NaN, Unicode, NUL, CR, very long lines). The generator is seeded, so a run is the same
/// every time.
///
/// What counts as a failure:
/// - a trap (an index out of range, an integer overflow, a stack overflow) kills the test
///   process: that *is* the failure signal. To find the input, run again with
///   `CHAPTER_FUZZ_LAST_INPUT=/tmp/fuzz-input`: each input is written there before it runs,
///   so the file holds the culprit after the crash; add it to the corpus once fixed;
/// - an error of another type than the ones the CLI turns into a located message and exit
///   code 2 (`ChapterError`, `NotebookError`), or one without a message or a line;
/// - a value that breaks the parser's own contract (an override of the wrong type, a
///   literal that does not read back the same);
/// - one input taking over two seconds (a hang or quadratic blow-up in the making).
///
/// For a longer hunt, `CHAPTER_FUZZ_ITERATIONS=N` runs N mutations per parser instead of the
/// default few hundred to few thousand, and `CHAPTER_FUZZ_SEED=S` changes the seed.
@Suite struct FuzzTests {
  static let corpus = FuzzCorpus.load()

  @Test func corpusIsPresent() {
    #expect(Self.corpus.chapters.count >= 10, "\(FuzzCorpus.folder.path)")
    #expect(Self.corpus.frontMatters.count >= 5)
    #expect(Self.corpus.literals.count >= 5)
    #expect(Self.corpus.sets.count >= 3)
  }

  /// Every seed as it is, unmutated: the corpus itself must never crash either.
  @Test func seedsAsTheyAre() {
    for seed in Self.corpus.chapters { FuzzTargets.chapter(seed.text) }
    for seed in Self.corpus.frontMatters { FuzzTargets.frontMatter(seed.text) }
    for seed in Self.corpus.literals { FuzzTargets.literal(seed.text) }
    for seed in Self.corpus.sets { FuzzTargets.setArguments(seed.text) }
  }

  /// The crashes found while writing these tests, as plain assertions.
  @Test func foundCrashesStayFixed() throws {
    // A bare `let` line trapped in the parameter scanner (Range requires lowerBound <=
    // upperBound); `parameterLiterals` found it within its first few hundred inputs.
    for line in ["let ", "let  // note", "  let\t", "let \t "] {
      #expect(ParameterLine.parse(line, index: 0) == nil, "\(line.debugDescription)")
    }
    let document = try ChapterParser.parse("```swift cell=a\nlet \nlet lr = 0.1\n```\n", path: "/a.md")
    #expect(document.parameters.map(\.name) == ["lr"])
  }

  /// Found by reading, not by the loop (no mutation makes such a value): the literal
  /// scanner read Characters, so a quote followed by a combining mark was one Character and
  /// not a quote, and a String value that starts with a combining mark (or ends with a
  /// prepended concatenation mark such as U+0600) did not read back from its `swiftLiteral`.
  /// It reads Unicode scalars now, as Swift's lexer does.
  @Test func stringsStartingWithACombiningMarkReadBack() {
    for value in ["\u{301}x", "x\u{600}", "\u{301}", "a\u{301}\"b"] {
      let literal = ParameterValue.string(value).swiftLiteral
      #expect(ParameterLiteral.parse(literal) == .string(value), "\(literal.debugDescription)")
    }
    let array = ParameterLiteral.parse("[\"\u{301}\", \"e\u{301}\"]")
    #expect(array == .stringArray(["\u{301}", "e\u{301}"]))
  }

  @Test func chapterParser() {
    FuzzLoop.run(name: "chapter", seeds: Self.corpus.chapters, iterations: 500, salt: 1) {
      FuzzTargets.chapter($0)
    }
  }

  @Test func frontMatter() {
    FuzzLoop.run(
      name: "front matter", seeds: Self.corpus.frontMatters, iterations: 1000, salt: 2
    ) { FuzzTargets.frontMatter($0) }
  }

  @Test func parameterLiterals() {
    FuzzLoop.run(
      name: "literal", seeds: Self.corpus.literals + Self.corpus.setValues, iterations: 3000,
      salt: 3
    ) { FuzzTargets.literal($0) }
  }

  @Test func setArguments() {
    FuzzLoop.run(name: "--set", seeds: Self.corpus.sets, iterations: 600, salt: 4) {
      FuzzTargets.setArguments($0)
    }
  }

  /// Nesting deeper than any grammar here allows must be refused, not recursed into until
  /// the stack runs out. The literal scanner recursed once per `[` and died of a stack
  /// overflow (SIGSEGV) on 200,000 of them: no mutation budget reaches that by chance, and
  /// the input is too big for the corpus, so it is built here.
  @Test func deepNestingIsRefused() throws {
    let deep = String(repeating: "[", count: 200_000)
    #expect(ParameterLiteral.parse(deep) == nil)
    #expect(ParameterLiteral.parse(deep + String(repeating: "]", count: 200_000)) == nil)
    #expect(ParameterLiteral.parse(deep, as: .intArray([1])) == nil)
    // As a --set value, in a cell's parameter line, in a variant.
    let sets = try RunOptions.parseSetArguments(["convArch=" + deep])
    guard case .failure = OverrideLiteral.parse(sets["convArch"]!, as: .intPairArray([])) else {
      Issue.record("a 200,000 deep literal was accepted")
      return
    }
    let cell = try ChapterParser.parse("```swift cell=deep\nlet x = \(deep)\n```\n", path: "/d.md")
    #expect(cell.cells.first?.parameters.isEmpty == true)
    #expect(throws: ChapterError.self) {
      try ChapterParser.parse("```swift\nlet x = 1\n```\n```variant name=v\nx = \(deep)\n```\n", path: "/d.md")
    }
  }
}

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
    let lines = lineCount(text)
    var ids = Set<String>()
    for cell in document.cells {
      #expect(ChapterParser.isValidID(cell.id), "bad id \(cell.id): \(sample(text))")
      #expect(ids.insert(cell.id).inserted, "duplicate id \(cell.id): \(sample(text))")
      #expect(cell.line >= 1 && cell.line <= lines + 1, "cell line \(cell.line): \(sample(text))")
      for p in cell.parameters {
        #expect(p.name.isSwiftIdentifier && p.line >= cell.line, "\(p.name): \(sample(text))")
      }
    }
    let tangled = SwiftTangler.tangle(
      document, markdown: text, sourcePath: path, section: SectionFileName(fileName: path)!)
    for cell in document.cells {
      #expect(tangled.contains(ParameterValue.stringLiteral(cell.id)), "\(sample(text))")
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
      #expect(!range.conditions.isEmpty, "range of \(name): \(sample(yaml))")
      _ = range.description
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
      #expect(
        ParameterLiteral.parse(value.swiftLiteral) == value,
        "\(value.swiftLiteral) does not read back: \(sample(text))")
      #expect(ParameterLiteral.parse(text, as: value) == value, "\(sample(text))")
      if case .double(let d) = value { #expect(d.isFinite, "\(sample(text))") }
    }
    for template in templates {
      if let value = ParameterLiteral.parse(text, as: template) {
        #expect(value.typeName == template.typeName, "\(template.typeName): \(sample(text))")
      }
      switch OverrideLiteral.parse(text, as: template) {
      case .success(let value):
        #expect(value.typeName == template.typeName, "\(template.typeName): \(sample(text))")
        #expect(ParameterRange.finiteViolation(value) == nil, "\(sample(text))")
      case .failure(let failure):
        #expect(!failure.message.isEmpty, "\(sample(text))")
      }
    }
    // The text as a value, as the rest of a declaration line, and as a line of its own.
    for line in ["let x = " + text, "  let a = 1, b = " + text + "  // c", "let " + text, text] {
      if let parsed = ParameterLine.parse(line, index: 0) {
        #expect(!parsed.bindings.isEmpty)
        _ = parsed.rewritten()
      }
    }
    _ = ParameterLine.scan(text)
    do {
      let range = try ParameterRange(text)
      #expect(!range.conditions.isEmpty)
      for template in templates { _ = range.violation(template) }
    } catch let failure as OverrideLiteral.Failure {
      #expect(!failure.message.isEmpty)
    } catch {
      Issue.record("ParameterRange threw \(type(of: error)): \(error) for \(sample(text))")
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
      Issue.record("the typed chapter does not parse: \(error)")
      return
    }
    for group in [arguments] + arguments.map({ [$0] }) {
      let overrides: [String: String]
      do {
        overrides = try RunOptions.parseSetArguments(group)
      } catch let error as NotebookError {
        #expect(!error.message.isEmpty)
        continue
      } catch {
        Issue.record("parseSetArguments threw \(type(of: error)): \(error)")
        continue
      }
      guard
        let plan = plan(
          typedChapter, document, RunOptions(profile: "book", overrides: overrides, threads: 1))
      else { continue }
      for (name, override) in plan.overrides {
        let declared = plan.parameters.first { $0.name == name }?.defaultValue
        #expect(declared?.accepts(override.value) == true, "\(name): \(sample(text))")
        #expect(ParameterRange.finiteViolation(override.value) == nil, "\(sample(text))")
        if let range = plan.frontMatter.ranges[name] ?? ParameterRange.implied(for: name) {
          #expect(range.violation(override.value) == nil, "\(name): \(sample(text))")
        }
      }
      for key in FrontMatter.settingKeys {
        if let n = key == "trainSubset" ? plan.settings.trainSubset : plan.settings.testSubset {
          #expect(n >= 1, "\(key) = \(n): \(sample(text))")
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
      #expect(
        NotebookError.inputErrorDescription(error) != nil,
        "RunPlan threw \(type(of: error)): \(error) for \(sample(text))")
      if error is ChapterError { expectLocated(error, in: text, "plan") }
      if let e = error as? NotebookError { #expect(!e.message.isEmpty) }
      return nil
    }
  }

  /// A `ChapterError` naming the file, with a message and a line of the file.
  static func expectLocated(_ error: Error, in text: String, _ what: String) {
    guard let e = error as? ChapterError else {
      Issue.record("\(what) threw \(type(of: error)): \(error) for \(sample(text))")
      return
    }
    #expect(e.path == path, "\(what): \(e)")
    #expect(!e.message.isEmpty, "\(what): \(e)")
    #expect(e.line >= 1 && e.line <= lineCount(text) + 1, "\(what): \(e) for \(sample(text))")
    #expect(e.description.hasPrefix(path + ":\(e.line): error: "))
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

// MARK: The loop

/// SplitMix64: small, fast and the same on every platform.
struct FuzzRandom {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  /// Uniform in `0..<n` (n > 0).
  mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
  mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

enum FuzzLoop {
  /// Inputs are capped so that one input stays fast however the mutations stack up.
  static let maxBytes = 1 << 16

  static func run(
    name: String, seeds: [FuzzSeed], iterations: Int, salt: UInt64,
    _ target: (String) -> Void
  ) {
    guard !seeds.isEmpty else {
      Issue.record("no seeds for \(name) in \(FuzzCorpus.folder.path)")
      return
    }
    let env = ProcessInfo.processInfo.environment
    let count = env["CHAPTER_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? iterations
    let baseSeed = env["CHAPTER_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x5EED_CAFE
    let lastInput = env["CHAPTER_FUZZ_LAST_INPUT"]
    var rng = FuzzRandom(state: baseSeed ^ (salt &* 0x1000_0000_01B3))
    let seedBytes = seeds.map { Array($0.text.utf8) }
    var slowest = (seconds: 0.0, input: "")
    for _ in 0..<count {
      let bytes = FuzzMutator.mutate(seedBytes[rng.below(seedBytes.count)], &rng, splice: seedBytes)
      let input = String(decoding: bytes, as: UTF8.self)
      if let lastInput {
        _ = FileManager.default.createFile(atPath: lastInput, contents: Data(bytes))
      }
      let start = ProgressBar.now()
      target(input)
      let seconds = ProgressBar.now() - start
      if seconds > slowest.seconds { slowest = (seconds, input) }
    }
    let slow = "\(name): one input took \(slowest.seconds) s: " + FuzzTargets.sample(slowest.input)
    #expect(slowest.seconds < 2, "\(slow)")
  }
}

enum FuzzMutator {
  /// Tokens that mean something to the chapter, YAML, literal and `--set` grammars.
  static let tokens: [String] = [
    "```", "```swift", "```swift cell=", "```output", "```output reference", "```variant name=",
    "~~~", "````", "---", "\n---\n", "cell=", "cell=a", "name=", "\"", "\\", "\\\"", "\\u{",
    "\\u{110000}", "\\u{D800}", "\\(", "[", "]", "(", ")", "{", "}", ",", "=", ":", ": ",
    "let ", "let x = ", "let lr = ", "//", "/*", "*/", "\"\"\"", "#\"", "\"#", "'",
    "99999999999999999999999", "9223372036854775807", "9223372036854775808",
    "-9223372036854775808", "1e308", "1e309", "1e-400", "nan", "NaN", ".nan", "inf", ".inf",
    "-", "_", ".", "e", "E+", "0x1F", "1_000", "true", "false", "null", "~", "\0", "\r",
    "\r\n", "\n", "\n\n", "\t", " ", "é", "e\u{301}", "\u{301}", "\"\u{301}", "👩‍👩‍👧",
    "\u{FEFF}", "\u{2028}", "\u{FFFD}", "profiles:", "ranges:", "smoke:", "quick:", "book:",
    "description:", "  ", "- ", "? ", "&a ", "*a", "!!str ", "!!map ", "|", ">-", "#",
    ">= ", "> ", "<= ", "< ", "...", "..<", "numEpochs", "lr", "trainSubset", "convArch",
    "blockCounts", "[(1, 64)]", "[]", "[,]", "(1,", "=[(", "\"\"",
  ]

  /// Long runs: a very long line, a huge number, deep brackets.
  static let longTokens: [String] = [
    String(repeating: "x", count: 5000), String(repeating: "9", count: 400),
    String(repeating: "[", count: 300), String(repeating: "(", count: 300),
    String(repeating: "{", count: 100), String(repeating: "`", count: 200),
    String(repeating: "-", count: 2000), String(repeating: "\n", count: 500),
    String(repeating: "é", count: 2000), String(repeating: "\\", count: 1001),
    String(repeating: "> ", count: 200), String(repeating: "  ", count: 500) + "x: 1",
  ]

  static let interestingBytes: [UInt8] = [
    0x00, 0x0A, 0x0D, 0x09, 0x20, 0x22, 0x27, 0x5B, 0x5D, 0x28, 0x29, 0x60, 0x7E, 0x2D, 0x3D,
    0x3A, 0x5C, 0x2E, 0x65, 0x30, 0x39, 0x7F, 0x80, 0xC3, 0xE2, 0xF0, 0xFF,
  ]

  static func mutate(_ seed: [UInt8], _ rng: inout FuzzRandom, splice corpus: [[UInt8]]) -> [UInt8] {
    // Now and then a few tokens alone: small grammars break on short odd inputs.
    if rng.chance(10) {
      var soup: [UInt8] = []
      for _ in 0..<(1 + rng.below(5)) { soup += Array(tokens[rng.below(tokens.count)].utf8) }
      return soup
    }
    var b = seed
    let rounds = 1 + rng.below(4)
    for _ in 0..<rounds {
      switch rng.below(11) {
      case 0 where !b.isEmpty:  // flip one bit
        b[rng.below(b.count)] ^= UInt8(1 << rng.below(8))
      case 1 where !b.isEmpty:  // an interesting byte
        b[rng.below(b.count)] = interestingBytes[rng.below(interestingBytes.count)]
      case 2:  // truncate
        b.removeLast(b.count - rng.below(b.count + 1))
      case 3 where !b.isEmpty:  // delete a range
        let at = rng.below(b.count)
        b.removeSubrange(at..<min(b.count, at + 1 + rng.below(32)))
      case 4, 5:  // a token, often at the start of a line
        insert(Array(tokens[rng.below(tokens.count)].utf8), into: &b, &rng)
      case 6:  // a long token, rarely
        if rng.chance(30) { insert(Array(longTokens[rng.below(longTokens.count)].utf8), into: &b, &rng) }
      case 7 where !b.isEmpty:  // duplicate a range
        let at = rng.below(b.count)
        let piece = Array(b[at..<min(b.count, at + 1 + rng.below(200))])
        insert(piece, into: &b, &rng)
      case 8, 9:  // splice part of another seed
        let other = corpus[rng.below(corpus.count)]
        guard !other.isEmpty else { break }
        let from = rng.below(other.count)
        let piece = Array(other[from..<min(other.count, from + 1 + rng.below(400))])
        if rng.chance(50) || b.isEmpty {
          insert(piece, into: &b, &rng)
        } else {
          let at = rng.below(b.count)
          b.replaceSubrange(at..<min(b.count, at + piece.count), with: piece)
        }
      default:  // swap two lines
        var lines = b.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        if lines.count >= 2 {
          lines.swapAt(rng.below(lines.count), rng.below(lines.count))
          b = Array(lines.joined(separator: [0x0A]))
        }
      }
      if b.count > FuzzLoop.maxBytes { b.removeLast(b.count - FuzzLoop.maxBytes) }
    }
    return b
  }

  static func insert(_ piece: [UInt8], into b: inout [UInt8], _ rng: inout FuzzRandom) {
    var at = rng.below(b.count + 1)
    if rng.chance(50) {
      // Move to the start of the line: fences, `---` and `let` mean most there.
      while at > 0, b[at - 1] != 0x0A { at -= 1 }
    }
    b.insert(contentsOf: piece, at: at)
  }
}

// MARK: The corpus

struct FuzzSeed {
  var name: String
  var text: String
}

/// `Tests/Fuzz/corpus/`: `chapter-*.md` whole chapters, `frontmatter-*.yaml` front matter
/// without its `---` lines, `literal-*.txt` one literal, `set-*.txt` `--set` arguments one
/// per line. The real chapters in `Chapters/` join the chapter seeds.
struct FuzzCorpus {
  var chapters: [FuzzSeed] = []
  var frontMatters: [FuzzSeed] = []
  var literals: [FuzzSeed] = []
  var sets: [FuzzSeed] = []

  /// The values of the `--set` seeds, as literal seeds.
  var setValues: [FuzzSeed] {
    sets.flatMap { seed in
      seed.text.split(separator: "\n").compactMap { line in
        line.firstIndex(of: "=").map { FuzzSeed(name: seed.name, text: String(line[line.index(after: $0)...])) }
      }
    }
  }

  static var packageRoot: URL {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url
  }

  static var folder: URL { packageRoot.appendingPathComponent("Tests/Fuzz/corpus") }

  static func load() -> FuzzCorpus {
    var corpus = FuzzCorpus()
    let fm = FileManager.default
    let names = ((try? fm.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
    for name in names {
      guard let data = fm.contents(atPath: folder.appendingPathComponent(name).path) else { continue }
      let seed = FuzzSeed(name: name, text: String(decoding: data, as: UTF8.self))
      if name.hasPrefix("chapter-") { corpus.chapters.append(seed) }
      if name.hasPrefix("frontmatter-") { corpus.frontMatters.append(seed) }
      if name.hasPrefix("literal-") { corpus.literals.append(seed) }
      if name.hasPrefix("set-") { corpus.sets.append(seed) }
    }
    let chapters = packageRoot.appendingPathComponent("Chapters")
    for name in ((try? fm.contentsOfDirectory(atPath: chapters.path)) ?? []).sorted()
    where name.hasSuffix(".md") {
      if let data = fm.contents(atPath: chapters.appendingPathComponent(name).path) {
        corpus.chapters.append(FuzzSeed(name: name, text: String(decoding: data, as: UTF8.self)))
      }
    }
    return corpus
  }
}
