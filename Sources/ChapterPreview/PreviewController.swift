import Foundation
import PreviewSetup

/// Watches the chapter files and, on each save, rebuilds the package and re-runs the section
/// with the new binary, telling the pages (`LiveChannel`) and the terminal what happens.
///
/// Two threads: one polls the files and counts changes (`generation`); the other runs the
/// cycles, one at a time. A cycle stops its build or run as soon as the count moves on, so
/// the latest save is always the one that ends up built and run.
public final class PreviewController: @unchecked Sendable {
  let settings: PreviewSettings
  let channel: LiveChannel
  private let scratch: String
  private let log: @Sendable (String) -> Void

  // Guarded by `lock`: written by the watcher thread and `stop`, read by the cycle thread.
  private let lock = NSLock()
  private var generation = 1
  private var changedFiles: [String] = []
  private var stopping = false
  private let cyclesEnded = DispatchSemaphore(value: 0)

  /// - Parameter log: writes one line for the terminal.
  public init(
    settings: PreviewSettings, channel: LiveChannel, log: @escaping @Sendable (String) -> Void
  ) throws {
    self.settings = settings
    self.channel = channel
    self.log = log
    scratch = FileManager.default.temporaryDirectory
      .appendingPathComponent("chapter-preview-\(getpid())-\(UUID().uuidString.prefix(8))").path
    do {
      try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    } catch {
      throw PreviewError("cannot create a temporary folder \(scratch): \(error.localizedDescription)")
    }
  }

  /// Starts watching and runs the first cycle at once (the files may have changed since
  /// the last build).
  public func start() {
    Thread.detachNewThread { [self] in watchFiles() }
    Thread.detachNewThread { [self] in runCycles() }
  }

  /// Stops the current build or run (the reports stay as the last complete run wrote them)
  /// and returns once it has ended.
  public func stop() {
    lock.lock()
    stopping = true
    lock.unlock()
    cyclesEnded.wait()
    channel.finishAll()
    try? FileManager.default.removeItem(atPath: scratch)
  }

  private var isStopping: Bool {
    lock.lock()
    defer { lock.unlock() }
    return stopping
  }

  private func watchFiles() {
    var snapshot = ChapterSnapshot(folder: settings.chaptersFolder)
    while !isStopping {
      usleep(250_000)
      let now = ChapterSnapshot(folder: settings.chaptersFolder)
      let changed = snapshot.changedFiles(in: now)
      guard !changed.isEmpty else { continue }
      snapshot = now
      lock.lock()
      generation += 1
      changedFiles.append(contentsOf: changed.filter { !changedFiles.contains($0) })
      lock.unlock()
    }
  }

  private func runCycles() {
    var handled = 0
    var cycle = 0
    while !isStopping {
      lock.lock()
      let pending = generation != handled
      lock.unlock()
      guard pending else {
        usleep(100_000)
        continue
      }
      // An editor's save can be several writes: let them settle into one cycle.
      usleep(200_000)
      lock.lock()
      let current = generation
      let files = changedFiles
      changedFiles = []
      lock.unlock()
      handled = current
      cycle += 1
      let reason =
        files.isEmpty ? "start" : files.map { "Chapters/" + $0 }.joined(separator: ", ") + " changed"
      runCycle(cycle, reason: reason) { [self] in
        lock.lock()
        defer { lock.unlock() }
        return stopping || generation != current
      }
    }
    cyclesEnded.signal()
  }

