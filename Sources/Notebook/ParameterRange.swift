import ChapterFormat
import Foundation

/// The values a numeric parameter may take, checked against every override (profile,
/// variant, `--set`) before anything runs; the book's own literals are trusted.
///
/// A chapter declares ranges in its front matter, one comma-separated list of conditions per
/// parameter: `ranges: { resize: ">= 28", dropout: "0 ..< 1", lr: "> 0, <= 10" }`. The forms
/// are `> X`, `>= X`, `< X`, `<= X`, `A...B` and `A..<B`. Without a declaration, common names
/// get the obvious rules (see `ParameterRange.implied(for:)`): epochs and batch sizes at least
/// 1, learning rates positive. Every Double must be finite. For arrays each element is checked.
public struct ParameterRange: Sendable, Equatable, CustomStringConvertible {
  enum Condition: Sendable, Equatable {
    case greater(Double), greaterOrEqual(Double), less(Double), lessOrEqual(Double)

    func holds(_ v: Double) -> Bool {
      switch self {
      case .greater(let x): v > x
      case .greaterOrEqual(let x): v >= x
      case .less(let x): v < x
      case .lessOrEqual(let x): v <= x
      }
    }

    var text: String {
      switch self {
      case .greater(let x): "> \(Self.number(x))"
      case .greaterOrEqual(let x): ">= \(Self.number(x))"
      case .less(let x): "< \(Self.number(x))"
      case .lessOrEqual(let x): "<= \(Self.number(x))"
      }
    }

    static func number(_ x: Double) -> String {
      x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
    }
  }

  var conditions: [Condition]

  public var description: String { conditions.map(\.text).joined(separator: ", ") }

  init(conditions: [Condition]) { self.conditions = conditions }

  /// Parses the front-matter form described above.
  init(_ text: String) throws {
    var conditions: [Condition] = []
    for raw in text.split(separator: ",") {
      let part = raw.filter { !$0.isWhitespace }
      func num(_ s: Substring) throws -> Double {
        guard let v = Double(s.replacingOccurrences(of: "_", with: "")), v.isFinite else {
          throw OverrideLiteral.Failure(message: "'\(s)' is not a number in '\(text)'")
        }
        return v
      }
      if part.hasPrefix(">=") {
        conditions.append(.greaterOrEqual(try num(part.dropFirst(2))))
      } else if part.hasPrefix("<=") {
        conditions.append(.lessOrEqual(try num(part.dropFirst(2))))
      } else if part.hasPrefix(">") {
        conditions.append(.greater(try num(part.dropFirst(1))))
      } else if part.hasPrefix("<") {
        conditions.append(.less(try num(part.dropFirst(1))))
      } else if let r = part.range(of: "..<") {
        conditions.append(.greaterOrEqual(try num(part[..<r.lowerBound])))
        conditions.append(.less(try num(part[r.upperBound...])))
      } else if let r = part.range(of: "...") {
        conditions.append(.greaterOrEqual(try num(part[..<r.lowerBound])))
        conditions.append(.lessOrEqual(try num(part[r.upperBound...])))
      } else {
        throw OverrideLiteral.Failure(
          message: "'\(part)' is not a range (use > X, >= X, < X, <= X, A...B or A..<B)")
      }
    }
    if conditions.isEmpty {
      throw OverrideLiteral.Failure(message: "empty range")
    }
    self.conditions = conditions
  }

  /// The rule for a parameter nobody declared a range for, from its name: what the issue
  /// tracker calls obviously wrong values (zero epochs, an empty batch, a non-positive rate).
  public static func implied(for name: String) -> ParameterRange? {
    let n = name.lowercased()
    if n.contains("epoch") || n.hasSuffix("batchsize") || n == "batch" || n.hasSuffix("subset") {
      return ParameterRange(conditions: [.greaterOrEqual(1)])
    }
    if n == "lr" || n.hasSuffix("lr") || n.contains("learningrate") {
      return ParameterRange(conditions: [.greater(0)])
    }
    if n == "resize" || n.hasSuffix("imagesize") {
      return ParameterRange(conditions: [.greaterOrEqual(1)])
    }
    return nil
  }

  /// `nil` when `value` is allowed, else why not.
  func violation(_ value: ParameterValue) -> String? {
    let numbers: [Double]
    switch value {
    case .int(let v): numbers = [Double(v)]
    case .double(let v): numbers = [v]
    case .intArray(let v): numbers = v.map(Double.init)
    case .doubleArray(let v): numbers = v
    case .intPairArray(let v): numbers = v.flatMap { [Double($0.first), Double($0.second)] }
    default: return nil
    }
    for x in numbers {
      for c in conditions where !c.holds(x) {
        return "\(Condition.number(x)) is out of range (must be \(c.text))"
      }
    }
    return nil
  }

  /// Finite-ness applies to every Double, declared range or not.
  static func finiteViolation(_ value: ParameterValue) -> String? {
    switch value {
    case .double(let v) where !v.isFinite: "\(v) is not a finite number"
    case .doubleArray(let v) where v.contains(where: { !$0.isFinite }): "an element is not finite"
    default: nil
    }
  }
}
