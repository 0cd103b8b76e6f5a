#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
import CCrashTrace
import Foundation

/// Makes a trap inside a cell say where it happened.
///
/// A Swift runtime error ends the process with a signal (SIGILL or SIGTRAP), and nothing of
/// the notebook gets a say. While a section runs we install handlers that write, with
/// write(2) only (the only safe thing in a signal handler), the cell's output so far and a
/// message prepared at `beginCell` naming the section, the cell and its `.md` line, then
/// exit with status 1, the CLI's code for "a cell failed" (README, exit codes): a trap is a
/// cell's failure like a thrown error, only without a report. A signal outside any cell
/// (no message prepared) is re-raised with its default action, so it stays a crash.
enum CrashReporter {
  /// SIGABRT is the runtime's own stop, such as an allocation that failed: it may come from
  /// another thread than the cell's (the batch loader's), but the cell running is still the
  /// one whose work it was.
  static let signals: [Int32] = [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGFPE, SIGABRT]

  /// Installs the handlers and an alternate stack (a stack overflow also gets a message).
  /// With `backtraceLog`, a trap also writes the crashing thread's symbolized backtrace
  /// there and names the `.md` line of the statement that trapped (`CCrashTrace`).
  static func install(backtraceLog: String? = nil) {
    guard !state.installed else { return }
    state.installed = true
    prepareBacktrace(log: backtraceLog)
    if state.altStack == nil {
      let size = 1 << 16
      let stack = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
      state.altStack = stack
      var ss = stack_t()
      ss.ss_sp = stack
      ss.ss_size = size
      ss.ss_flags = 0
      _ = sigaltstack(&ss, nil)
    }
    if state.buffer == nil {
      state.buffer = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16)
    }
    for (i, signo) in signals.enumerated() {
      var action = sigaction()
      #if canImport(Glibc)
        action.__sigaction_handler.sa_sigaction = crashHandler
      #else
        action.__sigaction_u.__sa_sigaction = crashHandler
      #endif
      // SA_RESETHAND: the re-raised signal gets the default action (and a core, if enabled).
      // SA_SIGINFO: the handler gets the interrupted context, where the trap's address is.
      action.sa_flags = Int32(SA_ONSTACK) | Int32(bitPattern: UInt32(SA_RESETHAND)) | Int32(SA_SIGINFO)
      sigemptyset(&action.sa_mask)
      var old = sigaction()
      sigaction(signo, &action, &old)
      state.previous[i] = old
    }
  }

  /// Restores whatever handlers were there before.
  static func uninstall() {
    guard state.installed else { return }
    state.installed = false
    for (i, signo) in signals.enumerated() {
      var old = state.previous[i]
      sigaction(signo, &old, nil)
    }
    setCell(message: nil, savedFD: -1, captureFD: -1)
  }

  /// Prepares the message for the cell that starts now (called outside any handler).
  static func setCell(message: String?, savedFD: Int32, captureFD: Int32) {
    // Publish "no message" first so the handler never sees a freed buffer.
    let old = state.message
    state.messageLength = 0
    state.message = nil
    old?.deallocate()
    state.savedFD = savedFD
    state.captureFD = captureFD
    guard let message else { return }
    let bytes = Array(message.utf8)
    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes.count)
    buffer.initialize(from: bytes, count: bytes.count)
    state.message = buffer
    state.messageLength = bytes.count
  }

  /// The program that turns addresses into file and line: `CHAPTER_SYMBOLIZER`, else
  /// llvm-symbolizer (on the PATH or in the Swift toolchain), else binutils' addr2line.
  static func symbolizer(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
    if let chosen = environment["CHAPTER_SYMBOLIZER"] { return chosen.isEmpty ? nil : chosen }
    let path = (environment["PATH"] ?? "").split(separator: ":").map(String.init)
    let candidates = path.map { $0 + "/llvm-symbolizer" } + ["/opt/swift/usr/bin/llvm-symbolizer"]
      + path.map { $0 + "/addr2line" }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
  }

  private static func prepareBacktrace(log: String?) {
    state.backtraceReady = false
    guard let log, let tool = symbolizer() else { return }
    guard crash_trace_prepare(tool, log) == 0 else { return }
    let note = Array("  backtrace: \(log)\n".utf8)
    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: note.count)
    buffer.initialize(from: note, count: note.count)
    state.backtraceNote?.deallocate()
    (state.backtraceNote, state.backtraceNoteLength) = (buffer, note.count)
    state.backtraceReady = true
  }

  struct State {
    var installed = false
    var message: UnsafeMutablePointer<UInt8>?
    var messageLength = 0
    var savedFD: Int32 = -1
    var captureFD: Int32 = -1
    var buffer: UnsafeMutableRawPointer?
    var altStack: UnsafeMutableRawPointer?
    var backtraceReady = false
    /// "  backtrace: <log path>\n", prepared at `install`.
    var backtraceNote: UnsafeMutablePointer<UInt8>?
    var backtraceNoteLength = 0
    var previous: [sigaction] = Array(repeating: sigaction(), count: CrashReporter.signals.count)
  }

  // Safe: prepared by `install` / `beginCell` on the thread that runs the cells, before the
  // handler can read it; the handler only reads it, and ends the process.
  nonisolated(unsafe) static var state = State()
}

