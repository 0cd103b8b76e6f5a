/// The literal grammar of cell parameters, variants, profiles and `--set` values.
///
/// The grammar is a small subset of Swift's literals, so that a parameter's default in a
/// cell is valid Swift and means the same thing to the compiler and to the runner:
///
/// - Int: `42`, `-3`, `1_000` (no hex, octal or binary forms)
/// - Double: a number with a `.` or an exponent: `0.05`, `1e-3`, `-2.5E+4`
/// - Bool: `true`, `false`
/// - String: `"text"` with the escapes `\"` `\\` `\n` `\t` `\r` `\0` `\u{HEX}`
///   (no interpolation)
/// - arrays of one of those: `[1, 2, 3]` (Ints mixed with Doubles make a `[Double]`, as in
///   Swift); an empty `[]` has no type and is not a parameter
/// - arrays of Int pairs: `[(1, 64), (1, 128)]`
public enum ParameterLiteral {
  /// Parses `text` (surrounding whitespace allowed) as one literal; `nil` if it is not one.
  public static func parse(_ text: String) -> ParameterValue? {
    var scanner = LiteralScanner(text)
    guard let item = scanner.parseItem(), scanner.atEndAfterSpaces else { return nil }
    return item.value
  }

  /// Parses a value given on the command line or in a profile for a parameter whose
  /// default is `expected`: the same grammar, with the coercions a user would expect.
  ///
  /// An Int is accepted where a Double is expected (and Ints in a `[Double]`), `[]` is
  /// accepted for any array type, and where a String is expected any text that does not
  /// start with a quote is taken as the string itself (`--set optimizer=sgd`). Returns
  /// `nil` when the text does not fit the expected type.
  public static func parse(_ text: String, as expected: ParameterValue) -> ParameterValue? {
    let trimmed = text.trimmingSpaces
    if case .string = expected, !trimmed.hasPrefix("\"") {
      return .string(trimmed)
    }
    if expected.isArray, trimmed.filter({ !$0.isWhitespace }) == "[]" {
      return expected.emptied
    }
    guard let value = parse(trimmed) else { return nil }
    switch (expected, value) {
    case (.double, .int(let i)):
      return .double(Double(i))
    case (.doubleArray, .intArray(let a)):
      return .doubleArray(a.map(Double.init))
    default:
      return value.typeName == expected.typeName ? value : nil
    }
  }
}

extension ParameterValue {
  /// The value as Swift source, of the same type when compiled (Doubles always carry a `.`
  /// or an exponent, and print the shortest form that reads back to the same bits).
  public var swiftLiteral: String {
    switch self {
    case .int(let v): return String(v)
    case .double(let v): return Self.doubleLiteral(v)
    case .bool(let v): return v ? "true" : "false"
    case .string(let v): return Self.stringLiteral(v)
    case .intArray(let a): return "[" + a.map(String.init).joined(separator: ", ") + "]"
    case .doubleArray(let a): return "[" + a.map(Self.doubleLiteral).joined(separator: ", ") + "]"
    case .boolArray(let a):
      return "[" + a.map { $0 ? "true" : "false" }.joined(separator: ", ") + "]"
    case .stringArray(let a): return "[" + a.map(Self.stringLiteral).joined(separator: ", ") + "]"
    case .intPairArray(let a):
      return "[" + a.map { "(\($0.first), \($0.second))" }.joined(separator: ", ") + "]"
    }
  }

  /// The Swift type of the value: `Int`, `Double`, `Bool`, `String`, `[Int]`, ...,
  /// `[(Int, Int)]`.
  public var typeName: String {
    switch self {
    case .int: "Int"
    case .double: "Double"
    case .bool: "Bool"
    case .string: "String"
    case .intArray: "[Int]"
    case .doubleArray: "[Double]"
    case .boolArray: "[Bool]"
    case .stringArray: "[String]"
    case .intPairArray: "[(Int, Int)]"
    }
  }

  /// Whether the value is one of the array cases.
  public var isArray: Bool {
    switch self {
    case .int, .double, .bool, .string: false
    default: true
    }
  }

