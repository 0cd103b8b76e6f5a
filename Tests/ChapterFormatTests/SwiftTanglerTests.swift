import Foundation
import Testing

@testable import ChapterFormat

private let mdPath = "/abs/Chapters/7.2-vgg.md"
private let section = SectionFileName(fileName: mdPath)!

private func tangle(_ markdown: String, path: String = mdPath) throws -> String {
  let doc = try ChapterParser.parse(markdown, path: path)
  return SwiftTangler.tangle(
    doc, markdown: markdown, sourcePath: path, section: SectionFileName(fileName: path)!)
}

/// The generated code of the cells only: what `#sourceLocation` maps back to the `.md`.
/// Returns, for each `.md` line the directives cover, the generated line's text.
private func mappedLines(_ swift: String) -> [Int: String] {
  var result: [Int: String] = [:]
  var mdLine: Int?
  for line in swift.splitLines() {
    if line.hasPrefix("#sourceLocation(file:") {
      mdLine = Int(line.split(separator: " ").last!.dropLast())!
    } else if line == "#sourceLocation()" {
      mdLine = nil
    } else if let l = mdLine {
      result[l] = line
      mdLine = l + 1
    }
  }
  return result
}

@Suite struct SectionFileNameTests {
  @Test func names() {
    let s = SectionFileName(fileName: "/x/Chapters/7.5-batch-norm.md")
    #expect(s?.number == "7.5")
    #expect(s?.slug == "7.5-batch-norm")
    #expect(s?.title == "batch-norm")
    #expect(s?.programIdentifier == "section_7_5_batch_norm")
    #expect(s?.runIdentifier == "run_7_5_batch_norm")
    #expect(SectionFileName(fileName: "7.10-nin.md")?.numberComponents == [7, 10])
  }

  @Test(arguments: ["index.md", "7-alexnet.md", "7.1-.md", "7.1-alexnet.txt", "a.1-x.md",
    "7..1-x.md", "7.1-two words.md"])
  func notSections(_ name: String) {
    #expect(SectionFileName(fileName: name) == nil)
  }
}

@Suite struct SwiftTanglerTests {
  @Test func shape() throws {
    let swift = try tangle(sampleChapter)
    #expect(swift.contains("import Engine\nimport D2L\nimport Notebook\n"))
    #expect(swift.contains("public let section_7_2_vgg = SectionProgram(\n"))
    #expect(swift.contains(#"number: "7.2", slug: "7.2-vgg","#))
    #expect(swift.contains(#"sourcePath: "/abs/Chapters/7.2-vgg.md","#))
    #expect(swift.contains("run: run_7_2_vgg)"))
    #expect(swift.contains("func run_7_2_vgg(_ nb: NotebookSession) throws {\n"))
    #expect(swift.contains("  nb.beginCell(\"block\")\n  do {\n#sourceLocation(file: "))
    #expect(swift.contains("#sourceLocation()\n  nb.endCell()\n  nb.beginCell(\"cell-2\")"))
    #expect(swift.hasSuffix("  nb.endCell()\n  }\n  }\n  }\n}\n"))
  }

  @Test func parameterLinesAreRewrittenOnTheirOwnLine() throws {
    let lines = mappedLines(try tangle(sampleChapter))
    #expect(
      lines[line(of: "let lr")]
        == #"let lr = nb.param("lr", 0.05), numEpochs = nb.param("numEpochs", 10)  // book: 10"#)
    #expect(
      lines[line(of: "let convArch")]
        == #"let convArch = nb.param("convArch", [(1, 64), (1, 128)])"#)
    #expect(lines[line(of: "print(lr)")] == "print(lr)")
    #expect(lines[line(of: "func vggBlock")] == "func vggBlock(_ n: Int) -> Int { n }")
    #expect(lines[line(of: "print(numEpochs)")] == "print(numEpochs)")
  }