/// The handler itself: no allocation, no Swift runtime calls beyond reading the (already
/// initialised) state. The backtrace (`crash_trace_locate`) is the one exception to "no
/// locks": glibc's unwinder takes the dynamic loader's lock, which a trap in cell code does
/// not hold.
private func crashHandler(
  _ signo: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _ context: UnsafeMutableRawPointer?
) {
  let s = CrashReporter.state
  // stdio is not async-signal-safe, but a Swift runtime error (SIGILL/SIGTRAP) is raised by
  // Swift code on this thread, never from inside stdio, so flushing cannot deadlock on a lock
  // this thread holds; it saves what the cell printed just before the trap.
  if signo == SIGILL || signo == SIGTRAP { fflush(nil) }
  // Give the terminal what the cell printed before it died: fd 1 still points at the
  // capture file, so copy it to the real standard output.
  if s.savedFD >= 0, s.captureFD >= 0, let buffer = s.buffer {
    OutputCapture.copyCaptured(s.captureFD, to: s.savedFD, buffer: buffer, capacity: 4096)
    _ = dup2(s.savedFD, 1)
  }
  if let message = s.message {
    _ = write(2, message, s.messageLength)
  }
  let name: StaticString
  switch signo {
  case SIGILL: name = "SIGILL (a Swift runtime error such as an overflow or a failed precondition)\n"
  case SIGTRAP: name = "SIGTRAP (a Swift runtime error such as an overflow or a failed precondition)\n"
  case SIGSEGV: name = "SIGSEGV (a bad memory access, or a stack overflow)\n"
  case SIGBUS: name = "SIGBUS (a bad memory access)\n"
  case SIGFPE: name = "SIGFPE (an arithmetic error such as an integer division by zero)\n"
  case SIGABRT: name = "SIGABRT (the Swift runtime stopped the program, e.g. after a failed allocation)\n"
  default: name = "a fatal signal\n"
  }
  if s.message != nil {
    _ = write(2, name.utf8Start, name.utf8CodeUnitCount)
    if s.backtraceReady, let buffer = s.buffer, let note = s.backtraceNote {
      // The statement's line, from the backtrace's frames through `#sourceLocation`.
      let location = buffer.assumingMemoryBound(to: CChar.self), reason = location + 2048
      if crash_trace_locate(context, location, 2048, reason, 2048) == 0 {
        if reason[0] != 0 {
          let head: StaticString = "  Swift runtime failure: "
          _ = write(2, head.utf8Start, head.utf8CodeUnitCount)
          _ = write(2, reason, strlen(reason))
          _ = write(2, "\n", 1)
        }
        if location[0] != 0 {
          let at: StaticString = "  at "
          _ = write(2, at.utf8Start, at.utf8CodeUnitCount)
          _ = write(2, location, strlen(location))
          let tail: StaticString = " (the statement that stopped)\n"
          _ = write(2, tail.utf8Start, tail.utf8CodeUnitCount)
        }
        _ = write(2, note, s.backtraceNoteLength)
      }
    }
    _exit(1)
  }
  raise(signo)
}
