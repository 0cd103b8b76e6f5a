import Foundation

/// Ctrl-C (SIGINT) and SIGTERM: the first one only raises a flag, which the program polls
/// (training after every batch, so that it can stop cleanly, save a checkpoint and tell the
/// reader how to resume; `chapter preview` every 100 ms). A second signal ends the process
/// at once, as the default action would.
///
/// A handler, not `SIG_IGN` with a dispatch source: an ignored signal stays ignored in the
/// programs this one starts, while a handled one is reset to its default action in them.
///
/// The flag lives in memory allocated before the handler is installed: the handler itself
/// only stores a word, which is async-signal-safe.
public enum Interruption {
  // Safe: a single word, written by the handler and read by the polling thread (sig_atomic_t).
  nonisolated(unsafe) private static let flag: UnsafeMutablePointer<sig_atomic_t> = {
    let p = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
    p.initialize(to: 0)
    return p
  }()
  // Safe: `install` runs on the main thread before any run starts.
  nonisolated(unsafe) private static var installed = false

  /// Installs the handlers (once per process; later calls do nothing, and a signal that
  /// already arrived stays noted).
  public static func install() {
    _ = flag
    guard !installed else { return }
    installed = true
    // A parent may start us with these signals blocked (the mask is inherited): unblock
    // them on this thread, which receives them then.
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
    for signo in [SIGINT, SIGTERM] {
      signal(signo) { signo in
        if Interruption.flag.pointee != 0 {
          signal(signo, SIG_DFL)
          raise(signo)
          return
        }
        Interruption.flag.pointee = signo
      }
    }
  }

  /// Whether SIGINT or SIGTERM arrived since `install()`.
  public static var requested: Bool { flag.pointee != 0 }

  /// The signal's name (`SIGINT`, `SIGTERM`), or nil when none arrived.
  public static var signalName: String? {
    switch flag.pointee {
    case 0: nil
    case SIGINT: "SIGINT (Ctrl-C)"
    case SIGTERM: "SIGTERM"
    default: "signal \(flag.pointee)"
    }
  }

  /// Raises the flag as a signal would (tests, and a second way in for embedders).
  public static func request(_ signo: Int32 = SIGINT) { flag.pointee = signo }

  /// Clears the flag (the next section of a build starts afresh only when nothing arrived).
  public static func clear() { flag.pointee = 0 }
}
