import Foundation
import Testing

/// The training cache through the real binary, at the smoke profile: a second run loads what
/// the first trained and shows the same numbers; `--no-cache`, another engine and a damaged
/// entry train again; `chapter cache list|clear`, the size limit, and `build`.
@Suite(.serialized) struct TrainingCacheTests {
  static func run(_ dir: URL, _ extra: [String] = [], environment: [String: String] = [:])
    throws -> CLIResult
  {
    let result = try CLI.run(
      ["run", "7.5", "--profile", "smoke", "--output", dir.path] + extra, environment: environment)
    #expect(result.exitCode == 0, "\(result.stderr)")
    return result
  }

  static func cachedNotes(_ stdout: String) -> [String] {
    stdout.split(separator: "\n").map(String.init).filter { $0.contains(": cached from ") }
  }

  /// The report without what differs between any two runs (dates, times, speeds) and the
  /// cache's own notes.
  static func comparable(_ report: String) -> [String] {
    report.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter {
      !$0.contains(": cached from ") && !$0.contains("examples/sec") && !$0.hasPrefix("| Cells")
        && !$0.hasPrefix("| Date") && !$0.hasPrefix("| Wall time")
        && !$0.contains("examples/s,") && !$0.hasPrefix("*Cell `")
    }
  }

  @Test func aSecondRunLoadsBothTrainingsAndShowsTheSameNumbers() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let first = try Self.run(dir)
    #expect(Self.cachedNotes(first.stdout).isEmpty, "\(first.stdout)")
    let report = dir.appendingPathComponent("7.5-batch-norm.md")
    let firstReport = try String(contentsOf: report, encoding: .utf8)
    let figures = try (1...2).map {
      try String(contentsOf: dir.appendingPathComponent("7.5-batch-norm-fig\($0).svg"), encoding: .utf8)
    }

    let second = try Self.run(dir)
    let notes = Self.cachedNotes(second.stdout)
    #expect(notes.count == 2, "\(second.stdout)")
    #expect(notes.allSatisfy { $0.contains("of training; --no-cache retrains") }, "\(notes)")
    // The same log lines and learned values (7.5 prints gamma and beta after training).
    #expect(DeterminismTests.trainingLines(second.stdout) == DeterminismTests.trainingLines(first.stdout))
    #expect(!DeterminismTests.trainingLines(first.stdout).isEmpty)
    let secondReport = try String(contentsOf: report, encoding: .utf8)
    let (a, b) = (Self.comparable(firstReport), Self.comparable(secondReport))
    #expect(a == b, "\(b.difference(from: a))")
    #expect(secondReport.contains(", cached from "), "the header names the cached trainings")
    for (i, figure) in figures.enumerated() {
      let again = try String(
        contentsOf: dir.appendingPathComponent("7.5-batch-norm-fig\(i + 1).svg"), encoding: .utf8)
      #expect(again == figure, "figure \(i + 1) differs")
    }
    // Nothing was trained: no epoch went by (how much faster that is is measured, not
    // asserted: BENCHMARKS.md).
    #expect(first.stderr.contains("epoch 1/1:"), "\(first.stderr)")
    #expect(!second.stderr.contains("epoch 1/1:"), "\(second.stderr)")
    let index = try String(contentsOf: dir.appendingPathComponent("index.md"), encoding: .utf8)
    #expect(index.contains("cached from"), "\(index)")

