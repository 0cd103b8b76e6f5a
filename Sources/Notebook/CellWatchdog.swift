import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `--cell-timeout`: stops a cell that runs past its time, as papermill's and nbval's cell
/// timeouts do.
///
/// A cell is straight-line Swift on the main thread (a training loop, or a `while` a reader
/// got wrong), with no point at which it could be asked to stop, so the watchdog stops the
/// process: from a timer thread it hands the terminal what the cell printed so far, says
/// which cell ran past which limit, and exits with status 1, the code for a failed cell.
/// The section's report is not written; reports of sections that finished before stay as
/// they are (they are written atomically), and a training's last epoch checkpoint stays
/// for `--resume`.
final class CellWatchdog: @unchecked Sendable {
  private let lock = NSLock()
  /// Bumped at every arm and disarm: a timer that fires for an earlier cell does nothing.
  private var generation = 0
  private let queue = DispatchQueue(label: "chapter.cell-watchdog")
  private var timer: DispatchSourceTimer?

  /// Starts the clock for the cell that begins now. `message` names the cell and its line;
  /// `savedFD` and `captureFD` are the real standard output and the cell's capture file.
  func arm(seconds: Double, message: String, savedFD: Int32, captureFD: Int32) {
    lock.lock()
    defer { lock.unlock() }
    generation += 1
    let armed = generation
    timer?.cancel()
    let t = DispatchSource.makeTimerSource(queue: queue)
    t.schedule(deadline: .now() + seconds)
    t.setEventHandler { [weak self] in
      self?.expire(armed, message: message, savedFD: savedFD, captureFD: captureFD)
    }
    timer = t
    t.resume()
  }

  /// The cell ended in time.
  func disarm() {
    lock.lock()
    defer { lock.unlock() }
    generation += 1
    timer?.cancel()
    timer = nil
  }

  private func expire(_ armed: Int, message: String, savedFD: Int32, captureFD: Int32) {
    lock.lock()
    // Held to the end: the cell cannot end (and close its capture) while this runs.
    guard armed == generation else {
      lock.unlock()
      return
    }
    fflush(nil)
    if savedFD >= 0, captureFD >= 0 {
      // Never freed: the process exits below.
      let buffer = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 16)
      OutputCapture.copyCaptured(captureFD, to: savedFD, buffer: buffer, capacity: 65536)
    }
    FileHandle.standardError.write(Data(message.utf8))
    _exit(1)
  }
}
