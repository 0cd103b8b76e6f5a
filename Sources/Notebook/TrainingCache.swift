import Foundation

/// What decides a training's numbers, part by part: the key of its entry in the training
/// cache (`TrainingCache`). Two trainings with equal keys compute the same parameters, curve
/// and accuracies, so the second can load the first's result instead of training.
///
/// The parts, as `NotebookSession.trainingCacheKey` fills them in:
/// - the code of the section's cells up to and including the training's cell (not the prose,
///   not the `output` blocks, not later cells), and which training of that cell it is;
/// - the parameter values those cells read, after profile, variant and `--set`;
/// - the seed, the thread count and the profile's data subsets;
/// - the engine's identity: a hash of the engine's, the data loader's and `trainCh6`'s
///   sources, made at build time, and the math library's kernel set, which changes the
///   rounding of every product;
/// - the data: the checksums of the files the batches come from, and the batches' layout.
public struct TrainingCacheKey: Sendable, Equatable, Codable {
  public struct Part: Sendable, Equatable, Codable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
      self.name = name
      self.value = value
    }
  }

  public var parts: [Part]

  public init(parts: [Part]) { self.parts = parts }

  /// 16 hex digits over every part; names an entry's file.
  public var fingerprint: String {
    CheckpointLocation.fingerprint(
      parts.map { "\($0.name)\u{1}\($0.value)" }.joined(separator: "\u{2}"))
  }

  public func value(_ name: String) -> String? { parts.first { $0.name == name }?.value }

  /// The names of the parts in which `other` differs from this key (in this key's order,
  /// then parts only `other` has).
  public func differences(from other: TrainingCacheKey) -> [String] {
    var names = parts.filter { other.value($0.name) != $0.value }.map(\.name)
    names += other.parts.filter { value($0.name) == nil }.map(\.name)
    return names
  }
}

/// The folder of cached trainings, `<output>/.cache/trainings/<section slug>/`, one file per
/// entry: `<cell>-<n>-<key fingerprint>.safetensors`. What an entry holds and how it is read
/// back is D2L's (`CachedTraining`); this type finds, lists, dates and evicts the files.
///
/// The cache is bounded: after each write the oldest entries (by the time they were last
/// written or used) are removed until the whole cache is under `limitBytes`.
public enum TrainingCache {
  /// The default bound on the cache's size, 4 GiB: about fifty of this chapter's largest
  /// entries (AlexNet's, 86 MB). `CHAPTER_CACHE_LIMIT` (e.g. `500MiB`, `0` to keep
  /// nothing) changes it.
  public static let defaultLimitBytes: UInt64 = 4 << 30

  public static func limitBytes(
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> UInt64 {
    guard let text = environment["CHAPTER_CACHE_LIMIT"], let bytes = AvailableMemory.parseSize(text)
    else { return defaultLimitBytes }
    return UInt64(bytes)
  }

  public static func folder(output: String) -> String { output + "/.cache/trainings" }

  public static func folder(output: String, slug: String) -> String {
    folder(output: output) + "/" + CheckpointLocation.safeName(slug)
  }

  /// The entry file of a training with `key`: the cell and ordinal make it readable, the
  /// fingerprint makes it this training's.
  public static func path(output: String, slug: String, cell: String, ordinal: Int,
                          key: TrainingCacheKey) -> String {
    folder(output: output, slug: slug) + "/" + CheckpointLocation.safeName(cell)
      + "-\(ordinal)-" + key.fingerprint + ".safetensors"
  }

  /// One file of the cache, as `chapter cache list` shows it.
  public struct Entry: Sendable, Equatable {
    public var path: String
    /// The section slug (the entry's folder).
    public var section: String
    public var bytes: UInt64
    /// When it was last written or loaded.
    public var modified: Date
  }

  /// Every entry, oldest first; only those of `section` (a slug) when given.
  public static func entries(output: String, section: String? = nil) -> [Entry] {
    let root = folder(output: output)
    let fm = FileManager.default
    let sections = section.map { [CheckpointLocation.safeName($0)] }
      ?? ((try? fm.contentsOfDirectory(atPath: root)) ?? []).sorted()
    var found: [Entry] = []
    for slug in sections {
      let dir = root + "/" + slug
      for name in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted()
      where name.hasSuffix(".safetensors") {
        let path = dir + "/" + name
        guard let attributes = try? fm.attributesOfItem(atPath: path) else { continue }
        found.append(Entry(
          path: path, section: slug,
          bytes: (attributes[.size] as? NSNumber)?.uint64Value ?? 0,
          modified: attributes[.modificationDate] as? Date ?? .distantPast))
      }
    }
    return found.sorted { ($0.modified, $0.path) < ($1.modified, $1.path) }
  }

  /// Marks an entry as just used, so that eviction takes it last.
  public static func touch(_ path: String) {
    try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: path)
  }

