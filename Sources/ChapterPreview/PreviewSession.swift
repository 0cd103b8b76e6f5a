import Common
import Foundation
import PreviewSetup

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `chapter preview`: starts the server, prints its address, rebuilds and re-runs on every
/// save, and stops on Ctrl-C (SIGINT) or SIGTERM after the run in progress has stopped.
public enum PreviewSession {
  /// Serves until interrupted.
  /// - Throws: `PreviewError` when the port is taken or the server cannot start.
  public static func serve(_ settings: PreviewSettings, port: UInt16) throws {
    // A page that closes its connection mid-write must not end the process.
    signal(SIGPIPE, SIG_IGN)
    let channel = LiveChannel()
    let server = try PreviewServer(settings: settings, channel: channel, port: port)
    let listening: UInt16
    do {
      listening = try waitFor { try await server.start() }
    } catch {
      if PreviewServer.isAddressInUse(error) {
        throw PreviewError(
          "port \(port) on 127.0.0.1 is taken (by another preview or server?); choose "
            + "another with --port, or --port 0 for any free one")
      }
      throw PreviewError("cannot serve on 127.0.0.1:\(port): \(error)")
    }
    say("chapter preview: \(settings.title) on http://127.0.0.1:\(listening)/")
    say(
      "chapter preview: watching \(settings.packageRoot)/Chapters/*.md; each save rebuilds "
        + "and re-runs the section. Ctrl-C stops.")
    let controller = try PreviewController(settings: settings, channel: channel) { line in
      say(timestamp() + " " + line)
    }

    Interruption.install()
    controller.start()
    while !Interruption.requested { usleep(100_000) }
    say("chapter preview: stopping (the reports stay as the last complete run wrote them)")
    controller.stop()
    try? waitFor { await server.stop() }
    say("chapter preview: stopped")
  }

  static func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
  }

  static func timestamp() -> String {
    let formatter = DateFormatter()
    formatter.dateFormat = "HH:mm:ss"
    return formatter.string(from: Date())
  }

  /// Runs `body` on the concurrency pool and blocks this thread (the main one, which the
  /// pool does not use) until it returns.
  static func waitFor<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let box = Locked<Result<T, Error>?>(nil)
    Task {
      do { box.set(.success(try await body())) } catch { box.set(.failure(error)) }
      done.signal()
    }
    done.wait()
    return try box.get()!.get()
  }
}
