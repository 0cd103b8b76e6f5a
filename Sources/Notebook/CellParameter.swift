import ChapterFormat

/// A Swift type a cell parameter may have: `NotebookSession.param` is generic over it so that
/// the tangled `let lr = nb.param("lr", 0.05)` keeps the literal's own type.
public protocol CellParameter {
  /// The value in the chapter model's terms (its case is the parameter's type).
  var parameterValue: ParameterValue { get }
  /// Converts back; `nil` when the value has another type.
  init?(parameterValue: ParameterValue)
}

/// Element types of array parameters. Swift allows only one conditional conformance of
/// `Array` to `CellParameter`, so the element decides how an array maps to a `ParameterValue`.
public protocol CellParameterElement: CellParameter {
  static func arrayValue(_ elements: [Self]) -> ParameterValue
  static func elements(of value: ParameterValue) -> [Self]?
}

extension Int: CellParameterElement {
  public var parameterValue: ParameterValue { .int(self) }
  public init?(parameterValue: ParameterValue) {
    guard case .int(let v) = parameterValue else { return nil }
    self = v
  }
  public static func arrayValue(_ elements: [Int]) -> ParameterValue { .intArray(elements) }
  public static func elements(of value: ParameterValue) -> [Int]? {
    if case .intArray(let v) = value { v } else { nil }
  }
}

extension Double: CellParameterElement {
  public var parameterValue: ParameterValue { .double(self) }
  public init?(parameterValue: ParameterValue) {
    switch parameterValue {
    case .double(let v): self = v
    // An override written `1` for a Double parameter means 1.0.
    case .int(let v): self = Double(v)
    default: return nil
    }
  }
  public static func arrayValue(_ elements: [Double]) -> ParameterValue { .doubleArray(elements) }
  public static func elements(of value: ParameterValue) -> [Double]? {
    switch value {
    case .doubleArray(let v): v
    case .intArray(let v): v.map(Double.init)
    default: nil
    }
  }
}

extension Bool: CellParameterElement {
  public var parameterValue: ParameterValue { .bool(self) }
  public init?(parameterValue: ParameterValue) {
    guard case .bool(let v) = parameterValue else { return nil }
    self = v
  }
  public static func arrayValue(_ elements: [Bool]) -> ParameterValue { .boolArray(elements) }
  public static func elements(of value: ParameterValue) -> [Bool]? {
    if case .boolArray(let v) = value { v } else { nil }
  }
}

extension String: CellParameterElement {
  public var parameterValue: ParameterValue { .string(self) }
  public init?(parameterValue: ParameterValue) {
    guard case .string(let v) = parameterValue else { return nil }
    self = v
  }
  public static func arrayValue(_ elements: [String]) -> ParameterValue { .stringArray(elements) }
  public static func elements(of value: ParameterValue) -> [String]? {
    if case .stringArray(let v) = value { v } else { nil }
  }
}

extension Array: CellParameter where Element: CellParameterElement {
  public var parameterValue: ParameterValue { Element.arrayValue(self) }
  public init?(parameterValue: ParameterValue) {
    // `[]` parses as an empty Int array; it is a valid empty array of any element type.
    if case .intArray(let v) = parameterValue, v.isEmpty {
      self = []
      return
    }
    guard let v = Element.elements(of: parameterValue) else { return nil }
    self = v
  }
}

extension ParameterValue {
  /// Whether an override of `other`'s type may stand where this type is expected (the same
  /// type, or Ints where Doubles are expected, as `ParameterLiteral.parse(_:as:)` widens).
  func accepts(_ other: ParameterValue) -> Bool {
    switch (self, other) {
    case (.double, .int), (.doubleArray, .intArray): true
    default: typeName == other.typeName
    }
  }
}