  /// An empty array of the same type (the value itself for scalars).
  var emptied: ParameterValue {
    switch self {
    case .intArray: .intArray([])
    case .doubleArray: .doubleArray([])
    case .boolArray: .boolArray([])
    case .stringArray: .stringArray([])
    case .intPairArray: .intPairArray([])
    default: self
    }
  }

  static func doubleLiteral(_ v: Double) -> String {
    if v.isNaN { return "Double.nan" }
    if v.isInfinite { return v < 0 ? "-Double.infinity" : "Double.infinity" }
    // `description` is the shortest round-tripping form and always has `.` or `e`.
    return v.description
  }

  static func stringLiteral(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      case "\r": out += "\\r"
      case "\0": out += "\\0"
      default:
        if scalar.value < 0x20 || scalar.value == 0x7F {
          out += "\\u{" + String(scalar.value, radix: 16) + "}"
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out + "\""
  }
}

/// One parsed literal element: a scalar value, an Int pair, or an array of those.
private enum LiteralItem {
  case value(ParameterValue)
  case pair(IntPair)
  case array([LiteralItem])

  var value: ParameterValue? {
    switch self {
    case .value(let v): return v
    case .pair: return nil
    case .array(let items): return Self.arrayValue(items)
    }
  }

  /// Types an array literal: all elements of one type, except that Ints among Doubles
  /// widen to Double as Swift's type checker does.
  private static func arrayValue(_ items: [LiteralItem]) -> ParameterValue? {
    guard !items.isEmpty else { return nil }
    var ints: [Int] = [], doubles: [Double] = [], bools: [Bool] = [], strings: [String] = []
    var pairs: [IntPair] = []
    var sawDouble = false
    for item in items {
      switch item {
      case .value(.int(let i)): ints.append(i); doubles.append(Double(i))
      case .value(.double(let d)): sawDouble = true; doubles.append(d)
      case .value(.bool(let b)): bools.append(b)
      case .value(.string(let s)): strings.append(s)
      case .pair(let p): pairs.append(p)
      default: return nil  // nested arrays are not part of the grammar
      }
    }
    let n = items.count
    if pairs.count == n { return .intPairArray(pairs) }
    if bools.count == n { return .boolArray(bools) }
    if strings.count == n { return .stringArray(strings) }
    if doubles.count == n { return sawDouble ? .doubleArray(doubles) : .intArray(ints) }
    return nil
  }
}

/// A recursive-descent scanner over the literal grammar.
///
/// It reads Unicode scalars, as Swift's own lexer does, not Characters: a quote followed by
/// a combining mark is one Character but two scalars, the quote and the mark, and a string
/// literal that starts with a combining mark must end at its quote.
private struct LiteralScanner {
  private let chars: [Unicode.Scalar]
  private var i = 0

  init(_ text: String) { chars = Array(text.unicodeScalars) }

  var atEndAfterSpaces: Bool {
    mutating get {
      skipSpaces()
      return i == chars.count
    }
  }

  private var peek: Unicode.Scalar? { i < chars.count ? chars[i] : nil }

  private mutating func skipSpaces() {
    while let c = peek, c.properties.isWhitespace { i += 1 }
  }

  private mutating func eat(_ c: Unicode.Scalar) -> Bool {
    skipSpaces()
    guard peek == c else { return false }
    i += 1
    return true
  }

  mutating func parseItem() -> LiteralItem? {
    skipSpaces()
    guard let c = peek else { return nil }
    switch c {
    case "[": return parseArray()
    case "(": return parsePair()
    case "\"": return parseString().map { .value(.string($0)) }
    case "t", "f": return parseBool().map { .value(.bool($0)) }
    default: return parseNumber().map { .value($0) }
    }
  }

  private mutating func parseArray() -> LiteralItem? {
    guard eat("[") else { return nil }
    var items: [LiteralItem] = []
    if eat("]") { return .array(items) }
    while true {
      // Nested arrays are not part of the grammar: refuse one before descending into it, so
      // that `[[[[...` typed or pasted a hundred thousand deep cannot overflow the stack.
      skipSpaces()
      guard peek != "[", let item = parseItem() else { return nil }
      items.append(item)
      if eat("]") { return .array(items) }
      guard eat(",") else { return nil }
      // Swift allows a trailing comma in array literals.
      if eat("]") { return .array(items) }
    }
  }

