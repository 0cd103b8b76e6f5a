import Foundation

/// Where trainings keep their checkpoints: `<output>/.cache/checkpoints/<section slug>/`,
/// one file per training, named by its cell, its position in the cell and a hash of
/// everything that decides its numbers (the section's Markdown, the profile, every override,
/// the variant, the seed, the threads and the data subsets). A run with other code or
/// parameters therefore never resumes from a checkpoint that is not its own.
///
/// Names are made of safe characters only: nothing a chapter or `--set` contains can steer
/// a write outside the cache folder.
public enum CheckpointLocation {
  /// The cache folder of one output folder.
  public static func cacheFolder(output: String) -> String {
    output + "/.cache/checkpoints"
  }

  /// The folder of one section's checkpoints.
  public static func folder(output: String, slug: String) -> String {
    cacheFolder(output: output) + "/" + safeName(slug)
  }

  /// `name` with every character outside `A-Z a-z 0-9 . _ -` replaced by `_`, and no
  /// leading dot (so neither `..` nor a hidden name can come out of it).
  public static func safeName(_ name: String) -> String {
    var out = String(name.unicodeScalars.prefix(80).map { scalar -> Character in
      switch scalar {
      case "A"..."Z", "a"..."z", "0"..."9", "_", "-", ".": Character(scalar)
      default: "_"
      }
    })
    while out.hasPrefix(".") { out = "_" + out.dropFirst() }
    return out.isEmpty ? "_" : out
  }

  /// 64-bit FNV-1a of a string's UTF-8, as 16 hex digits: stable across runs and
  /// platforms (Swift's `Hasher` is seeded per process).
  public static func fingerprint(_ text: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
      hash ^= UInt64(byte)
      hash = hash &* 0x0000_0100_0000_01B3
    }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
  }
}

extension NotebookSession {
  /// The checkpoint file of the training the running cell starts now. Each call counts one
  /// more training of that cell (7.5's cells train once each; a cell that trained twice
  /// would get `-1`, `-2`).
  public func nextCheckpointPath() -> String {
    let cell = currentCell ?? "section"
    let ordinal = trainingsStarted[cell, default: 0]
    trainingsStarted[cell] = ordinal + 1
    let overrides = plan.overrides.keys.sorted().map { name in
      "\(name)=\(plan.overrides[name]!.value.swiftLiteral)"
    }
    let identity = [
      plan.program.markdown, settings.profile, plan.options.variant ?? "",
      overrides.joined(separator: "\n"), "seed=\(settings.seed)", "threads=\(settings.threads)",
      "train=\(settings.trainSubset ?? -1)", "test=\(settings.testSubset ?? -1)",
    ].joined(separator: "\u{1}")
    let name = CheckpointLocation.safeName(cell) + "-\(ordinal + 1)-"
      + CheckpointLocation.fingerprint(identity) + ".safetensors"
    let path = CheckpointLocation.folder(
      output: plan.options.outputDirectory, slug: plan.program.slug) + "/" + name
    checkpointPaths.append(path)
    return path
  }

  /// Removes the checkpoints of this run's trainings (once the whole section has run there
  /// is nothing left to resume); other runs' checkpoints stay.
  public func removeCheckpoints() {
    for path in checkpointPaths { try? FileManager.default.removeItem(atPath: path) }
  }
}
