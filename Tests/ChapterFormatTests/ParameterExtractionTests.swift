import Testing

@testable import ChapterFormat

/// Parameters found in a cell's code, as (name, literal, 0-based line) triples.
private func params(_ code: String) -> [String] {
  ParameterLine.scan(code).flatMap { line in
    line.bindings.map { "\($0.name)=\($0.literal)@\(line.index)" }
  }
}

@Suite struct ParameterExtractionTests {
  @Test func singleAndSeveralPerLine() {
    #expect(params("let lr = 0.05\n") == ["lr=0.05@0"])
    #expect(
      params("let lr = 0.9, numEpochs = 10, batchSize = 256\n")
        == ["lr=0.9@0", "numEpochs=10@0", "batchSize=256@0"])
    #expect(params("x()\nlet resize = 96  // 224 in the book\n") == ["resize=96@1"])
  }

  @Test func nonLiteralsAreNotParameters() {
    let code = """
      let net = Sequential {
      let x: Float = 1
      let y = 1 + 2
      let lr = 0.1, net2 = makeNet()
      let (a, b) = (1, 2)
      var epochs = 10
      let empty = []
      let letter = 1;
      """
    #expect(params(code) == [])
  }

  @Test func nestedScopesAreIgnored() {
    let code = """
      let depth = 1
      func f() {
        let inner = 2
      }
      let net = Sequential {
        let alsoInner = 3
      }
      do { let k = 4 }
      let arr = [
        1, 2]
      let outer = 5
      """
    #expect(params(code) == ["depth=1@0", "outer=5@10"])
  }

  @Test func bracesInStringsAndCommentsDoNotNest() {
    let code = """
      print("{ ( [")  // } ) ]
      let title = "a {b} // not a comment", size = 3  // trailing
      /* { */
      let after = 1
      let s = \"\"\"
        {
        let fake = 1
        \"\"\"
      let last = true
      """
    #expect(
      params(code) == [
        #"title="a {b} // not a comment"@1"#, "size=3@1", "after=1@3", "last=true@8",
      ])
  }

  @Test func intPairArrays() {
    #expect(
      params("let convArch = [(1, 64), (1, 128), (2, 256), (2, 512), (2, 512)]\n")
        == ["convArch=[(1, 64), (1, 128), (2, 256), (2, 512), (2, 512)]@0"])
    let line = ParameterLine.scan("let arch = [(1, 64)], lr = 0.05\n")[0]
    #expect(line.bindings.map(\.value) == [.intPairArray([IntPair(1, 64)]), .double(0.05)])
  }

  @Test func rewriteKeepsTheLineIndentationAndComment() {
    let code = "let lr = 0.9, numEpochs = 10  // book: 10\nprint(lr)\n"
    #expect(
      SwiftTangler.rewriteParameters(code)
        == "let lr = nb.param(\"lr\", 0.9), numEpochs = nb.param(\"numEpochs\", 10)  // book: 10\n"
        + "print(lr)\n")
    #expect(
      SwiftTangler.rewriteParameters("  let a = [(1, 2)]\n")
        == "  let a = nb.param(\"a\", [(1, 2)])\n")
  }
}
