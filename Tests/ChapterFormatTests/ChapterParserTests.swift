import Testing

@testable import ChapterFormat

/// A chapter with every kind of block; line numbers below are lines of this text.
let sampleChapter = """
  ---
  section: "7.2"
  title: Networks Using Blocks (VGG)
  profiles:
    smoke: { numEpochs: 1 }
  ---

  # VGG

  Prose with a [link][ref].

  ```swift cell=block title="VGG block"
  func vggBlock(_ n: Int) -> Int { n }
  ```

  ```text
  a text fence is prose
  ```

  - a list

  [ref]: https://example.com

  ```swift
  let lr = 0.05, numEpochs = 10  // book: 10
  let convArch = [(1, 64), (1, 128)]
  print(lr)
  ```

  ```output
  0.05
  ```

  ```output reference
  loss 0.178, train acc 0.935
  ```

  ```variant name=small
  // A narrower network.
  convArch = [(1, 16), (1, 32)]

  lr = 1  // an Int is fine for a Double
  ```

  ```swift cell=last
  print(numEpochs)
  ```
  """

/// The 1-based line of the first line of `text` that starts with `prefix`.
func line(of prefix: String, in text: String = sampleChapter) -> Int {
  text.splitLines().firstIndex { $0.hasPrefix(prefix) }! + 1
}

func parseError(_ text: String) -> ChapterError? {
  do {
    _ = try ChapterParser.parse(text, path: "ch/7.9-x.md")
    return nil
  } catch {
    return error
  }
}

@Suite struct ChapterParserTests {
  let doc = try! ChapterParser.parse(sampleChapter, path: "Chapters/7.2-vgg.md")

  @Test func frontMatter() {
    #expect(doc.frontMatter.hasPrefix("section: \"7.2\"\n"))
    #expect(doc.frontMatter.hasSuffix("smoke: { numEpochs: 1 }\n"))
    #expect(doc.frontMatterLine == 2)
    #expect(doc.path == "Chapters/7.2-vgg.md")
  }

  @Test func cellIdsNamedAndPositional() {
    #expect(doc.cells.map(\.id) == ["block", "cell-2", "last"])
    #expect(doc.cells[0].attributes == ["title": "VGG block"])
    #expect(doc.cells[1].attributes == [:])
  }

  @Test func cellLinesAndCode() {
    #expect(doc.cells[0].line == line(of: "func vggBlock"))
    #expect(doc.cells[0].code == "func vggBlock(_ n: Int) -> Int { n }\n")
    #expect(doc.cells[1].line == line(of: "let lr"))
    #expect(doc.cells[2].line == line(of: "print(numEpochs)"))
  }

  @Test func parameters() {
    let p = doc.cells[1].parameters
    #expect(p.map(\.name) == ["lr", "numEpochs", "convArch"])
    #expect(p.map(\.line) == [line(of: "let lr"), line(of: "let lr"), line(of: "let convArch")])
    #expect(p.map(\.cell) == ["cell-2", "cell-2", "cell-2"])
    #expect(p[2].value == .intPairArray([IntPair(1, 64), IntPair(1, 128)]))
    #expect(p[2].literal == "[(1, 64), (1, 128)]")
    #expect(doc.parameter(named: "numEpochs")?.value == .int(10))
  }