    // --no-cache trains again, to the same numbers, and leaves the entries as they were.
    let entries = dir.appendingPathComponent(".cache/trainings/7.5-batch-norm").path
    let before = try FileManager.default.contentsOfDirectory(atPath: entries).sorted()
    let fresh = try Self.run(dir, ["--no-cache"])
    #expect(Self.cachedNotes(fresh.stdout).isEmpty, "\(fresh.stdout)")
    #expect(DeterminismTests.trainingLines(fresh.stdout) == DeterminismTests.trainingLines(first.stdout))
    #expect(try FileManager.default.contentsOfDirectory(atPath: entries).sorted() == before)
  }

  @Test func anotherEngineOrSeedMissesAndADamagedEntryIsRetrained() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let first = try Self.run(dir)
    let expected = DeterminismTests.trainingLines(first.stdout)

    let otherEngine = try Self.run(dir, environment: ["CHAPTER_ENGINE_IDENTITY": "simulated-change"])
    #expect(Self.cachedNotes(otherEngine.stdout).isEmpty, "\(otherEngine.stdout)")
    let otherSeed = try Self.run(dir, ["--seed", "3"])
    #expect(Self.cachedNotes(otherSeed.stdout).isEmpty, "\(otherSeed.stdout)")

    // Damage the stored first training of the default engine and seed: one byte of its
    // tensors.
    let folder = dir.appendingPathComponent(".cache/trainings/7.5-batch-norm")
    let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    #expect(names.count == 6, "\(names)")
    let list = try CLI.run(["cache", "list", "7.5", "--output", dir.path])
    #expect(list.exitCode == 0, "\(list.stderr)")
    #expect(list.stdout.contains("6 entries"), "\(list.stdout)")
    let damagedName = try #require(names.first { name in
      name.hasPrefix("train-scratch-") && list.stdout.split(separator: "\n").contains {
        $0.contains(name) } && Self.entryIsDefault(list.stdout, name)
    })
    let damaged = folder.appendingPathComponent(damagedName)
    var bytes = try Data(contentsOf: damaged)
    bytes[bytes.count - 100] ^= 0xFF
    try bytes.write(to: damaged)

    let repaired = try Self.run(dir)
    #expect(repaired.stdout.contains("the cached training cannot be used"), "\(repaired.stdout)")
    #expect(repaired.stdout.contains("checksum"), "\(repaired.stdout)")
    #expect(Self.cachedNotes(repaired.stdout).count == 1, "only the second training was loaded")
    #expect(DeterminismTests.trainingLines(repaired.stdout) == expected)
    // Rewritten: the next run loads both again.
    let again = try Self.run(dir)
    #expect(Self.cachedNotes(again.stdout).count == 2, "\(again.stdout)")

    let cleared = try CLI.run(["cache", "clear", "7.5", "--output", dir.path])
    #expect(cleared.stdout.contains("removed 6 cached trainings"), "\(cleared.stdout)")
    let empty = try CLI.run(["cache", "list", "--output", dir.path])
    #expect(empty.stdout.contains("no cached trainings"), "\(empty.stdout)")
  }

  /// Whether `chapter cache list` shows entry `name` with seed 0 and the built engine.
  static func entryIsDefault(_ listing: String, _ name: String) -> Bool {
    let lines = listing.split(separator: "\n").map(String.init)
    guard let at = lines.firstIndex(where: { $0.contains(name) }) else { return false }
    let parts = lines[(at + 1)...].prefix { $0.hasPrefix("    ") }
    return parts.contains("    seed: 0") && !parts.contains { $0.contains("simulated-change") }
  }

  @Test func theCacheStaysUnderItsLimit() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    // Each 7.5 smoke entry is about 181 KiB: room for one.
    _ = try Self.run(dir, environment: ["CHAPTER_CACHE_LIMIT": "300KiB"])
    let folder = dir.appendingPathComponent(".cache/trainings/7.5-batch-norm").path
    let names = try FileManager.default.contentsOfDirectory(atPath: folder)
    #expect(names.count == 1 && names[0].hasPrefix("train-concise-"), "\(names)")
  }

  /// `build` after two kinds of change: one section's cache entries gone (7.3), and one
  /// section's chapter edited (7.5's second training cell, in a rebuilt copy of the package).
  @Test func buildRerunsOnlyWhatChanged() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let first = try CLI.run(["build", "--profile", "smoke", "--output", dir.path, "--quiet"])
    #expect(first.exitCode == 0, "\(first.stderr)")
    #expect(!first.stderr.contains("cached"), "\(first.stderr)")
    // Forget one section's trainings: the next build trains that section only.
    _ = try CLI.run(["cache", "clear", "7.3", "--output", dir.path])
    let second = try CLI.run(["build", "--profile", "smoke", "--output", dir.path, "--quiet"])
    #expect(second.exitCode == 0, "\(second.stderr)")
    let lines = second.stderr.split(separator: "\n").filter { $0.hasPrefix("chapter: 7.") }
    #expect(lines.count == 8 || lines.count == 7, "\(second.stderr)")
    for line in lines {
      if line.hasPrefix("chapter: 7.3 ") {
        #expect(!line.contains("cached"), "\(line)")
      } else {
        #expect(line.contains("(cached)"), "\(line)")
      }
    }
    let index = try String(contentsOf: dir.appendingPathComponent("index.md"), encoding: .utf8)
    let rows = index.split(separator: "\n").filter { $0.hasPrefix("| [7.") }
    #expect(rows.filter { $0.contains("cached from") }.count == rows.count - 1, "\(index)")

    // Edit the cell of 7.5's second training and build again with the rebuilt binary: that
    // training alone runs; 7.5's first one, before the edit, and every other section hit.
    let work = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: work) }
    let edited = try CLI.buildEditedCopy(in: work, chapter: "7.5-batch-norm.md") { text in
      text.replacingOccurrences(
        of: "```swift cell=train-concise\n", with: "```swift cell=train-concise\n// edited\n")
    }
    let third = try CLI.run(
      ["build", "--profile", "smoke", "--output", dir.path, "--quiet"], executable: edited)
    #expect(third.exitCode == 0, "\(third.stderr)")
    let thirdLines = third.stderr.split(separator: "\n").filter { $0.hasPrefix("chapter: 7.") }
    #expect(thirdLines.count == 7, "\(third.stderr)")
    for line in thirdLines {
      let expected = line.hasPrefix("chapter: 7.5 ") ? "(1 of 2 trainings cached)" : "(cached)"
      #expect(line.contains(expected), "\(line)")
    }
    let report = try String(contentsOf: dir.appendingPathComponent("7.5-batch-norm.md"), encoding: .utf8)
    #expect(report.contains("// edited"), "the report shows the edited cell")
  }
}