  @Test func sourceLocationsPointAtTheFirstCodeLine() throws {
    let swift = try tangle(sampleChapter)
    let directives = swift.splitLines().filter { $0.hasPrefix("#sourceLocation(file:") }
    #expect(
      directives == [line(of: "func vggBlock"), line(of: "let lr"), line(of: "print(numEpochs)")]
        .map { "#sourceLocation(file: \"\(mdPath)\", line: \($0))" })
  }

  @Test func rawStringDelimiterOutnumbersEveryHashRun() {
    #expect(SwiftTangler.longestHashRun(####"a "# b "## c \#(x) # ##### "####) == 2)
    #expect(SwiftTangler.longestHashRun(####"\###(x)"####) == 3)
    #expect(SwiftTangler.longestHashRun("no quotes ### here") == 0)
    let literal = SwiftTangler.rawStringLiteral("say \"##\"\n", indent: "  ")
    #expect(literal == "###\"\"\"\n  say \"##\"\n  \n  \"\"\"###")
  }

  @Test func allSectionsOrdersNumerically() {
    let out = SwiftTangler.allSections([
      ("7.10", "section_7_10_x"), ("7.2", "section_7_2_vgg"), ("7.9", "section_7_9_y"),
      ("7.1", "section_7_1_alexnet"),
    ])
    #expect(
      out.hasSuffix(
        "public let allSections: [SectionProgram] = [\n  section_7_1_alexnet,\n"
          + "  section_7_2_vgg,\n  section_7_9_y,\n  section_7_10_x,\n]\n"))
    #expect(out.contains("import Notebook\n"))
    #expect(out.contains("public let chapterIndexMarkdown: String? = nil\n"))
  }

  @Test func allSectionsCarriesTheChapterPage() {
    let out = SwiftTangler.allSections([("7.1", "section_7_1_alexnet")], indexMarkdown: "# 7 \"#Nets\"\n")
    #expect(out.contains(
      "public let chapterIndexMarkdown: String? = " + SwiftTangler.rawStringLiteral("# 7 \"#Nets\"\n", indent: "  ")))
  }
}

/// Compiles tangled chapters with the real compiler against a stub of the notebook API.
@Suite(.enabled(if: Compiler.swiftc != nil, "needs swiftc"))
struct TangledCodeCompilesTests {
  /// Markdown that tries to break out of the raw string and to inject interpolation.
  static let trickyChapter = ####"""
    ---
    section: "7.2"
    ---

    Quotes and hashes: "#", "##", \#(oops) and \##(again), """# and """##.

    ```swift cell=params
    let lr = 0.05, numEpochs = 10  // book: 10
    let convArch = [(1, 64), (1, 128)]
    let name = "vgg {11}", flags = [true, false]
    let net = convArch.map { $0.1 }  // not a parameter
    ```

