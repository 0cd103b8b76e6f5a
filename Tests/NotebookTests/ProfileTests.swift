import ChapterFormat
import Foundation
import Testing

@testable import Notebook

@Suite struct ProfileTests {
  let program = SectionProgram(
    number: "9.1", slug: "9.1-test", sourcePath: "/tmp/9.1-test.md", markdown: Fixture.markdown
  ) { _ in }

  func plan(_ options: RunOptions, markdown: String = Fixture.markdown) throws -> RunPlan {
    try RunPlan(program: program, document: Fixture.document(markdown), options: options)
  }

  /// The fixture with its profiles replaced.
  func withProfiles(_ yaml: String) -> String {
    let start = Fixture.markdown.range(of: "profiles:\n")!
    let end = Fixture.markdown.range(of: "---\n\n#")!
    return String(Fixture.markdown[..<start.upperBound]) + yaml
      + String(Fixture.markdown[end.lowerBound...])
  }

  @Test func frontMatterIsRead() throws {
    let front = try FrontMatter.parse(Fixture.document())
    #expect(front.section == "9.1")
    #expect(front.title == "Testing <the> Runner")
    #expect(front.profiles.map(\.name) == ["quick", "smoke"])
    #expect(front.profile(named: "quick")?.description == "a quick look")
    #expect(front.networks == [NetworkNote(name: "tiny", description: "a two-layer test network")])
    #expect(front.ranges["resize"] != nil)
    // The quick profile sits on line 7 of the file.
    #expect(front.profile(named: "quick")?.line == 7)
    #expect(front.profile(named: "quick")?.entries.first?.line == 7)
  }

  @Test func defaultProfileIsQuickWhenDeclared() throws {
    let p = try plan(RunOptions())
    #expect(p.settings.profile == "quick")
    #expect(p.settings.trainSubset == 100)
    #expect(p.settings.testSubset == 50)
    #expect(p.overrides["numEpochs"]?.value == .int(2))
    #expect(p.overrides["numEpochs"]?.source == "profile quick")
    #expect(p.profileDescription == "a quick look")
  }

  @Test func bookProfileHasNoOverrides() throws {
    let p = try plan(RunOptions(profile: "book"))
    #expect(p.overrides.isEmpty)
    #expect(p.settings.trainSubset == nil)
  }

  @Test func smokeProfileTypesValues() throws {
    let p = try plan(RunOptions(profile: "smoke"))
    #expect(p.overrides["lr"]?.value == .double(0.5))
    #expect(p.overrides["convArch"]?.value == .intPairArray([IntPair(1, 8)]))
    #expect(p.overrides["names"]?.value == .stringArray(["a", "b"]))
  }

  @Test func yamlSequencesAndIntsForDoubles() throws {
    let md = withProfiles("  quick: { lr: 1, convArch: [[1, 16], [2, 32]] }\n")
    let p = try plan(RunOptions(profile: "quick"), markdown: md)
    #expect(p.overrides["lr"]?.value == .double(1.0))
    #expect(p.overrides["convArch"]?.value == .intPairArray([IntPair(1, 16), IntPair(2, 32)]))
  }

  @Test func unknownKeyNamesProfileKeyAndLine() throws {
    let md = withProfiles("  quick:\n    numEpoch: 2\n")
    let error = #expect(throws: ChapterError.self) { try plan(RunOptions(), markdown: md) }
    #expect(error?.line == 8)
    #expect(error?.message.contains("profile 'quick'") == true)
    #expect(error?.message.contains("numEpoch") == true)
    #expect(error?.message.contains("did you mean 'numEpochs'") == true)
    #expect(error?.description.hasPrefix("/tmp/9.1-test.md:8: error:") == true)
  }

