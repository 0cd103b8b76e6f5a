import Foundation
import Testing

/// The same seed and thread count give the same numbers (README, "Options common to
/// runs"): two runs of the real `chapter` into two folders print the same training log
/// lines and learned values, bit for bit; another seed changes them.
@Suite(.serialized) struct DeterminismTests {
  /// The lines of a run's standard output that come from training, not from the clock:
  /// the book's log line (`loss 0.333, train acc 0.879, test acc 0.892`) and whatever
  /// prints learned values (7.5 prints the first batch-norm layer's gamma and beta in full
  /// precision). `N examples/sec on cpu` is a measurement and is left out.
  static func trainingLines(_ stdout: String) -> [String] {
    stdout.split(separator: "\n").map(String.init).filter {
      $0.contains("train acc") || $0.hasPrefix("gamma:") || $0.hasPrefix("beta:")
    }
  }

  /// What a run computed: its training log lines, and the per-epoch numbers of its record
  /// (`<slug>.json`) in full double precision.
  struct Numbers: Equatable {
    var lines: [String]
    var perEpoch: [String]
  }

  static func run(_ section: String, slug: String, seed: Int, threads: Int = 2) throws -> Numbers {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(
      ["run", section, "--profile", "smoke", "--seed", "\(seed)", "--threads", "\(threads)",
       "--output", dir.path])
    #expect(result.exitCode == 0, "\(section) seed \(seed): \(result.stderr)")
    let data = try Data(contentsOf: dir.appendingPathComponent("\(slug).json"))
    let record = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let trainings = try #require(record["trainings"] as? [[String: Any]])
    var perEpoch: [String] = []
    for training in trainings {
      for key in ["lossPerEpoch", "trainAccuracyPerEpoch", "testAccuracyPerEpoch"] {
        let values = try #require(training[key] as? [Double], "\(key)")
        // The bit patterns: "the same numbers" means the same doubles, not close ones.
        perEpoch.append("\(training["network"] ?? "?") \(key): "
          + values.map { String($0.bitPattern, radix: 16) }.joined(separator: " "))
      }
    }
    return Numbers(lines: trainingLines(result.stdout), perEpoch: perEpoch)
  }

  @Test func batchNormSameSeedSameNumbers() throws {
    let first = try Self.run("7.5", slug: "7.5-batch-norm", seed: 7)
    let second = try Self.run("7.5", slug: "7.5-batch-norm", seed: 7)
    // Two trainings (from scratch and concise), and gamma and beta of the first.
    #expect(first.lines.filter { $0.contains("train acc") }.count == 2, "\(first.lines)")
    #expect(first.lines.contains { $0.hasPrefix("gamma:") }, "\(first.lines)")
    #expect(first.perEpoch.count == 2 * 3)
    #expect(first.lines == second.lines)
    #expect(first.perEpoch == second.perEpoch)

    let otherSeed = try Self.run("7.5", slug: "7.5-batch-norm", seed: 8)
    #expect(otherSeed.lines.count == first.lines.count)
    #expect(otherSeed.lines != first.lines, "seed 8 printed the same as seed 7: \(first.lines)")
    // Not just one line: the learned values and the losses differ too.
    let gamma = { (n: Numbers) in n.lines.first { $0.hasPrefix("gamma:") } }
    #expect(gamma(otherSeed) != gamma(first))
    #expect(otherSeed.perEpoch[0] != first.perEpoch[0])
  }

  /// ResNet-18 on its smoke profile: convolutions, batch norm, residual additions and
  /// global pooling, split over two threads.
  @Test func resNetSameSeedSameNumbers() throws {
    let first = try Self.run("7.6", slug: "7.6-resnet", seed: 3)
    let second = try Self.run("7.6", slug: "7.6-resnet", seed: 3)
    #expect(first.lines.count == 1, "\(first.lines)")
    #expect(first.perEpoch.count == 3)
    #expect(first.lines == second.lines)
    #expect(first.perEpoch == second.perEpoch)
  }
}
