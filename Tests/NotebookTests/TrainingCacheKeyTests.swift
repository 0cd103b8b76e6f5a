import Foundation
import Testing

@testable import Notebook

/// The training cache's key: what changes it and what does not. (The CLI tests run the cache
/// itself: hits, `--no-cache`, a damaged entry, another engine, eviction.)
// Nested in RunnerTests, which is serialized: a section run sets the global
// `NotebookSession.current`, and RunnerTests checks that it is nil after its own runs.
extension RunnerTests {
@Suite struct TrainingCacheKeyTests {
  /// A section with two trainings, as 7.5 has: `first` and `second`, each in its own cell.
  static let markdown = """
    ---
    section: "9.2"
    title: Two trainings
    profiles:
      smoke: { numEpochs: 1 }
    ---

    # Two trainings

    Some prose.

    ```swift cell=setup
    let lr = 0.1, numEpochs = 3
    ```

    ```swift cell=first
    let batchSize = 256
    train(lr, numEpochs, batchSize)
    ```

    ```output reference
    loss 0.300, train acc 0.900, test acc 0.800
    ```

    More prose.

    ```swift cell=second
    let lr2 = 0.5
    train(lr2, numEpochs, batchSize)
    ```

    ```swift cell=after
    print("after")
    ```

    """

  /// The keys the two trainings get when the section's Markdown is `markdown`.
  static func keys(
    _ markdown: String = markdown, options: RunOptions = RunOptions(quiet: true),
    data: String = "data"
  ) throws -> [TrainingCacheKey] {
    let folder = try Fixture.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let found = KeyBox()
    let program = SectionProgram(
      number: "9.2", slug: "9.2-two", sourcePath: folder + "/9.2-two.md", markdown: markdown
    ) { nb in
      func train(_ network: String) {
        _ = nb.nextCheckpointPath()
        found.keys.append(nb.trainingCacheKey(network: network, engine: "engine", data: data))
      }
      nb.beginCell("setup")
      _ = nb.param("lr", 0.1)
      _ = nb.param("numEpochs", 3)
      nb.beginCell("first")
      _ = nb.param("batchSize", 256)
      train("one")
      nb.beginCell("second")
      _ = nb.param("lr2", 0.5)
      train("two")
      nb.beginCell("after")
      nb.endCell()
    }
    var options = options
    options.outputDirectory = folder + "/Output"
    _ = try SectionRunner.run(program, options: options)
    return found.keys
  }

  final class KeyBox: @unchecked Sendable { var keys: [TrainingCacheKey] = [] }

  @Test func editingProseOrLaterCellsKeepsEveryKey() throws {
    let base = try Self.keys()
    #expect(base.count == 2)
    let prose = Self.markdown.replacingOccurrences(of: "More prose.", with: "Other words.")
      .replacingOccurrences(of: "Some prose.", with: "A typo fixed.")
    #expect(try Self.keys(prose) == base)
    let output = Self.markdown.replacingOccurrences(of: "test acc 0.800", with: "test acc 0.810")
    #expect(try Self.keys(output) == base)
    let after = Self.markdown.replacingOccurrences(of: "print(\"after\")", with: "print(\"later\")")
    #expect(try Self.keys(after) == base)
  }

  @Test func editingTheSecondTrainingsCellChangesOnlyItsKey() throws {
    let base = try Self.keys()
    let edited = Self.markdown.replacingOccurrences(
      of: "train(lr2, numEpochs, batchSize)", with: "train(lr2, numEpochs + 1, batchSize)")
    let keys = try Self.keys(edited)
    #expect(keys[0] == base[0])
    #expect(keys[1] != base[1])
    #expect(keys[1].fingerprint != base[1].fingerprint)
    #expect(keys[1].differences(from: base[1]) == ["code"])
  }

  @Test func editingAnEarlierCellChangesBoth() throws {
    let base = try Self.keys()
    let edited = Self.markdown.replacingOccurrences(
      of: "let lr = 0.1, numEpochs = 3", with: "let lr = 0.1, numEpochs = 3  // tried 4")
    let keys = try Self.keys(edited)
    #expect(keys[0] != base[0] && keys[1] != base[1])
  }

  @Test func parametersSeedThreadsSubsetsAndDataAreInTheKey() throws {
    let base = try Self.keys()
    var set = RunOptions(quiet: true)
    set.overrides = ["lr2": "0.25"]
    let overridden = try Self.keys(options: set)
    #expect(overridden[0] == base[0])
    #expect(overridden[1].differences(from: base[1]) == ["parameters"])

    let seeded = try Self.keys(options: RunOptions(seed: 7, quiet: true))
    #expect(seeded[0].differences(from: base[0]) == ["seed"])
    let threads = try Self.keys(options: RunOptions(threads: base[0].value("threads") == "1" ? 2 : 1, quiet: true))
    #expect(threads[0].differences(from: base[0]) == ["threads"])
    let smoke = try Self.keys(options: RunOptions(profile: "smoke", quiet: true))
    #expect(smoke[0].differences(from: base[0]) == ["parameters"])

    let otherData = try Self.keys(data: "other files")
    #expect(otherData[0].differences(from: base[0]) == ["data"])
    #expect(otherData[0].fingerprint != base[0].fingerprint)
  }

  @Test func evictionRemovesTheOldestFirstAndKeepsTheNewest() throws {
    let folder = try Fixture.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let dir = TrainingCache.folder(output: folder, slug: "9.2-two")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for (i, name) in ["a", "b", "c"].enumerated() {
      let path = dir + "/\(name)-1-0000000000000000.safetensors"
      try Data(count: 1000).write(to: URL(fileURLWithPath: path))
      try FileManager.default.setAttributes(
        [.modificationDate: Date(timeIntervalSince1970: 1_000_000 + Double(i))], ofItemAtPath: path)
    }
    let oldest = dir + "/a-1-0000000000000000.safetensors"
    // The oldest entry, just written again, is kept; the next oldest go.
    let removed = TrainingCache.evict(output: folder, limit: 1500, keep: oldest)
    #expect(removed.map { ($0 as NSString).lastPathComponent }
      == ["b-1-0000000000000000.safetensors", "c-1-0000000000000000.safetensors"])
    #expect(TrainingCache.entries(output: folder).map(\.path) == [oldest])
    #expect(TrainingCache.clear(output: folder, section: "9.2-two") == (1, 1000))
    #expect(TrainingCache.entries(output: folder).isEmpty)
  }

  @Test func theLimitComesFromTheEnvironment() {
    #expect(TrainingCache.limitBytes(environment: [:]) == TrainingCache.defaultLimitBytes)
    #expect(TrainingCache.limitBytes(environment: ["CHAPTER_CACHE_LIMIT": "500MiB"]) == 500 << 20)
    #expect(TrainingCache.limitBytes(environment: ["CHAPTER_CACHE_LIMIT": "0"]) == 0)
  }
}
}