  @Test func outputsAttachToThePrecedingCell() {
    #expect(doc.outputs.count == 2)
    #expect(doc.outputs[0] == OutputBlock(text: "0.05\n", isReference: false, cell: "cell-2",
      line: line(of: "```output")))
    #expect(doc.outputs[1].isReference)
    #expect(doc.outputs[1].cell == "cell-2")
    #expect(doc.outputs[1].line == line(of: "```output reference"))
  }

  @Test func variants() {
    let v = doc.variant(named: "small")!
    #expect(v.line == line(of: "```variant"))
    #expect(v.assignments.map(\.name) == ["convArch", "lr"])
    #expect(v.assignments.map(\.literal) == ["[(1, 16), (1, 32)]", "1"])
    #expect(v.assignments.map(\.line) == [line(of: "convArch = "), line(of: "lr = 1")])
  }

  @Test func proseIsVerbatimAndMerged() {
    let prose = doc.blocks.compactMap { if case .prose(let p) = $0 { p } else { nil } }
    #expect(prose.count == 2)
    #expect(prose[0].line == line(of: "# VGG"))
    #expect(prose[0].markdown == "# VGG\n\nProse with a [link][ref].\n")
    // A text fence, a list and a link definition between two cells make one prose block.
    #expect(prose[1].line == line(of: "```text"))
    #expect(
      prose[1].markdown
        == "```text\na text fence is prose\n```\n\n- a list\n\n[ref]: https://example.com\n")
  }

  @Test func blockOrder() {
    let kinds = doc.blocks.map { block -> String in
      switch block {
      case .prose: "p"
      case .cell: "c"
      case .output: "o"
      case .variant: "v"
      }
    }
    #expect(kinds == ["p", "c", "p", "c", "o", "o", "v", "c"])
  }

  @Test func noFrontMatter() throws {
    let doc = try ChapterParser.parse("# Title\n\n```swift\nlet a = 1\n```\n", path: "x.md")
    #expect(doc.frontMatter == "")
    #expect(doc.cells[0].line == 4)
    #expect(doc.cells[0].parameters[0].line == 4)
  }

  @Test func indentedCodeIsProse() throws {
    let doc = try ChapterParser.parse("Text\n\n    let x = 1\n", path: "x.md")
    #expect(doc.cells.isEmpty)
    #expect(doc.blocks == [.prose(Prose(markdown: "Text\n\n    let x = 1\n", line: 1))])
  }

  @Test func tildeFencesAndLongerClosers() throws {
    let doc = try ChapterParser.parse("~~~~swift cell=t\nlet a = 1\n~~~~~\n", path: "x.md")
    #expect(doc.cells.map(\.id) == ["t"])
  }

  @Test func infoStrings() {
    let (word, attributes) = ChapterParser.parseInfo(#"swift cell=a title="two \"words\"" flag"#)
    #expect(word == "swift")
    #expect(attributes.map(\.0) == ["cell", "title", "flag"])
    #expect(attributes.map(\.1) == ["a", "two \"words\"", ""])
  }
}

@Suite struct ChapterParserErrorTests {
  @Test func unterminatedFence() {
    let text = "# T\n\n```swift cell=a\nlet x = 1\n\n## Next\n\ntext\n"
    let error = parseError(text)
    #expect(error?.line == 3)
    #expect(error?.path == "ch/7.9-x.md")
    #expect(error?.message.contains("unterminated") == true)
    #expect(error?.description.hasPrefix("ch/7.9-x.md:3: error: unterminated") == true)
  }

  @Test func unterminatedFenceClosedByAShorterOne() {
    #expect(parseError("````swift\nlet x = 1\n```\n")?.line == 1)
    #expect(parseError("```swift\nlet x = 1\n~~~\n")?.line == 1)
  }

