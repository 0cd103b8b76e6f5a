import Datasets
import Engine
import Foundation
import Notebook

/// A finished `trainCh6` in the training cache (`TrainingCache`): the network's state
/// tensors (parameters and moving statistics, `model.` + their property path), the engine's
/// random generator as training left it (later cells' dropout and initialisation draw from
/// it), the `TrainingSummary` (history, curve, timing), the key it was stored under, the date,
/// and a checksum of all of it. A hit loads the tensors into the network, so that later cells
/// read the trained parameters as after a real training.
///
/// An entry is written atomically (a temporary file, then a rename). One that is damaged,
/// cut short, written under another key or by another format is refused as a whole before
/// anything is copied into the network; the training then runs and rewrites it.
public enum CachedTraining {
  static let format = "d2l-swift-trainch6-cache-1"

  static func save(
    _ net: Module, summary: TrainingSummary, key: TrainingCacheKey, to path: String
  ) throws {
    var file = SafeTensorsFile()
    for (name, tensor) in net.namedState() { file.add("model." + name, tensor) }
    file.add("rng.state", words: EngineRandom.generator.state)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    file.metadata = [
      "format": format,
      "key": String(decoding: try encoder.encode(key), as: UTF8.self),
      "summary": String(decoding: try encoder.encode(summary), as: UTF8.self),
      "saved": String(Date().timeIntervalSince1970),
    ]
    file.metadata["checksum"] = checksum(file)
    try file.write(to: path)
  }

  /// The entry at `path`, checked as a file: its format, its checksum, its key (which must be
  /// `key`), its summary and generator. Throws when any of them is wrong.
  static func read(key: TrainingCacheKey, from path: String) throws -> Entry {
    let file = try SafeTensorsFile(contentsOf: path)
    let meta = file.metadata
    guard meta["format"] == format else { throw SafeTensorsError("\(path): not a cache entry") }
    guard meta["checksum"] == checksum(file) else {
      throw SafeTensorsError("\(path): its checksum does not match its contents")
    }
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    guard let keyText = meta["key"],
      let stored = try? decoder.decode(TrainingCacheKey.self, from: Data(keyText.utf8))
    else { throw SafeTensorsError("\(path): no readable key") }
    guard stored == key else {
      throw SafeTensorsError(
        "\(path) was stored under another key (\(key.differences(from: stored).joined(separator: ", ")))")
    }
    guard let summaryText = meta["summary"],
      let summary = try? decoder.decode(TrainingSummary.self, from: Data(summaryText.utf8)),
      let saved = meta["saved"].flatMap(Double.init)
    else { throw SafeTensorsError("\(path): no readable summary") }
    guard let generator = SeededGenerator(state: try file.words("rng.state")) else {
      throw SafeTensorsError("\(path): bad generator state")
    }
    return Entry(
      file: file, path: path, summary: summary, savedAt: Date(timeIntervalSince1970: saved),
      generator: generator)
  }

  /// The key an entry file was stored under, for `chapter cache list`; empty when it cannot
  /// be read.
  public static func keyParts(at path: String) -> [TrainingCacheKey.Part] {
    guard let text = (try? SafeTensorsFile.metadata(contentsOf: path))?["key"],
      let key = try? JSONDecoder().decode(TrainingCacheKey.self, from: Data(text.utf8))
    else { return [] }
    return key.parts
  }

  /// A cache entry read and checked as a file, not yet loaded into a network.
  struct Entry {
    var file: SafeTensorsFile
    var path: String
    var summary: TrainingSummary
    var savedAt: Date
    var generator: SeededGenerator

    /// Throws unless the entry holds exactly `net`'s state tensors, with their shapes.
    func validate(_ net: Module) throws { try validate(net.namedState()) }

    private func validate(_ state: [(name: String, tensor: Tensor)]) throws {
      let expected = Set(state.map { "model." + $0.name })
      guard expected == Set(file.names.filter { $0.hasPrefix("model.") }) else {
        throw SafeTensorsError("\(path) holds other tensors than the network has")
      }
      for (name, tensor) in state where file.entries["model." + name]?.shape != tensor.shape {
        throw SafeTensorsError("\(path): \(name) has another shape than the network's")
      }
    }

    /// Copies the tensors into `net` and sets the engine's generator to where the training
    /// left it.
    func apply(to net: Module) throws {
      let state = net.namedState()
      try validate(state)
      for (name, tensor) in state { try file.load("model." + name, into: tensor) }
      EngineRandom.generator = generator
    }
  }

  /// 64-bit FNV-1a over every tensor's name, type, shape and bytes and every metadata entry
  /// but the checksum itself, in a fixed order; as 16 hex digits.
  static func checksum(_ file: SafeTensorsFile) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    func mix(_ bytes: UnsafeRawBufferPointer) {
      // Eight bytes at a time: an AlexNet entry is 86 MB, and byte-wise FNV would take
      // a tenth of a second of every hit.
      let words = bytes.count / 8
      for i in 0..<words {
        hash ^= bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
        hash = hash &* 0x0000_0100_0000_01B3
      }
      for i in (8 * words)..<bytes.count {
        hash ^= UInt64(bytes[i])
        hash = hash &* 0x0000_0100_0000_01B3
      }
      hash ^= UInt64(bytes.count)
      hash = hash &* 0x0000_0100_0000_01B3
    }
    func mix(_ text: String) { Array(text.utf8).withUnsafeBytes { mix($0) } }
    for name in file.names.sorted() {
      let entry = file.entries[name]!
      mix(name)
      mix(entry.dtype.rawValue + entry.shape.map(String.init).joined(separator: ","))
      entry.bytes.withUnsafeBytes { mix($0) }
    }
    for name in file.metadata.keys.sorted() where name != "checksum" {
      mix(name)
      mix(file.metadata[name]!)
    }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
  }

  /// The engine's part of a cache key: its sources' fingerprint (made at build time by the
  /// EngineIdentity plugin) and the math library's kernel set. `CHAPTER_ENGINE_IDENTITY`
  /// replaces the fingerprint, so that tests can stand for a changed engine without
  /// rebuilding it.
  static var engineIdentity: String {
    let sources = ProcessInfo.processInfo.environment["CHAPTER_ENGINE_IDENTITY"]
      .flatMap { $0.isEmpty ? nil : $0 } ?? engineSourceFingerprint
    return "sources \(sources), OpenBLAS \(BLASKernel.description)"
  }

  /// The data's part of a cache key: each loader's files (the CRC-32s of their decompressed
  /// bytes, found when they were read and checked, in this run or, for unchanged files, an
  /// earlier one: `FashionMNIST.sources`), images, batch size, image size and shuffling.
  static func dataIdentity(train: BatchLoader, test: BatchLoader) -> String {
    func describe(_ name: String, _ l: BatchLoader) -> String {
      let crcs = l.source.fileChecksums.map { String(format: "%08x", $0) }.joined(separator: " ")
      return "\(name): files [\(crcs)], \(l.numberOfExamples) of \(l.source.count) images, "
        + "batches of \(l.batchSize), \(l.imageHeight)x\(l.imageWidth), "
        + (l.shuffle ? "shuffled with seed \(l.seed)" : "in order")
    }
    return describe("train", train) + "; " + describe("test", test)
  }
}
