import Foundation
import Testing

@testable import Notebook

@Suite struct RunEventLogTests {
  func lines(_ url: URL) throws -> [[String: Any]] {
    try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
      try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
  }

  @Test func writesOneObjectPerLineWithNonFiniteNumbersAsNull() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("events-\(UUID()).jsonl")
    defer { try? FileManager.default.removeItem(at: url) }
    let log = try RunEventLog(path: url.path)
    log.emit("cell", ["id": "a", "output": "line one\nline \"two\"\n", "seconds": 0.5])
    log.emit("test", ["network": "n", "testAccuracy": Double.nan])
    let events = try lines(url)
    #expect(events.count == 2)
    #expect(events[0]["event"] as? String == "cell")
    #expect(events[0]["output"] as? String == "line one\nline \"two\"\n")
    #expect(events[1]["testAccuracy"] is NSNull)
  }

  @Test func progressIsThrottledButEveryEpochsLastBatchIsWritten() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("events-\(UUID()).jsonl")
    defer { try? FileManager.default.removeItem(at: url) }
    let log = try RunEventLog(path: url.path)
    for batch in 1...10 {
      // Ten batches in 0.09 s: only the first and the epoch's last pass.
      log.progress(
        network: "n", epoch: 1, epochs: 1, batch: batch, batches: 10, examplesPerSecond: 100,
        loss: 1, etaSeconds: 1, now: Double(batch) * 0.01)
    }
    let batches = try lines(url).map { $0["batch"] as? Int ?? -1 }
    #expect(batches == [1, 10])
  }

  @Test func aFolderThatDoesNotExistIsAnError() {
    #expect(throws: NotebookError.self) {
      _ = try RunEventLog(path: "/nonexistent-\(UUID())/events.jsonl")
    }
  }
}