  /// A block that lost its closing fence runs on to the next bare fence: the closing fence
  /// of the block after it, whose opening line it swallows. That is reported at the block
  /// that lost its fence, naming the line it ran into, for cells, output blocks and variants.
  @Test func missingClosingFenceIsNamedAsOne() {
    let cell = parseError(
      "# T\n\n```swift cell=a\nlet x = 1\n\nprose\n\n```swift cell=b\nlet y = 2\n```\n")
    #expect(cell?.line == 3)
    #expect(cell?.message.hasPrefix(
      "cell 'a' has no closing fence: its text runs on into line 8's ```swift cell=b") == true,
      "\(String(describing: cell))")
    let output = parseError(
      "```swift cell=a\nprint(1)\n```\n```output\n1\n\n```swift cell=b\nlet y = 2\n```\n")
    #expect(output?.line == 4)
    #expect(output?.message.hasPrefix("the output block has no closing fence") == true)
    #expect(output?.message.contains("line 7's ```swift cell=b") == true)
    let variant = parseError(
      "```swift cell=a\nlet n = 1\n```\n\n```variant name=v\nn = 2\n\n```output\n1\n```\n")
    #expect(variant?.line == 5)
    #expect(variant?.message.hasPrefix("variant 'v' has no closing fence") == true)
    #expect(variant?.message.contains("line 8's ```output") == true)
    // An example of the format inside another kind of block is not a lost fence.
    let example = "````markdown\n```swift cell=a\nlet x = 1\n```\n````\n"
    #expect(parseError(example) == nil)
  }

  @Test func unterminatedFrontMatter() {
    let error = parseError("---\ntitle: x\n\n# Body\n")
    #expect(error?.line == 1)
    #expect(error?.message.contains("front matter") == true)
  }

  @Test func duplicateCellIds() {
    let error = parseError("```swift cell=a\n```\n\n```swift cell=a\n```\n")
    #expect(error?.line == 4)
    #expect(error?.message.contains("duplicate cell id 'a'") == true)
    #expect(error?.message.contains("line 1") == true)
  }

  @Test func positionalIdCollidingWithANamedOne() {
    #expect(parseError("```swift cell=cell-2\n```\n\n```swift\n```\n")?.line == 4)
  }

  @Test func badCellId() {
    let error = parseError("text\n\n```swift cell=\"two words\"\n```\n")
    #expect(error?.line == 3)
    #expect(error?.message.contains("bad cell id") == true)
  }

  @Test func outputBeforeAnyCell() {
    let error = parseError("# T\n\n```output\n1\n```\n")
    #expect(error?.line == 3)
    #expect(error?.message.contains("before any cell") == true)
  }

  @Test func unknownOutputOption() {
    #expect(parseError("```swift\n```\n```output refrence\n```\n")?.line == 3)
  }

  @Test func variantWithoutName() {
    let error = parseError("```swift\nlet lr = 0.1\n```\n\n```variant\nlr = 1.0\n```\n")
    #expect(error?.line == 5)
    #expect(error?.message.contains("name=") == true)
  }

  @Test func variantNames() {
    let cell = "```swift\nlet lr = 0.1\n```\n\n"
    #expect(parseError(cell + "```variant name=lr-0.5\nlr = 0.5\n```\n") == nil)
    #expect(parseError(cell + "```variant name=\"a b\"\nlr = 0.5\n```\n")?.line == 5)
    let twice = cell + "```variant name=v\n```\n```variant name=v\n```\n"
    #expect(parseError(twice)?.message.contains("duplicate variant") == true)
  }

  @Test func badVariantLine() {
    let text = "```swift\nlet lr = 0.1\n```\n\n```variant name=v\nlr = 0.2\nlr 0.3\n```\n"
    let error = parseError(text)
    #expect(error?.line == 7)
    #expect(error?.message.contains("NAME = LITERAL") == true)
    #expect(parseError("```swift\nlet a = 1\n```\n```variant name=v\na = f(1)\n```\n")?.line == 5)
  }

  @Test func variantOfAnUnknownParameter() {
    let text = "```swift\nlet lr = 0.1\n```\n\n```variant name=v\n\nepochs = 3\n```\n"
    let error = parseError(text)
    #expect(error?.line == 7)
    #expect(error?.message.contains("'epochs'") == true)
    #expect(error?.message.contains("lr") == true)
  }

  @Test func variantOfTheWrongType() {
    let text = "```swift\nlet epochs = 10\n```\n\n```variant name=v\nepochs = 0.5\n```\n"
    let error = parseError(text)
    #expect(error?.line == 6)
    #expect(error?.message.contains("Double") == true)
    #expect(error?.message.contains("Int") == true)
  }

  @Test func parameterDeclaredTwiceWithDifferentTypes() {
    #expect(parseError("```swift\nlet a = 1\n```\n```swift\nlet a = 1.5\n```\n")?.line == 5)
    #expect(parseError("```swift\nlet a = 1\n```\n```swift\nlet a = 2\n```\n") == nil)
  }
}
