import FlyingFox
import Foundation

/// Fans the preview's messages out to every open page, and replays the current cycle's
/// messages to a page that connects late (or reconnects), so that it shows the same state.
///
/// Messages are JSON objects with an `event` field: the run's own events (`RunEventLog`),
/// forwarded as the run writes them, and the preview's (`cycle`, `build-failed`, `running`,
/// `run-ended`). A `cycle` message starts a new replay; of the `progress` messages only the
/// latest is kept, since each one replaces the last on the page.
///
/// Publishing happens on the preview's control thread, subscribing on the server's tasks:
/// one lock orders both, so every page gets the messages in the order they were published.
public final class LiveChannel: @unchecked Sendable {
  private let lock = NSLock()
  private var subscribers: [Int: AsyncStream<WSMessage>.Continuation] = [:]
  private var nextID = 0
  private var replay: [String] = []
  private var progressIndex: Int?
  /// Bounds the replay of one cycle (a training's points and cells are far fewer).
  private let replayLimit = 20_000

  public init() {}

  /// Sends the preview's own message `event` with `fields` (JSON-encodable values).
  func publish(_ event: String, _ fields: [String: Any] = [:]) {
    var object = fields
    object["event"] = event
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
      let text = String(data: data, encoding: .utf8)
    else { return }
    publish(json: text, startsCycle: event == "cycle")
  }

  /// Sends one line of the run's events file as it stands.
  func publishRunEvent(_ line: String) {
    publish(json: line, startsCycle: false)
  }

  private func publish(json: String, startsCycle: Bool) {
    let isProgress = json.contains("\"event\":\"progress\"")
    lock.lock()
    defer { lock.unlock() }
    if startsCycle {
      replay.removeAll(keepingCapacity: true)
      progressIndex = nil
    }
    if isProgress, let index = progressIndex {
      replay[index] = json
    } else if replay.count < replayLimit {
      if isProgress { progressIndex = replay.count }
      replay.append(json)
    }
    for continuation in subscribers.values { continuation.yield(.text(json)) }
  }

  /// A stream of every message from now on, after the current cycle's replay.
  func subscribe() -> AsyncStream<WSMessage> {
    let (stream, continuation) = AsyncStream<WSMessage>.makeStream(bufferingPolicy: .unbounded)
    lock.lock()
    let id = nextID
    nextID += 1
    for message in replay { continuation.yield(.text(message)) }
    subscribers[id] = continuation
    lock.unlock()
    continuation.onTermination = { [weak self] _ in self?.unsubscribe(id) }
    return stream
  }

  /// Ends every page's stream (the server is stopping).
  func finishAll() {
    lock.lock()
    let all = Array(subscribers.values)
    subscribers.removeAll()
    lock.unlock()
    for continuation in all { continuation.finish() }
  }

  private func unsubscribe(_ id: Int) {
    lock.lock()
    subscribers[id] = nil
    lock.unlock()
  }

  /// How many pages are connected (for the terminal's messages and the tests).
  var subscriberCount: Int {
    lock.lock()
    defer { lock.unlock() }
    return subscribers.count
  }
}

/// The WebSocket side of a page's connection: the channel's messages go out; what the page
/// sends is read and ignored (the page only listens), until it closes.
struct LiveSocket: WSMessageHandler {
  let channel: LiveChannel

  func makeMessages(for client: AsyncStream<WSMessage>) async throws -> AsyncStream<WSMessage> {
    let messages = channel.subscribe()
    return AsyncStream { continuation in
      let forward = Task {
        for await message in messages { continuation.yield(message) }
        continuation.finish()
      }
      let drain = Task {
        for await _ in client {}
        forward.cancel()
        continuation.finish()
      }
      continuation.onTermination = { _ in
        forward.cancel()
        drain.cancel()
      }
    }
  }
}
