import Foundation

/// 46764746 -> "46,764,746"; -60000 -> "-60,000": independent of the locale, so that
/// messages and reports read the same everywhere.
public func grouped(_ n: Int) -> String {
  let digits = String(n.magnitude)
  var out = ""
  for (i, c) in digits.enumerated() {
    if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
    out.append(c)
  }
  return n < 0 ? "-" + out : out
}

/// A count with a unit prefix and two decimals: 1_140_000_000 -> "1.14 G", 61_370_000 ->
/// "61.37 M", 20_480 -> "20.48 k", 512 -> "512". FLOPs in shape tables, reports and benches.
public func scaled(_ n: Int) -> String {
  let v = Double(n)
  switch v {
  case 1e9...: return String(format: "%.2f G", v / 1e9)
  case 1e6...: return String(format: "%.2f M", v / 1e6)
  case 1e3...: return String(format: "%.2f k", v / 1e3)
  default: return "\(n)"
  }
}