  private mutating func parsePair() -> LiteralItem? {
    guard eat("(") else { return nil }
    skipSpaces()
    guard case .int(let a)? = parseNumber(), eat(",") else { return nil }
    skipSpaces()
    guard case .int(let b)? = parseNumber(), eat(")") else { return nil }
    return .pair(IntPair(a, b))
  }

  private mutating func parseBool() -> Bool? {
    for (word, value) in [("true", true), ("false", false)] {
      let end = i + word.unicodeScalars.count
      guard end <= chars.count, chars[i..<end].elementsEqual(word.unicodeScalars) else { continue }
      // `trueValue` is an identifier, not the literal `true`.
      if end < chars.count, chars[end].continuesIdentifier { return nil }
      i = end
      return value
    }
    return nil
  }

  private mutating func parseString() -> String? {
    guard peek == "\"" else { return nil }
    i += 1
    var out = String.UnicodeScalarView()
    while let c = peek {
      i += 1
      switch c {
      case "\"": return String(out)
      case "\n", "\r": return nil
      case "\\":
        guard let e = peek else { return nil }
        i += 1
        switch e {
        case "\"": out.append("\"")
        case "\\": out.append("\\")
        case "n": out.append("\n")
        case "t": out.append("\t")
        case "r": out.append("\r")
        case "0": out.append("\0")
        case "'": out.append("'")
        case "u":
          guard eat("{") else { return nil }
          var hex = ""
          while let h = peek, h.isASCIIHexDigit { hex.unicodeScalars.append(h); i += 1 }
          guard peek == "}", let code = UInt32(hex, radix: 16),
            let scalar = Unicode.Scalar(code)
          else { return nil }
          i += 1
          out.append(scalar)
        default: return nil  // includes `\(`: interpolation is not a literal
        }
      default: out.append(c)
      }
    }
    return nil
  }

  /// `-?digits` with optional `.digits` and exponent; underscores between digits as in Swift.
  private mutating func parseNumber() -> ParameterValue? {
    var text = ""
    if peek == "-" { text.append("-"); i += 1 }
    guard let digits = scanDigits() else { return nil }
    text += digits
    var isDouble = false
    if peek == ".", i + 1 < chars.count, chars[i + 1].isASCIIDigit {
      i += 1
      guard let fraction = scanDigits() else { return nil }
      text += "." + fraction
      isDouble = true
    }
    if peek == "e" || peek == "E" {
      i += 1
      text.append("e")
      if let sign = peek, sign == "+" || sign == "-" {
        text.unicodeScalars.append(sign)
        i += 1
      }
      guard let exponent = scanDigits() else { return nil }
      text += exponent
      isDouble = true
    }
    // A number glued to letters (`12px`, `0x1F`) is not a literal of the grammar.
    if let c = peek, c.properties.isAlphabetic || c == "_" || c == "." { return nil }
    if isDouble {
      guard let d = Double(text), d.isFinite else { return nil }
      return .double(d)
    }
    return Int(text).map { .int($0) }
  }

  /// Digits with Swift's underscore separators (not leading), underscores removed.
  private mutating func scanDigits() -> String? {
    guard let first = peek, first.isASCIIDigit else { return nil }
    var out = ""
    while let c = peek, c.isASCIIDigit || c == "_" {
      if c != "_" { out.unicodeScalars.append(c) }
      i += 1
    }
    return out
  }
}

extension Unicode.Scalar {
  var isASCIIDigit: Bool { ("0"..."9").contains(self) }
  var isASCIIHexDigit: Bool {
    isASCIIDigit || ("a"..."f").contains(self) || ("A"..."F").contains(self)
  }
  /// A letter, digit or underscore: what may follow inside an identifier.
  var continuesIdentifier: Bool {
    properties.isAlphabetic || properties.numericType != nil || self == "_"
  }
}

extension Character {
  var isASCIIDigit: Bool { isASCII && isNumber }
}

extension StringProtocol {
  /// The text without leading and trailing spaces, tabs and line breaks.
  var trimmingSpaces: String {
    var s = Substring(self)
    while let c = s.first, c.isWhitespace { s.removeFirst() }
    while let c = s.last, c.isWhitespace { s.removeLast() }
    return String(s)
  }
}
