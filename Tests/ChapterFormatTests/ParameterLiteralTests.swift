import Testing

@testable import ChapterFormat

@Suite struct ParameterLiteralTests {
  @Test func scalars() {
    #expect(ParameterLiteral.parse("42") == .int(42))
    #expect(ParameterLiteral.parse(" -3 ") == .int(-3))
    #expect(ParameterLiteral.parse("1_000") == .int(1000))
    #expect(ParameterLiteral.parse("0.05") == .double(0.05))
    #expect(ParameterLiteral.parse("1e-3") == .double(0.001))
    #expect(ParameterLiteral.parse("-2.5E+2") == .double(-250))
    #expect(ParameterLiteral.parse("true") == .bool(true))
    #expect(ParameterLiteral.parse("false") == .bool(false))
    #expect(ParameterLiteral.parse(#""sgd""#) == .string("sgd"))
    #expect(ParameterLiteral.parse(#""a \"b\" \\ \n\t{}""#) == .string("a \"b\" \\ \n\t{}"))
  }

  @Test func arrays() {
    #expect(ParameterLiteral.parse("[1, 2, 3]") == .intArray([1, 2, 3]))
    #expect(ParameterLiteral.parse("[1, 2.5]") == .doubleArray([1, 2.5]))
    #expect(ParameterLiteral.parse("[0.1,0.2,]") == .doubleArray([0.1, 0.2]))
    #expect(ParameterLiteral.parse("[true, false]") == .boolArray([true, false]))
    #expect(ParameterLiteral.parse(#"["a", "b"]"#) == .stringArray(["a", "b"]))
    #expect(
      ParameterLiteral.parse("[(1, 64), (1, 128), (2, 256)]")
        == .intPairArray([IntPair(1, 64), IntPair(1, 128), IntPair(2, 256)]))
  }

  @Test(arguments: [
    "", "[]", "x", "1.", ".5", "0x10", "12px", "1 + 2", "trueish", "[1, \"a\"]", "[[1]]",
    "[(1, 2.5)]", "[(1, 2, 3)]", #""open"#, #""\(x)""#, "Sequential {", "-", "1e", "1e999",
    "99999999999999999999", "[1, 2", "(1, 2)",
  ])
  func rejects(_ text: String) {
    #expect(ParameterLiteral.parse(text) == nil)
  }

  @Test func coercionsForSetValues() {
    #expect(ParameterLiteral.parse("1", as: .double(0.5)) == .double(1))
    #expect(ParameterLiteral.parse("[1, 2]", as: .doubleArray([0.5])) == .doubleArray([1, 2]))
    #expect(ParameterLiteral.parse("sgd", as: .string("adam")) == .string("sgd"))
    #expect(ParameterLiteral.parse(" two words ", as: .string("")) == .string("two words"))
    #expect(ParameterLiteral.parse(#""quoted""#, as: .string("")) == .string("quoted"))
    #expect(ParameterLiteral.parse("[]", as: .intPairArray([IntPair(1, 2)])) == .intPairArray([]))
    #expect(
      ParameterLiteral.parse("[(2, 64)]", as: .intPairArray([IntPair(1, 2)]))
        == .intPairArray([IntPair(2, 64)]))
    #expect(ParameterLiteral.parse("7", as: .int(1)) == .int(7))
  }

  @Test func setValuesOfTheWrongTypeAreRejected() {
    #expect(ParameterLiteral.parse("1.5", as: .int(1)) == nil)
    #expect(ParameterLiteral.parse("true", as: .int(1)) == nil)
    #expect(ParameterLiteral.parse("fast", as: .double(1)) == nil)
    #expect(ParameterLiteral.parse("1", as: .bool(true)) == nil)
    #expect(ParameterLiteral.parse("[1.5]", as: .intArray([1])) == nil)
    #expect(ParameterLiteral.parse("[1, 2]", as: .intPairArray([IntPair(1, 2)])) == nil)
    #expect(ParameterLiteral.parse("[]", as: .int(1)) == nil)
    #expect(ParameterLiteral.parse(#""unclosed"#, as: .string("")) == nil)
  }

  @Test(arguments: [
    ParameterValue.int(-7), .double(0.05), .double(1e-5), .double(3), .double(1e300),
    .double(0.1 + 0.2), .bool(true), .string("a \"q\" \\ \n \t \r {} \u{1}"),
    .intArray([1, 2]), .doubleArray([1, 0.5]), .boolArray([false]), .stringArray(["x", "y z"]),
    .intPairArray([IntPair(1, 64), IntPair(-1, 0)]),
  ])
  func swiftLiteralRoundTrips(_ value: ParameterValue) {
    #expect(ParameterLiteral.parse(value.swiftLiteral) == value)
  }

  @Test func swiftLiteralForms() {
    #expect(ParameterValue.double(3).swiftLiteral == "3.0")
    #expect(ParameterValue.intPairArray([IntPair(1, 64)]).swiftLiteral == "[(1, 64)]")
    #expect(ParameterValue.string("a\"b").swiftLiteral == #""a\"b""#)
  }

  @Test func typeNames() {
    #expect(ParameterValue.int(1).typeName == "Int")
    #expect(ParameterValue.double(1).typeName == "Double")
    #expect(ParameterValue.bool(true).typeName == "Bool")
    #expect(ParameterValue.string("").typeName == "String")
    #expect(ParameterValue.intArray([]).typeName == "[Int]")
    #expect(ParameterValue.doubleArray([]).typeName == "[Double]")
    #expect(ParameterValue.stringArray([]).typeName == "[String]")
    #expect(ParameterValue.intPairArray([]).typeName == "[(Int, Int)]")
  }
}
