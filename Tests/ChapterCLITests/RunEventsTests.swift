import Foundation
import Testing

/// `chapter run --events FILE`: the run's progress as JSON lines, checked against the report
/// the same run writes.
@Suite(.serialized) struct RunEventsTests {
  /// The lines of an events file, each decoded to a dictionary.
  static func events(at url: URL) throws -> [[String: Any]] {
    let text = try String(contentsOf: url, encoding: .utf8)
    #expect(text.hasSuffix("\n"), "every event ends its line")
    return try text.split(separator: "\n").map { line in
      try #require(
        try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        "not a JSON object: \(line)")
    }
  }

  /// Two JSON numbers equal up to how each encoder prints a double.
  func close(_ a: Any?, _ b: Any?) -> Bool {
    guard let x = (a as? NSNumber)?.doubleValue, let y = (b as? NSNumber)?.doubleValue else {
      return false
    }
    return abs(x - y) <= 1e-12 * max(abs(x), abs(y), 1)
  }

  @Test func smokeRunWritesEveryCellAndTheCurveAsItGoes() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let eventsFile = dir.appendingPathComponent("events.jsonl")
    let output = dir.appendingPathComponent("out")
    let result = try CLI.run([
      "run", "7.5", "--profile", "smoke", "--output", output.path, "--quiet", "--no-cache",
      "--events", eventsFile.path,
    ])
    #expect(result.exitCode == 0, "stderr: \(result.stderr)")
    let events = try Self.events(at: eventsFile)
    let kinds = events.map { $0["event"] as? String ?? "?" }
    #expect(kinds.first == "start")
    #expect(kinds.last == "report")

    // One `cell` event per cell, in the order the start event lists them, each with the
    // output the report shows.
    let cellIds = try #require(events.first?["cells"] as? [String])
    let cells = events.filter { $0["event"] as? String == "cell" }
    #expect(cells.map { $0["id"] as? String ?? "" } == cellIds)
    #expect(cells.allSatisfy { $0["status"] as? String == "ok" })
    let record = try #require(
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: output.appendingPathComponent("7.5-batch-norm.json")))
        as? [String: Any])
    let trainings = try #require(record["trainings"] as? [[String: Any]])
    #expect(trainings.count == 2)

    // Each training's curve points, in order, as the report's summary has them; one test
    // point per epoch; progress with a finite rate.
    for training in trainings {
      let network = try #require(training["network"] as? String)
      let points = events.filter {
        $0["event"] as? String == "point" && $0["network"] as? String == network
      }
      let curve = try #require(training["trainingCurve"] as? [[String: Any]], "\(training.keys)")
      #expect(points.count == curve.count && curve.count >= 5, "\(network)")
      for (p, c) in zip(points, curve) {
        #expect(close(p["epoch"], c["epoch"]))
        #expect(close(p["loss"], c["loss"]))
      }
      let tests = events.filter {
        $0["event"] as? String == "test" && $0["network"] as? String == network
      }
      #expect(tests.count == 1)
      #expect(close(tests.first?["testAccuracy"], training["testAccuracy"]))
      let progress = events.filter {
        $0["event"] as? String == "progress" && $0["network"] as? String == network
      }
      #expect(!progress.isEmpty)
      #expect(progress.allSatisfy { ($0["examplesPerSecond"] as? Double ?? 0) > 0 })
      #expect(progress.last?["batch"] as? Int == progress.last?["batches"] as? Int)
    }
    let report = try #require(events.last)
    #expect(report["exitCode"] as? Int == 0)
    #expect((report["html"] as? String)?.hasSuffix("7.5-batch-norm.html") == true)
  }

  @Test func anUnwritableEventsFileIsBadInputBeforeAnyCell() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run([
      "run", "7.5", "--profile", "smoke", "--output", dir.path, "--quiet",
      "--events", dir.appendingPathComponent("missing/events.jsonl").path,
    ])
    #expect(result.exitCode == 2)
    #expect(result.stderr.contains("--events"))
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("7.5-batch-norm.html").path))
  }

  /// `build` and `sweep` run several sections or combinations, whose events would overwrite
  /// each other's in one file: refused as bad usage, before anything runs.
  @Test func eventsAreForOneRunOnly() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = dir.appendingPathComponent("events.jsonl").path
    for command in [["build"], ["sweep", "7.5", "--set", "lr=0.1,0.2"]] {
      let result = try CLI.run(
        command + ["--profile", "smoke", "--output", dir.path, "--quiet", "--events", file])
      #expect(result.exitCode == 2, "\(command): \(result.stderr)")
      #expect(result.stderr.contains("--events is for `chapter run`"), "\(result.stderr)")
      #expect(!FileManager.default.fileExists(atPath: file))
    }
  }
}