  /// One save's work: build, and when that succeeds, run the section.
  private func runCycle(_ cycle: Int, reason: String, superseded: () -> Bool) {
    channel.publish("cycle", ["cycle": cycle, "reason": reason, "section": settings.title])
    log("\(reason): building")
    let buildLog = scratch + "/build.log"
    let build = ChildProcess(
      arguments: settings.buildCommand(product: "chapter"),
      directory: settings.packageRoot, stdoutPath: buildLog, stderrPath: buildLog)
    let built: ChildProcess.Outcome
    do {
      built = try build.run(shouldStop: superseded)
    } catch {
      report(cycle, problem: "cannot start \(settings.swift): \(error.localizedDescription)")
      return
    }
    if built.stopped {
      channel.publish("run-ended", ["cycle": cycle, "cancelled": true, "exitCode": Int(built.status)])
      log(isStopping ? "build stopped" : "build stopped: a newer save replaces it")
      return
    }
    guard built.status == 0 else {
      let text = (try? String(contentsOfFile: buildLog, encoding: .utf8)) ?? ""
      let errors = BuildDiagnostics.errors(in: text, packageRoot: settings.packageRoot)
      channel.publish(
        "build-failed",
        ["cycle": cycle, "diagnostics": errors.map(\.json), "log": Self.lastLines(text, 80)])
      if let first = errors.first {
        let more = errors.count > 1 ? " (and \(errors.count - 1) more)" : ""
        log("build failed: \(first.file):\(first.line):\(first.column): error: \(first.message)\(more)")
      } else {
        log("build failed (exit \(built.status)); its log is in the page")
      }
      return
    }
    runSection(cycle, superseded: superseded)
  }

  private func runSection(_ cycle: Int, superseded: () -> Bool) {
    let eventsPath = scratch + "/events.jsonl"
    let stderrPath = scratch + "/run.stderr"
    _ = FileManager.default.createFile(atPath: eventsPath, contents: nil)
    let arguments =
      [settings.binary, "run", settings.section] + settings.runArguments
      + ["--events", eventsPath, "--quiet"]
    channel.publish("running", ["cycle": cycle, "command": Self.commandLine(arguments)])
    log("running \(settings.title)")
    guard var tail = try? LineTail(path: eventsPath) else {
      report(cycle, problem: "cannot read the run's events file \(eventsPath)")
      return
    }
    defer { tail.close() }
    let child = ChildProcess(
      arguments: arguments, directory: settings.packageRoot, stdoutPath: "/dev/null",
      stderrPath: stderrPath)
    let started = ChildProcess.now()
    let outcome: ChildProcess.Outcome
    do {
      outcome = try child.run(shouldStop: superseded) {
        for line in tail.newLines() { channel.publishRunEvent(line) }
      }
    } catch {
      report(cycle, problem: "cannot start \(settings.binary): \(error.localizedDescription)")
      return
    }
    let seconds = ChildProcess.now() - started
    let raw = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
    // Paths inside the package are shown as the chapters name them (Chapters/X.md).
    let stderr = raw.replacingOccurrences(of: settings.packageRoot + "/", with: "")
    // Bad input names its .md line as a compiler would (`chapter: PATH:LINE: error: …`).
    let located = raw.replacingOccurrences(of: "chapter: /", with: "/")
    var diagnostics: [BuildDiagnostic] = []
    if outcome.status != 0 && !outcome.stopped {
      diagnostics = BuildDiagnostics.errors(in: located, packageRoot: settings.packageRoot)
      if let crash = BuildDiagnostics.crash(in: raw, packageRoot: settings.packageRoot) {
        diagnostics.append(crash)
      }
    }
    channel.publish(
      "run-ended",
      [
        "cycle": cycle, "exitCode": Int(outcome.status), "cancelled": outcome.stopped,
        "seconds": seconds, "stderr": Self.lastLines(stderr, 60),
        "diagnostics": diagnostics.map(\.json),
      ])
    if outcome.stopped {
      log(isStopping ? "run stopped after its last batch" : "run stopped: a newer save replaces it")
    } else if outcome.status == 0 {
      log(String(format: "done in %.1f s: %@/%@", seconds, settings.outputFolder, settings.reportName))
    } else {
      let first = stderr.split(separator: "\n").first { $0.hasPrefix("chapter:") }
      log("run failed (exit \(outcome.status))" + (first.map { ": " + $0 } ?? ""))
    }
  }

  private func report(_ cycle: Int, problem: String) {
    channel.publish("run-ended", ["cycle": cycle, "exitCode": -1, "cancelled": false, "stderr": problem])
    log(problem)
  }

  static func lastLines(_ text: String, _ count: Int) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).suffix(count)
      .joined(separator: "\n")
  }

  static func commandLine(_ arguments: [String]) -> String {
    arguments.map { word in
      word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=,:+@".contains($0) } && !word.isEmpty
        ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }.joined(separator: " ")
  }
}
