import Foundation
import Testing

@testable import ChapterFormat
@testable import Notebook

/// Seeded random-input testing ("fuzzing") of every parser that reads what a person typed:
/// a whole chapter `.md` (cmark, cells, parameters, variants, then tangling and planning a
/// run), its YAML front matter (profiles and ranges), a parameter literal, and `--set
/// NAME=VALUE` arguments checked against a chapter's parameters.
///
/// This is the fast regression run, a plain seeded mutation loop: seeds from
/// `Tests/Fuzz/corpus/` (and the real chapters), mutated by bit
/// flips, truncation, deletion, duplication, splicing of other seeds and insertion of tokens
/// that matter to these grammars (fences, `---`, `cell=`, quotes, brackets, huge numbers,
/// NaN, Unicode, NUL, CR, very long lines). The generator is seeded, so a run is the same
/// every time. The same targets (`FuzzTargets.swift`) also run under libFuzzer, guided by
/// coverage, for 45 s in `make test` (`scripts/fuzz.sh`).
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

// MARK: The checks, as test issues

/// A contract of a fuzz target (`FuzzTargets.swift`), checked as `#expect` does. (The
/// caller's place comes as plain literals: that file is also compiled without Testing.)
func fuzzCheck(
  _ condition: Bool, _ message: @autoclosure () -> String = "",
  fileID: String = #fileID, filePath: String = #filePath, line: Int = #line, column: Int = #column
) {
  if !condition { fuzzFailure(message(), fileID: fileID, filePath: filePath, line: line, column: column) }
}

func fuzzFailure(
  _ message: String,
  fileID: String = #fileID, filePath: String = #filePath, line: Int = #line, column: Int = #column
) {
  Issue.record(
    Comment(rawValue: message),
    sourceLocation: SourceLocation(fileID: fileID, filePath: filePath, line: line, column: column))
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