    ```swift cell=use
    let lr2 = lr * Double(numEpochs)
    print(name, net, lr2, flags.count)
    ```
    """####

  @Test func generatedCodeCompilesAndEmbedsTheMarkdownVerbatim() throws {
    let dir = try Compiler.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let md = dir.appending(path: "7.2-vgg.md")
    try Self.trickyChapter.write(to: md, atomically: true, encoding: .utf8)
    let swift = try tangle(Self.trickyChapter, path: md.path)
    let main = """
      let expected = try! String(
        contentsOfFile: \(ParameterValue.stringLiteral(md.path)), encoding: .utf8)
      precondition(section_7_2_vgg.markdown == expected, "markdown differs")
      try section_7_2_vgg.run(NotebookSession())
      print(allSections.map(\\.slug))
      """
    let result = try Compiler.run(
      files: [
        "gen.swift": Compiler.withoutModuleImports(swift),
        "all.swift": Compiler.withoutModuleImports(
          SwiftTangler.allSections([("7.2", "section_7_2_vgg")])),
        "stub.swift": Compiler.notebookStub,
        "main.swift": "import Foundation\n" + main,
      ], in: dir, build: true)
    #expect(result.status == 0, "\(result.output)")
    let run = try Compiler.process(dir.appending(path: "a.out").path, [])
    #expect(run.status == 0, "\(run.output)")
    #expect(
      run.output
        == "begin params\nend\nbegin use\nvgg {11} [64, 128] 0.5 2\nend\n[\"7.2-vgg\"]\n")
  }

  @Test func aTypeErrorInACellPointsAtTheMarkdownLine() throws {
    let dir = try Compiler.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let markdown =
      "# T\n\n```swift cell=a\nlet lr = 0.1\n```\n\nText.\n\n"
      + "```swift cell=b\nprint(1)\nlet n: Int = lr\n```\n"
    let md = dir.appending(path: "7.3-nin.md").path
    let swift = try tangle(markdown, path: md)
    let result = try Compiler.run(
      files: [
        "gen.swift": Compiler.withoutModuleImports(swift), "stub.swift": Compiler.notebookStub,
      ],
      in: dir, build: false)
    #expect(result.status != 0)
    #expect(result.output.contains("\(md):11:"), "\(result.output)")
    #expect(result.output.contains("Double"), "\(result.output)")
  }
}

/// Runs `swiftc` on generated code.
enum Compiler {
  static let swiftc: String? = {
    let candidates = ["/opt/swift/usr/bin/swiftc", "/usr/bin/swiftc"]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
  }()

  /// What generated code needs from Notebook, in the shape of docs/ARCHITECTURE.md.
  static let notebookStub = """
    public protocol CellParameter {}
    extension Int: CellParameter {}
    extension Double: CellParameter {}
    extension Bool: CellParameter {}
    extension String: CellParameter {}
    extension Array: CellParameter where Element: CellParameter {}

    public struct SectionProgram: Sendable {
      public let number: String, slug: String, sourcePath: String, markdown: String
      public let run: @Sendable (NotebookSession) throws -> Void
      public init(
        number: String, slug: String, sourcePath: String, markdown: String,
        run: @escaping @Sendable (NotebookSession) throws -> Void
      ) {
        self.number = number
        self.slug = slug
        self.sourcePath = sourcePath
        self.markdown = markdown
        self.run = run
      }
    }

    public final class NotebookSession {
      public init() {}
      public func beginCell(_ id: String) { print("begin", id) }
      public func endCell() { print("end") }
      public func param<T: CellParameter>(_ name: String, _ defaultValue: T) -> T { defaultValue }
      public func param(_ name: String, _ defaultValue: [(Int, Int)]) -> [(Int, Int)] {
        defaultValue
      }
    }
    """

  /// The stub lives in the same module, so the imports of the real modules go.
  static func withoutModuleImports(_ swift: String) -> String {
    let modules: Set = ["import Engine", "import D2L", "import Notebook"]
    return swift.splitLines().filter { !modules.contains($0) }.map { $0 + "\n" }.joined()
  }

  static func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appending(
      path: "tangler-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  /// Type-checks (`build: false`) or builds `a.out` from `files` in `dir`.
  static func run(files: [String: String], in dir: URL, build: Bool) throws -> (
    status: Int32, output: String
  ) {
    var paths: [String] = []
    for (name, text) in files.sorted(by: { $0.key < $1.key }) {
      let url = dir.appending(path: name)
      try text.write(to: url, atomically: true, encoding: .utf8)
      paths.append(url.path)
    }
    let mode = build ? ["-Onone", "-o", dir.appending(path: "a.out").path] : ["-typecheck"]
    let library = files["main.swift"] == nil ? ["-parse-as-library"] : []
    return try process(swiftc!, ["-swift-version", "6"] + library + mode + paths)
  }

  static func process(_ executable: String, _ arguments: [String]) throws -> (
    status: Int32, output: String
  ) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
  }
}