  @Test func wrongTypeInProfile() throws {
    let md = withProfiles("  quick: { numEpochs: fast }\n")
    let error = #expect(throws: ChapterError.self) { try plan(RunOptions(), markdown: md) }
    #expect(error?.line == 7)
    #expect(error?.message.contains("numEpochs") == true)
    #expect(error?.message.contains("Int") == true)
    #expect(error?.message.contains("cell 'setup'") == true)
  }

  @Test func wrongTypeForSubset() throws {
    let md = withProfiles("  quick: { trainSubset: 0.5 }\n")
    let error = #expect(throws: ChapterError.self) { try plan(RunOptions(), markdown: md) }
    #expect(error?.message.contains("trainSubset") == true)
  }

  @Test func outOfRangeInProfile() throws {
    let md = withProfiles("  quick: { numEpochs: 0 }\n")
    let error = #expect(throws: ChapterError.self) { try plan(RunOptions(), markdown: md) }
    #expect(error?.message.contains("out of range") == true)
  }

  @Test func badYAMLIsLocated() throws {
    let md = withProfiles("  quick: { numEpochs: 2\n")
    let error = #expect(throws: ChapterError.self) { try plan(RunOptions(), markdown: md) }
    #expect(error?.message.contains("bad front matter YAML") == true)
    #expect((error?.line ?? 0) >= 7)
  }

  @Test func unknownTopLevelKey() throws {
    let md = Fixture.markdown.replacingOccurrences(of: "title:", with: "titel:")
    let error = #expect(throws: ChapterError.self) { try plan(RunOptions(), markdown: md) }
    #expect(error?.line == 3)
    #expect(error?.message.contains("titel") == true)
  }

  @Test func unknownProfile() throws {
    let error = #expect(throws: ChapterError.self) { try plan(RunOptions(profile: "fast")) }
    #expect(error?.message.contains("unknown profile 'fast'") == true)
    #expect(error?.message.contains("book, quick, smoke") == true)
  }

  @Test func bookProfileTakesNoOverrides() throws {
    let md = withProfiles("  book: { numEpochs: 2 }\n")
    let error = #expect(throws: ChapterError.self) { try plan(RunOptions(), markdown: md) }
    #expect(error?.message.contains("profile 'book'") == true)
  }

  @Test func withoutProfilesTheDefaultIsBook() throws {
    let md = "---\ntitle: T\n---\n\n```swift cell=a\nlet lr = 0.1\n```\n"
    let p = try plan(RunOptions(), markdown: md)
    #expect(p.settings.profile == "book")
    #expect(p.title == "T")
  }
}

@Suite struct OverrideTests {
  let program = SectionProgram(
    number: "9.1", slug: "9.1-test", sourcePath: "/tmp/9.1-test.md", markdown: Fixture.markdown
  ) { _ in }

  func plan(_ sets: [String: String], profile: String = "book", variant: String? = nil) throws
    -> RunPlan
  {
    try RunPlan(
      program: program, document: Fixture.document(),
      options: RunOptions(profile: profile, overrides: sets, variant: variant))
  }

  @Test func setArgumentsSplitAtFirstEquals() throws {
    let sets = try RunOptions.parseSetArguments(["lr=0.5", "names=[\"a=b\"]"])
    #expect(sets == ["lr": "0.5", "names": "[\"a=b\"]"])
    #expect(throws: NotebookError.self) { try RunOptions.parseSetArguments(["lr"]) }
    #expect(throws: NotebookError.self) { try RunOptions.parseSetArguments(["=1"]) }
    #expect(throws: NotebookError.self) { try RunOptions.parseSetArguments(["lr=1", "lr=2"]) }
  }

  @Test func setParsesByTheLiteralsType() throws {
    let p = try plan([
      "lr": "0.25", "numEpochs": "5", "convArch": "[(2,64),(2,128)]", "names": "[\"p\", \"q\"]",
      "batchSize": "1_024",
    ])
    #expect(p.overrides["lr"]?.value == .double(0.25))
    #expect(p.overrides["numEpochs"]?.value == .int(5))
    #expect(p.overrides["convArch"]?.value == .intPairArray([IntPair(2, 64), IntPair(2, 128)]))
    #expect(p.overrides["names"]?.value == .stringArray(["p", "q"]))
    #expect(p.overrides["batchSize"]?.value == .int(1024))
    #expect(p.overrides["lr"]?.source == "--set")
  }

