import ChapterFormat
import Foundation

/// Parses the text of an override (`--set lr=0.1`, a profile's value, a variant line) against
/// the type of the parameter's default, with ChapterFormat's literal grammar, and says why
/// when it does not fit (which `ParameterLiteral` leaves to its callers).
enum OverrideLiteral {
  /// Why a text does not parse, in words fit for a message.
  struct Failure: Error, Equatable {
    var message: String
  }

  static func parse(_ text: String, as expected: ParameterValue) -> Result<ParameterValue, Failure> {
    if let value = ParameterLiteral.parse(text, as: expected) {
      if case .double(let d) = value, !d.isFinite {
        return .failure(Failure(message: "'\(text)' is not a finite number"))
      }
      return .success(value)
    }
    let shown = text.trimmingCharacters(in: .whitespaces)
    if shown.isEmpty {
      return .failure(Failure(message: "the value is empty; expected \(withArticle(expected.typeName))"))
    }
    if let other = ParameterLiteral.parse(shown) {
      return .failure(
        Failure(message: "'\(shown)' is \(withArticle(other.typeName)), expected \(withArticle(expected.typeName))"))
    }
    var hint = ""
    if case .intPairArray = expected { hint = ", such as [(1, 64), (2, 128)]" }
    if case .string = expected { hint = " (a quoted string must be closed and escaped)" }
    return .failure(
      Failure(message: "'\(shown)' is not \(withArticle(expected.typeName)) literal\(hint)"))
  }
}

/// `an Int`, `a Double`: type names with their article, for messages.
func withArticle(_ typeName: String) -> String {
  (typeName.hasPrefix("I") ? "an " : "a ") + typeName
}
