import Foundation
import Testing

/// A run that would not fit in memory is refused before it starts (exit 2, the parameters
/// behind the estimate and a value that fits), and an allocation that fails anyway is a
/// located failure of its cell (exit 1), never a backtrace.
@Suite(.serialized) struct MemoryPreflightTests {
  static func expectNoBacktrace(_ result: CLIResult) {
    #expect(result.signal == nil, "killed by signal \(result.signal ?? 0): \(result.stderr)")
    #expect(!result.stderr.contains("Backtrace"), "\(result.stderr)")
    #expect(!result.stderr.contains("Program crashed"), "\(result.stderr)")
  }

  /// 32 images of 100,000×100,000 pixels are terabytes: refused at the loader, on any machine.
  @Test func aHugeResizeIsRefusedWithASizeThatFits() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(
      ["run", "7.6", "--profile", "smoke", "--set", "resize=100000", "--output", dir.path,
       "--quiet"])
    Self.expectNoBacktrace(result)
    #expect(result.exitCode == 2, "\(result.stderr)")
    #expect(result.stderr.contains("7.6-resnet.md:"), "\(result.stderr)")
    #expect(result.stderr.contains("resize=100000 with batchSize=32 needs about"), "\(result.stderr)")
    #expect(result.stderr.contains("TiB"), "\(result.stderr)")
    #expect(result.stderr.contains("are available"), "\(result.stderr)")
    #expect(result.stderr.contains("the batches alone allow resize up to about"), "\(result.stderr)")
    #expect(!result.stderr.contains("Fatal error"), "\(result.stderr)")
  }

  /// AlexNet at its book size with a batch that a 2 GiB limit (a cgroup's, say, simulated by
  /// the override) cannot hold: the batches fit, the training does not, and the message
  /// offers a batch size.
  @Test func aBatchThatCannotTrainAt224IsRefused() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(
      ["run", "7.1", "--profile", "smoke", "--set", "resize=224", "--set", "batchSize=512",
       "--output", dir.path, "--quiet"],
      environment: ["CHAPTER_MEMORY_AVAILABLE": "2GiB"])
    Self.expectNoBacktrace(result)
    #expect(result.exitCode == 2, "\(result.stderr)")
    #expect(result.stderr.contains("cell 'train'"), "\(result.stderr)")
    #expect(
      result.stderr.contains("training AlexNet with batchSize=512 at resize=224 needs about"),
      "\(result.stderr)")
    #expect(result.stderr.contains("2.0 GiB are available (CHAPTER_MEMORY_AVAILABLE)"), "\(result.stderr)")
    let offer = try #require(
      result.stderr.firstMatch(of: #/batchSize can be at most about ([0-9,]+)/#), "\(result.stderr)")
    let batch = try #require(Int(offer.output.1.replacingOccurrences(of: ",", with: "")))
    #expect(batch > 16 && batch < 512, "\(batch)")
  }

  /// Over 1024 pixels the network is not measured (that alone could not fit) but
  /// extrapolated from 1024 and 512: ResNet-18 at 3000 pixels keeps gigabytes per example.
  @Test func largeImagesAreExtrapolatedNotMeasured() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(
      ["run", "7.6", "--profile", "smoke", "--set", "resize=3000", "--output", dir.path,
       "--quiet"],
      environment: ["CHAPTER_MEMORY_AVAILABLE": "20GiB"])
    Self.expectNoBacktrace(result)
    #expect(result.exitCode == 2, "\(result.stderr)")
    #expect(
      result.stderr.contains("training ResNet-18 with batchSize=32 at resize=3000 needs about"),
      "\(result.stderr)")
    #expect(result.stderr.contains("GiB of activations per example"), "\(result.stderr)")
    #expect(result.stderr.contains("batchSize can be at most about"), "\(result.stderr)")
  }

  /// The same section at the profile's own settings fits under the same limit and runs.
  @Test func theSmokeProfileFitsUnderTheSameLimit() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(
      ["run", "7.1", "--profile", "smoke", "--output", dir.path, "--quiet"],
      environment: ["CHAPTER_MEMORY_AVAILABLE": "2GiB"])
    #expect(result.exitCode == 0, "\(result.stderr)")
  }

  /// With the pre-flight told there is room (an override far above the machine), the loader's
  /// allocation of a terabyte batch fails for real: the runtime's reason and the cell's place,
  /// exit 1, no backtrace.
  @Test func anAllocationThatFailsAnywayIsLocated() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(
      ["run", "7.6", "--profile", "smoke", "--set", "resize=100000", "--output", dir.path,
       "--quiet"],
      environment: ["CHAPTER_MEMORY_AVAILABLE": "1000000TiB"])
    Self.expectNoBacktrace(result)
    #expect(result.exitCode == 1, "\(result.stderr)")
    #expect(result.stderr.contains("failed to allocate"), "\(result.stderr)")
    #expect(result.stderr.contains("crashed in cell 'train'"), "\(result.stderr)")
    #expect(result.stderr.contains("7.6-resnet.md:"), "\(result.stderr)")
  }
}