  @Test func setBeatsProfile() throws {
    let p = try plan(["numEpochs": "4"], profile: "quick")
    #expect(p.overrides["numEpochs"]?.value == .int(4))
    #expect(p.settings.trainSubset == 100)
  }

  @Test func setSubsets() throws {
    let p = try plan(["trainSubset": "64", "testSubset": "32"])
    #expect(p.settings.trainSubset == 64)
    #expect(p.settings.testSubset == 32)
    #expect(throws: ChapterError.self) { try plan(["trainSubset": "0"]) }
  }

  @Test func unknownNameIsAnError() throws {
    let error = #expect(throws: NotebookError.self) { try plan(["learningRate": "0.1"]) }
    #expect(error?.message.contains("unknown parameter 'learningRate'") == true)
    #expect(error?.message.contains("lr, numEpochs") == true)
  }

  @Test func wrongTypeNamesCellParameterAndLine() throws {
    let error = #expect(throws: ChapterError.self) { try plan(["numEpochs": "2.5"]) }
    #expect(error?.path == "/tmp/9.1-test.md")
    #expect(error?.line == 18)
    #expect(error?.message.contains("cell 'setup'") == true)
    #expect(error?.message.contains("'numEpochs'") == true)
    #expect(error?.message.contains("is a Double, expected an Int") == true)
  }

  @Test(arguments: [
    ("numEpochs", "0"), ("batchSize", "-1"), ("lr", "0"), ("lr", "-0.1"), ("lr", "nan"),
    ("lr", "1e999"), ("resize", "4"),
  ])
  func outOfRange(name: String, value: String) throws {
    let error = #expect(throws: ChapterError.self) { try plan([name: value]) }
    #expect(error?.message.contains(name) == true)
    #expect(error?.message.contains("cell '") == true)
  }

  @Test func badLiterals() throws {
    #expect(throws: ChapterError.self) { try plan(["convArch": "[1, 2]"]) }
    #expect(throws: ChapterError.self) { try plan(["convArch": "[(1, 2)"]) }
    #expect(throws: ChapterError.self) { try plan(["names": "[1]"]) }
    #expect(throws: ChapterError.self) { try plan(["lr": ""]) }
  }

  @Test func stringParametersTakeBareText() throws {
    let md = Fixture.markdown.replacingOccurrences(
      of: "let resize = 28\n", with: "let resize = 28\nlet optimizer = \"sgd\"\n")
    let p = try RunPlan(
      program: program, document: Fixture.document(md),
      options: RunOptions(profile: "book", overrides: ["optimizer": "adam"]))
    #expect(p.overrides["optimizer"]?.value == .string("adam"))
  }

  @Test func variantAppliesItsAssignments() throws {
    let p = try plan([:], variant: "wide")
    #expect(p.overrides["convArch"]?.value == .intPairArray([IntPair(1, 128), IntPair(2, 256)]))
    #expect(p.overrides["convArch"]?.source == "variant wide")
    #expect(throws: NotebookError.self) { try plan([:], variant: "narrow") }
  }

  @Test func literalMessages() throws {
    guard case .failure(let f) = OverrideLiteral.parse("abc", as: .int(1)) else {
      Issue.record("abc parsed as an Int")
      return
    }
    #expect(f.message.contains("not an Int literal"))
    #expect(try OverrideLiteral.parse("3", as: .double(1)).get() == .double(3))
    #expect(try OverrideLiteral.parse("[]", as: .intPairArray([])).get() == .intPairArray([]))
  }
}
