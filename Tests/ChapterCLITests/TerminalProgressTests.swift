import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The progress bar as a reader sees it: the real `chapter run 7.5 --profile smoke` with its
/// standard error on a pseudo-terminal (a live line redrawn with `\r`), on a file (one plain
/// line per epoch, no control characters), and with `--quiet` (nothing).
@Suite(.serialized) struct TerminalProgressTests {
  /// The live line `ProgressBar.update` draws: `\r`, erase to the end of the line, then
  /// `LABEL epoch E/N [####....] B/BATCHES  RATE ex/s  loss L  ETA T`.
  nonisolated(unsafe) static let liveLine = #/\r\x1B\[K(?<label>[^\r\n\x1B]+) epoch (?<epoch>\d+)/(?<epochs>\d+) \[(?<bar>[#.]{20})\] (?<batch>\d+)/(?<batches>\d+)  (?<rate>\d+|-) ex/s  loss (?<loss>\d+\.\d{3}|nan|inf)  ETA (?<eta>[0-9hms.]+|--)/#

  /// The line `ProgressBar.endEpoch` writes: `LABEL epoch E/N: loss ..., train acc ...,
  /// test acc ... (TIME, RATE ex/s)`.
  static let summary =
    #"[^\r\n\x1B]+ epoch \d+/\d+: loss \d+\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3} \([0-9hms.]+, (?:\d+|-) ex/s\)"#
  nonisolated(unsafe) static let epochLine = try! Regex(summary)
  /// On a terminal the summary replaces the live line (`\r`, erase) and ends it.
  nonisolated(unsafe) static let terminalEpochLine = try! Regex(#"\r\x1B\[K"# + summary + "\n")

  /// Section 7.5 trains two networks; both show a bar.
  static let networks = 2

  @Test func liveBarOnATerminal() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.runOnTerminal(["run", "7.5", "--profile", "smoke", "--output", dir.path])
    #expect(result.exitCode == 0, "\(result.stderr)")
    let terminal = result.stderr

    let draws = terminal.matches(of: Self.liveLine)
    #expect(draws.count >= Self.networks, "no live bar in: \(terminal.debugDescription)")
    // Every network's bar reached its last batch (the last batch is always drawn).
    let labels = Set(draws.map { String($0.output.label) })
    #expect(labels.count == Self.networks, "\(labels)")
    for label in labels {
      // Redrawn in place: the first batch (always drawn) and the last, at least.
      let mine = draws.filter { String($0.output.label) == label }
      #expect(mine.count >= 2, "\(label)")
      #expect(mine.first?.output.batch == "1", "\(label)")
      let last = try #require(mine.last)
      #expect(last.output.batch == last.output.batches, "\(label)")
      #expect(last.output.bar == "####################", "\(label)")
      #expect(last.output.epoch == "1" && last.output.epochs == "1")
      #expect(Int(last.output.rate).map { $0 > 0 } == true, "\(label): \(last.output.rate)")
    }
    // Each epoch ends with its summary, written over the live line.
    #expect(terminal.matches(of: Self.terminalEpochLine).count == Self.networks, "\(terminal.debugDescription)")
    #expect(terminal.split(separator: "\n").filter { $0.contains(" epoch 1/1: loss ") }.count == Self.networks)
    // A live line is only ever followed by another redraw or a summary, never by a
    // newline of its own: the bar does not scroll the terminal.
    for draw in draws {
      let after = terminal[draw.range.upperBound...]
      #expect(after.hasPrefix("\r"), "\(after.prefix(80).debugDescription)")
    }
  }

  @Test func onePlainLinePerEpochWhenNotATerminal() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    // Standard error goes to a file: not a terminal.
    let result = try CLI.run(
      ["run", "7.5", "--profile", "smoke", "--set", "numEpochs=2", "--output", dir.path])
    #expect(result.exitCode == 0, "\(result.stderr)")
    #expect(!result.stderr.contains("\r"), "\(result.stderr.debugDescription)")
    #expect(!result.stderr.contains("\u{1B}"), "\(result.stderr.debugDescription)")
    #expect(result.stderr.matches(of: Self.liveLine).isEmpty)
    let epochLines = result.stderr.split(separator: "\n").filter { $0.contains(" epoch ") }
    #expect(epochLines.count == Self.networks * 2, "\(result.stderr)")
    for line in epochLines {
      // The whole line is one summary, from its first character to its last.
      #expect(line.wholeMatch(of: Self.epochLine) != nil, "\(line)")
    }
    #expect(epochLines.filter { $0.contains(" epoch 1/2: ") }.count == Self.networks)
    #expect(epochLines.filter { $0.contains(" epoch 2/2: ") }.count == Self.networks)
  }

  @Test func quietPrintsNoProgressEvenOnATerminal() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.runOnTerminal(
      ["run", "7.5", "--profile", "smoke", "--output", dir.path, "--quiet"])
    #expect(result.exitCode == 0, "\(result.stderr)")
    #expect(result.stderr.isEmpty, "\(result.stderr.debugDescription)")
    // The run did train: its report has the log lines.
    let md = try String(contentsOf: dir.appendingPathComponent("7.5-batch-norm.md"), encoding: .utf8)
    #expect(md.contains("train acc"))
  }
}

extension CLI {
  /// Runs `chapter` with its standard error on a pseudo-terminal of `columns` columns (so
  /// that `isatty(2)` holds and the terminal has a width), standard output on a file.
  /// `stderr` is everything written to the terminal, byte for byte: output processing is
  /// off, so a `\n` is not turned into `\r\n`.
  static func runOnTerminal(_ arguments: [String], columns: UInt16 = 200) throws -> CLIResult {
    var master: Int32 = -1
    var slave: Int32 = -1
    var size = winsize(ws_row: 40, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
    guard openpty(&master, &slave, nil, nil, &size) == 0 else {
      throw HarnessError(message: "openpty failed: errno \(errno)")
    }
    defer { close(master) }
    var attributes = termios()
    tcgetattr(slave, &attributes)
    attributes.c_oflag &= ~tcflag_t(OPOST)
    tcsetattr(slave, TCSANOW, &attributes)

    let process = makeProcess(arguments)
    let out = try CaptureFile("stdout")
    defer { out.remove() }
    process.standardOutput = out.handle
    process.standardError = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
    do {
      try process.run()
    } catch {
      close(slave)
      throw error
    }
    // Only the child holds the terminal now: reading the master ends (EIO) when it exits.
    close(slave)
    try out.handle.close()
    var terminal = Data()
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let n = read(master, &buffer, buffer.count)
      if n > 0 {
        terminal.append(contentsOf: buffer[0..<n])
      } else if n < 0 && errno == EINTR {
        continue
      } else {
        break
      }
    }
    process.waitUntilExit()
    return result(of: process, stdout: out.contents(), stderr: terminal)
  }
}

struct HarnessError: Error, CustomStringConvertible {
  var message: String
  var description: String { message }
}
