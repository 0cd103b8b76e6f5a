import Common
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Training progress on standard error, never in the report.
///
/// On a terminal it is one live line (epoch, batch i/n, examples/s, loss, ETA), redrawn with
/// `\r` at most ten times a second; otherwise (a log file, CI) it prints one plain line per
/// epoch; with `--quiet` it prints nothing. Standard error is not captured with the cell's
/// output, so the bar never leaks into a report.
public final class ProgressBar {
  /// How the bar shows itself.
  public enum Style: Sendable {
    case terminal(width: Int)
    case lines
    case silent
  }

  public let label: String
  public let style: Style
  private let write: (String) -> Void
  private let clock: () -> Double
  private let start: Double
  private var lastDraw = -Double.infinity
  private var drawn = false
  private var epochStart: Double
  private var last: (epoch: Int, epochs: Int, batch: Int, batches: Int, rate: Double, loss: Double)?

  /// A bar for the current process: live on a terminal, lines otherwise, silent when quiet.
  public convenience init(label: String, quiet: Bool) {
    let style: Style
    if quiet {
      style = .silent
    } else if isatty(2) != 0 {
      style = .terminal(width: ProgressBar.terminalWidth())
    } else {
      style = .lines
    }
    self.init(label: label, style: style, write: { text in
      var bytes = Array(text.utf8)
      _ = bytes.withUnsafeMutableBytes { rawWrite(2, $0.baseAddress, $0.count) }
    })
  }

  /// For tests: any style, any sink, any clock (seconds).
  public init(
    label: String, style: Style, write: @escaping (String) -> Void,
    clock: @escaping () -> Double = ProgressBar.now
  ) {
    self.label = label
    self.style = style
    self.write = write
    self.clock = clock
    start = clock()
    epochStart = start
  }

  public static func now() -> Double { monotonicSeconds() }

  /// Epoch and batch are 1-based: batch `batches` of epoch `epochs` is the end.
  public func update(
    epoch: Int, epochs: Int, batch: Int, batches: Int, examplesPerSecond: Double, loss: Double
  ) {
    last = (epoch, epochs, batch, batches, examplesPerSecond, loss)
    guard case .terminal(let width) = style else { return }
    let t = clock()
    if t - lastDraw < 0.1 && batch != batches { return }
    lastDraw = t
    let eta = Self.eta(epoch: epoch, epochs: epochs, batch: batch, batches: batches, elapsed: t - start)
    let barWidth = 20
    let filled = Int((Double(batch) / Double(max(batches, 1))) * Double(barWidth))
    let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: barWidth - filled)
    var line = "\(label) epoch \(epoch)/\(epochs) [\(bar)] \(batch)/\(batches)"
      + "  \(Self.rate(examplesPerSecond)) ex/s  loss \(Self.fixed(loss, 3))"
      + "  ETA \(Self.duration(eta))"
    if line.count > width - 1 { line = String(line.prefix(max(width - 1, 10))) }
    write("\r\u{1B}[K" + line)
    drawn = true
  }

  /// Seconds left after `elapsed` seconds, at batch `batch` of epoch `epoch` (both 1-based),
  /// if the rest goes at the same pace; nan before the first batch.
  public static func eta(epoch: Int, epochs: Int, batch: Int, batches: Int, elapsed: Double) -> Double {
    let done = Double(max(epoch - 1, 0) * batches + batch)
    let total = Double(max(epochs * batches, 1))
    let fraction = min(max(done / total, 0), 1)
    return fraction > 0 ? elapsed * (1 - fraction) / fraction : .nan
  }

  /// Ends an epoch with the book's summary (e.g. `loss 0.412, train acc 0.851, test acc 0.83`).
  public func endEpoch(summary: String) {
    let t = clock()
    let seconds = t - epochStart
    epochStart = t
    let epochText = last.map { "epoch \($0.epoch)/\($0.epochs)" } ?? "epoch"
    let rate = last.map { ", \(Self.rate($0.rate)) ex/s" } ?? ""
    let line = "\(label) \(epochText): \(summary) (\(Self.duration(seconds))\(rate))\n"
    switch style {
    case .terminal:
      write("\r\u{1B}[K" + line)
      drawn = false
      lastDraw = -Double.infinity
    case .lines:
      write(line)
    case .silent:
      break
    }
  }

  /// A one-off line (such as a time estimate) above the live bar; nothing when silent.
  public func note(_ text: String) {
    switch style {
    case .terminal:
      write("\r\u{1B}[K" + text + "\n")
      drawn = false
      lastDraw = -Double.infinity
    case .lines:
      write(text + "\n")
    case .silent:
      break
    }
  }

  /// `1h02m`, `3m07s`, `12s`; `--` when unknown.
  public static func formatDuration(_ seconds: Double) -> String { duration(seconds) }

  /// Clears the live line (call once, when training ends or fails).
  public func finish() {
    if case .terminal = style, drawn {
      write("\r\u{1B}[K")
      drawn = false
    }
  }

  static func terminalWidth() -> Int {
    var size = winsize()
    if ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
    return 100
  }

  static func fixed(_ v: Double, _ digits: Int) -> String {
    v.isFinite ? String(format: "%.\(digits)f", v) : "\(v)"
  }

  static func rate(_ v: Double) -> String {
    v.isFinite ? String(format: "%.0f", v) : "-"
  }

  /// `1h02m`, `3m07s`, `12s`; `--` when unknown.
  static func duration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "--" }
    let s = Int(seconds.rounded())
    if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
    if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
    if seconds < 10 { return String(format: "%.1fs", seconds) }
    return "\(s)s"
  }
}

/// write(2) under a name the `write` property does not shadow.
private func rawWrite(_ fd: Int32, _ buf: UnsafeMutableRawPointer?, _ count: Int) -> Int {
  write(fd, buf, count)
}
