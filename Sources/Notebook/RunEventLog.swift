import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A run's progress as JSON lines, for a program that watches the run from outside
/// (`chapter run --events FILE`): one object per line, with an `event` field saying what it is.
///
/// - `start`: `section`, `slug`, `cells` (the cell ids, in order), before the first cell;
/// - `cell`: `id`, `line` (in the `.md`), `status` (`ok` or `failed`), `output`, `seconds`,
///   when a cell ends;
/// - `progress`: `network`, `epoch`, `epochs`, `batch`, `batches`, `examplesPerSecond`, `loss`,
///   `etaSeconds`, at most four times a second during a training, and at each epoch's end;
/// - `point`: `network`, `epoch` (fractional), `loss`, `trainAccuracy`, each point of the
///   training curve as it is drawn (five per epoch, as the book's plot adds them);
/// - `test`: `network`, `epoch`, `testAccuracy`, after each epoch;
/// - `report`: `html`, `markdown`, `exitCode`, once the reports are written.
///
/// Each line is written whole by one `write(2)` on a file opened for appending, so a reader
/// polling the file sees only complete lines before each newline.
public final class RunEventLog {
  private let fd: Int32
  private var lastProgress = -Double.infinity

  /// Opens (creating or truncating) `path`.
  /// - Throws: `NotebookError` when the file cannot be written.
  public init(path: String) throws {
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw NotebookError("--events \(path): cannot write there (\(String(cString: strerror(errno))))")
    }
  }

  deinit { close(fd) }

  /// Writes one event: `fields` plus `"event": name`. Values must be JSON-encodable
  /// (strings, numbers, booleans, arrays and dictionaries of them); a non-finite number is
  /// written as null, which JSON has instead.
  public func emit(_ name: String, _ fields: [String: Any]) {
    var object = fields.mapValues(Self.finite)
    object["event"] = name
    guard
      var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    else { return }
    data.append(0x0A)
    data.withUnsafeBytes { bytes in
      var offset = 0
      while offset < bytes.count {
        let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if n <= 0 { return }
        offset += n
      }
    }
  }

  /// A `progress` event, unless one was written less than a quarter second ago (the last
  /// batch of an epoch always gets one).
  public func progress(
    network: String, epoch: Int, epochs: Int, batch: Int, batches: Int,
    examplesPerSecond: Double, loss: Double, etaSeconds: Double, now: Double
  ) {
    guard batch == batches || now - lastProgress >= 0.25 else { return }
    lastProgress = now
    emit("progress", [
      "network": network, "epoch": epoch, "epochs": epochs, "batch": batch, "batches": batches,
      "examplesPerSecond": examplesPerSecond, "loss": loss, "etaSeconds": etaSeconds,
    ])
  }

  private static func finite(_ value: Any) -> Any {
    if let d = value as? Double, !d.isFinite { return NSNull() }
    return value
  }
}
