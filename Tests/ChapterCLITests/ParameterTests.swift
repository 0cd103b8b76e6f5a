import Foundation
import Testing

/// Bad parameters are refused before anything runs: exit 2, and a message
/// naming the cell, the parameter and the `.md` line.
@Suite(.serialized) struct ParameterTests {
  static let cases: [(set: String, expect: [String])] = [
    ("lr=abc", ["lr", "train-scratch", "7.5-batch-norm.md:", "Double"]),
    ("lr=0", ["lr", "train-scratch", "7.5-batch-norm.md:", "range"]),
    ("lr=-1", ["lr", "train-scratch", "range"]),
    ("lr=nan", ["lr", "train-scratch"]),
    ("lr=inf", ["lr", "train-scratch"]),
    ("numEpochs=0", ["numEpochs", "train-scratch", "7.5-batch-norm.md:", "range"]),
    ("numEpochs=1.5", ["numEpochs", "Int"]),
    ("batchSize=0", ["batchSize", "train-scratch", "range"]),
    ("trainWithoutBatchNorm=maybe", ["trainWithoutBatchNorm", "plain-lenet", "Bool"]),
    ("noSuchParameter=1", ["unknown parameter", "noSuchParameter"]),
  ]

  @Test(arguments: 0..<cases.count)
  func refusedBeforeRunning(_ index: Int) throws {
    let (set, expect) = Self.cases[index]
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(["run", "7.5", "--profile", "smoke", "--set", set, "--output", dir.path])
    #expect(result.exitCode == 2, "\(set): \(result.stderr)")
    for fragment in expect { #expect(result.stderr.contains(fragment), "\(set): \(result.stderr)") }
    // Nothing ran: no report was written.
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("7.5-batch-norm.html").path))
  }

  /// An image too small for the network is refused up front with the network's minimum.
  @Test(arguments: [("7.1", "66", "67"), ("7.3", "32", "67"), ("7.7", "28", "29")])
  func resizeBelowTheNetworksMinimum(_ section: String, _ resize: String, _ minimum: String) throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(
      ["run", section, "--profile", "smoke", "--set", "resize=\(resize)", "--output", dir.path])
    #expect(result.exitCode == 2, "\(result.stderr)")
    #expect(result.stderr.contains("resize"), "\(result.stderr)")
    #expect(result.stderr.contains(">= \(minimum)"), "\(result.stderr)")
    #expect(result.stdout.isEmpty, "\(result.stdout)")
  }

  @Test func unknownVariantIsBadInput() throws {
    let result = try CLI.run(["run", "7.5", "--variant", "no-such-variant", "--quiet"])
    #expect(result.exitCode == 2)
    #expect(result.stderr.contains("lr-0.1"))
  }

  @Test func variantChangesTheParameter() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(
      ["run", "7.5", "--profile", "smoke", "--variant", "without-bn-lr-0.1", "--output", dir.path, "--quiet"])
    #expect(result.exitCode == 0, "\(result.stderr)")
    let md = try String(contentsOf: dir.appendingPathComponent("7.5-batch-norm.md"), encoding: .utf8)
    #expect(md.contains("`0.1`"))
    #expect(md.contains("LeNet without batch norm"))
  }

  @Test func setOverridesAndIsReported() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(
      ["run", "7.5", "--profile", "smoke", "--set", "lr=0.5", "--output", dir.path, "--quiet"])
    #expect(result.exitCode == 0, "\(result.stderr)")
    let md = try String(contentsOf: dir.appendingPathComponent("7.5-batch-norm.md"), encoding: .utf8)
    #expect(md.contains("`0.5`"))
  }

  @Test func twoValueSweepWritesOneComparison() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(
      ["sweep", "7.5", "--profile", "smoke", "--set", "lr=0.1,1.0", "--output", dir.path, "--quiet"])
    #expect(result.exitCode == 0, "\(result.stderr)")
    let sweeps = dir.appendingPathComponent("sweeps")
    let md = try String(contentsOf: sweeps.appendingPathComponent("7.5-batch-norm-lr.md"), encoding: .utf8)
    let html = try String(contentsOf: sweeps.appendingPathComponent("7.5-batch-norm-lr.html"), encoding: .utf8)
    // Two values times the section's two networks.
    #expect(md.components(separatedBy: "\n| 0.1 |").count - 1 == 2)
    #expect(md.components(separatedBy: "\n| 1.0 |").count - 1 == 2)
    #expect(FileManager.default.fileExists(atPath: sweeps.appendingPathComponent("7.5-batch-norm-lr.svg").path))
    #expect(html.contains("<svg"))
  }

  @Test func sweepWithABadValueRunsNothing() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(
      ["sweep", "7.5", "--profile", "smoke", "--set", "lr=0.1,-2", "--output", dir.path, "--quiet"])
    #expect(result.exitCode == 2)
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("sweeps").path))
  }
}

@Suite struct ShowAndListTests {
  @Test func showListsCellsParametersVariantsAndProfiles() throws {
    let result = try CLI.run(["show", "7.5", "--set", "lr=0.5"])
    #expect(result.exitCode == 0, "\(result.stderr)")
    for fragment in ["train-scratch", "lr: Double = 1.0", "-> 0.5 from --set", "numEpochs", "without-bn-lr-0.1", "smoke:"] {
      #expect(result.stdout.contains(fragment), "missing \(fragment)")
    }
  }

  @Test func listNamesEverySection() throws {
    let result = try CLI.run(["list", "--output", "/nonexistent-folder"])
    #expect(result.exitCode == 0, "\(result.stderr)")
    #expect(result.stdout.contains("7.5"))
    #expect(result.stdout.contains("Batch Normalization"))
  }
}