  /// Removes the oldest entries until the cache holds at most `limit` bytes; `keep` (the
  /// entry just written) goes last. Returns the removed paths.
  @discardableResult
  public static func evict(output: String, limit: UInt64, keep: String? = nil) -> [String] {
    var all = entries(output: output)
    if let keep, let i = all.firstIndex(where: { $0.path == keep }) {
      all.append(all.remove(at: i))
    }
    var total = all.reduce(0) { $0 + $1.bytes }
    var removed: [String] = []
    for entry in all where total > limit {
      if (try? FileManager.default.removeItem(atPath: entry.path)) != nil {
        total -= entry.bytes
        removed.append(entry.path)
      }
    }
    return removed
  }

  /// Removes every entry, or those of one section; returns how many and their bytes.
  @discardableResult
  public static func clear(output: String, section: String? = nil) -> (count: Int, bytes: UInt64) {
    let doomed = entries(output: output, section: section)
    var count = 0, bytes: UInt64 = 0
    for entry in doomed where (try? FileManager.default.removeItem(atPath: entry.path)) != nil {
      count += 1
      bytes += entry.bytes
    }
    return (count, bytes)
  }
}

extension NotebookSession {
  /// The cache key of the training the running cell starts now (call after
  /// `nextCheckpointPath`, which counts it). `engine` and `data` are D2L's: the engine's
  /// identity and the batches' description.
  public func trainingCacheKey(network: String, engine: String, data: String) -> TrainingCacheKey {
    let cell = currentCell ?? "section"
    let cells = plan.document.cells
    let upTo = cells.firstIndex { $0.id == cell }.map { $0 + 1 } ?? cells.count
    let code = cells[..<upTo].map { "\($0.id)\n\($0.code)" }.joined(separator: "\u{1}")
    let readers = Set(cells[..<upTo].map(\.id)).union([cell])
    var read: [String: String] = [:]
    for record in records where readers.contains(record.id) {
      for p in record.parameters { read[p.name] = p.value.swiftLiteral }
    }
    let parameters = read.keys.sorted().map { "\($0)=\(read[$0]!)" }.joined(separator: ", ")
    return TrainingCacheKey(parts: [
      .init("format", "trainch6-cache-1"),
      .init("section", plan.program.slug),
      .init("training", "\(cell) #\(trainingsStarted[cell, default: 1]): \(network)"),
      .init("code", CheckpointLocation.fingerprint(code)),
      .init("parameters", parameters),
      .init("seed", "\(settings.seed)"),
      .init("threads", "\(settings.threads)"),
      .init("subsets", "train \(settings.trainSubset.map(String.init) ?? "all"), "
        + "test \(settings.testSubset.map(String.init) ?? "all")"),
      .init("engine", engine),
      .init("data", data),
    ])
  }

  /// Where this run's output folder records the data set files it read and checked
  /// (`FashionMNIST.sources`): beside the training cache, which it lets skip the reading.
  public func datasetRecordPath(_ name: String) -> String {
    plan.options.outputDirectory + "/.cache/datasets/" + name + ".json"
  }

  /// The cache entry file for `key` in this run's output folder.
  public func trainingCachePath(_ key: TrainingCacheKey) -> String {
    let cell = currentCell ?? "section"
    return TrainingCache.path(
      output: plan.options.outputDirectory, slug: plan.program.slug, cell: cell,
      ordinal: trainingsStarted[cell, default: 1], key: key)
  }
}
