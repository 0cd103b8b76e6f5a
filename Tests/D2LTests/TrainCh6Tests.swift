import ChapterFormat
import Datasets
import Engine
import Foundation
import Notebook
import EngineTurn
import Testing
@testable import D2L

/// `trainCh6` on a dense layer and ten classes of 8x8 images: the curve's resolution, the
/// divergence stop, skipped and captured trainings, and resuming from a checkpoint. The engine
/// and the session are process-wide, so the suite runs its tests one at a time.
@Suite(.serialized, .engineTurn) struct TrainCh6Tests {
  /// Class `k` lights pixels `6k ..< 6k + 6` over faint noise: a dense layer tells them apart
  /// within an epoch.
  static func images(count: Int, seed: UInt64) -> LabeledImages {
    var g = SeededGenerator(seed: seed)
    var pixels = [UInt8](repeating: 0, count: count * 64)
    var labels = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
      let label = Int(g.next() % 10)
      labels[i] = UInt8(label)
      for p in 0..<64 { pixels[i * 64 + p] = UInt8(g.next() % 40) }
      for p in (6 * label)..<(6 * label + 6) { pixels[i * 64 + p] = 255 }
    }
    return LabeledImages(count: count, rows: 8, cols: 8, pixels: pixels, labels: labels)
  }

  /// 320 training images (drawn from `trainSeed`) in batches of 16 (20 batches an epoch),
  /// 64 test images.
  static func loaders(trainSeed: UInt64 = 1) -> (BatchLoader, BatchLoader) {
    (BatchLoader(images(count: 320, seed: trainSeed), batchSize: 16, shuffle: true, seed: 0),
     BatchLoader(images(count: 64, seed: 2), batchSize: 16, shuffle: false))
  }

  static func tinyNet() -> Module { Sequential { Flatten(); Dense(10) } }

  @Test func trainsAndDrawsFivePointsPerEpoch() throws {
    prepareEngine(seed: 0, threads: 1)
    let (train, test) = Self.loaders()
    let summary = try trainCh6(Self.tinyNet(), train, test, numEpochs: 2, lr: 0.5, network: "tiny")
    #expect(summary.epochs == 2 && summary.testAccuracyPerEpoch.count == 2)
    #expect(summary.testAccuracy > 0.9, "test accuracy \(summary.testAccuracy)")
    // The book's resolution: a point every 20 / 5 = 4 batches, at fractional epochs.
    let epochs = summary.trainingCurve.map(\.epoch)
    let expected = [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0]
    #expect(epochs.count == expected.count && zip(epochs, expected).allSatisfy { abs($0 - $1) < 1e-12 },
            "\(epochs)")
    #expect(summary.trainingCurve.last!.loss < summary.trainingCurve.first!.loss)
  }

  @Test func aRateThatExplodesStopsWithItsOwnError() {
    prepareEngine(seed: 0, threads: 1)
    let (train, test) = Self.loaders()
    #expect(throws: TrainingDiverged.self) {
      try trainCh6(Self.tinyNet(), train, test, numEpochs: 1, lr: 1e5, network: "tiny")
    }
  }

  /// A one-cell section whose cell trains the tiny network for `epochs` epochs on the
  /// training images of `trainSeed` and hands the summary to `sink`.
  static func program(epochs: Int, sink: SummarySink, trainSeed: UInt64 = 1) -> SectionProgram {
    SectionProgram(
      number: "9.2", slug: "9.2-tiny", sourcePath: "/tmp/9.2-tiny.md", markdown: Self.markdown
    ) { nb in
      nb.beginCell("train")
      let (train, test) = Self.loaders(trainSeed: trainSeed)
      sink.summary = try trainCh6(Self.tinyNet(), train, test, numEpochs: epochs, lr: 0.5, network: "tiny net")
      nb.endCell()
    }
  }

  static let markdown = """
    ---
    section: "9.2"
    title: Tiny
    ---

    # Tiny

    ```swift cell=train
    trainCh6(net, trainIter, testIter, numEpochs: 2, lr: 0.5)
    ```

    """

  static func plan(
    _ program: SectionProgram, output: String, configure: (inout RunOptions) -> Void = { _ in }
  ) throws -> RunPlan {
    var options = RunOptions(profile: "book", threads: 1, outputDirectory: output, quiet: true)
    options.noCache = true
    configure(&options)
    return try RunPlan(program: program, options: options)
  }

  static func temporaryFolder() throws -> String {
    let path = NSTemporaryDirectory() + "d2l-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  @Test func aSkippedTrainingReturnsAtOnce() throws {
    let folder = try Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    prepareEngine(seed: 0, threads: 1)
    let sink = SummarySink()
    try SectionRunner.runCellsUnreported(
      Self.plan(Self.program(epochs: 2, sink: sink), output: folder) { $0.skipTraining = true })
    #expect(sink.summary?.epochs == 0 && sink.summary?.testAccuracy.isNaN == true)
  }

  @Test func aCapturedTrainingHandsOverItsNetworkAndRate() throws {
    let folder = try Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    prepareEngine(seed: 0, threads: 1)
    let sink = SummarySink()
    let captured = try CapturedTraining.capture(
      network: "tiny", Self.plan(Self.program(epochs: 2, sink: sink), output: folder))
    #expect(captured?.lr == 0.5 && captured?.trainIter.batchSize == 16)
    #expect(captured?.network is Sequential)
    #expect(sink.summary?.epochs == 0, "the captured training did not run")
    #expect(try CapturedTraining.capture(
      network: "resnet", Self.plan(Self.program(epochs: 2, sink: sink), output: folder)) == nil)
  }

  /// A training the cache answers makes no batch, so images that a source has not read yet
  /// stay unread (what makes a re-run of a section with unchanged files take a fraction of
  /// the first: `FashionMNIST.sources`), and it returns the numbers of the training itself.
  @Test func aCachedTrainingReadsNoImages() throws {
    let folder = try Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let sources = SourceSink()
    let program = SectionProgram(
      number: "9.2", slug: "9.2-tiny", sourcePath: "/tmp/9.2-tiny.md", markdown: Self.markdown
    ) { nb in
      nb.beginCell("train")
      let images = Self.images(count: 320, seed: 1)
      let source = ImageSource(count: 320, rows: 8, cols: 8, fileChecksums: [], read: { images })
      sources.sources.append(source)
      let train = BatchLoader(source, batchSize: 16, shuffle: true, seed: 0)
      let test = BatchLoader(Self.images(count: 64, seed: 2), batchSize: 16, shuffle: false)
      sources.summaries.append(
        try trainCh6(Self.tinyNet(), train, test, numEpochs: 1, lr: 0.5, network: "tiny net"))
      nb.endCell()
    }
    for _ in 0..<2 {
      prepareEngine(seed: 0, threads: 1)
      try SectionRunner.runCellsUnreported(
        Self.plan(program, output: folder) { $0.noCache = false })
    }
    #expect(sources.sources.count == 2 && sources.summaries.count == 2)
    #expect(sources.sources[0].isLoaded, "the first run trained")
    #expect(sources.summaries[1].cachedAt != nil, "the second run was answered by the cache")
    #expect(!sources.sources[1].isLoaded, "and read no image")
    #expect(sources.summaries[1].testAccuracyPerEpoch == sources.summaries[0].testAccuracyPerEpoch)
  }

  /// A run stopped after its first epoch and resumed gives the numbers of a run that was
  /// never stopped: the one-epoch program writes the same checkpoint (same section, cell and
  /// parameters) that the two-epoch program resumes from.
  @Test func aResumedTrainingEndsAsAnUninterruptedOne() throws {
    let (straight, resumed) = (try Self.temporaryFolder(), try Self.temporaryFolder())
    defer {
      try? FileManager.default.removeItem(atPath: straight)
      try? FileManager.default.removeItem(atPath: resumed)
    }
    let whole = SummarySink(), first = SummarySink(), rest = SummarySink()
    prepareEngine(seed: 0, threads: 1)
    try SectionRunner.runCellsUnreported(Self.plan(Self.program(epochs: 2, sink: whole), output: straight))
    prepareEngine(seed: 0, threads: 1)
    try SectionRunner.runCellsUnreported(Self.plan(Self.program(epochs: 1, sink: first), output: resumed))
    prepareEngine(seed: 0, threads: 1)
    try SectionRunner.runCellsUnreported(
      Self.plan(Self.program(epochs: 2, sink: rest), output: resumed) { $0.resume = true })
    let (a, b) = (try #require(whole.summary), try #require(rest.summary))
    #expect(first.summary?.testAccuracyPerEpoch.count == 1)
    #expect(b.lossPerEpoch == a.lossPerEpoch && b.testAccuracyPerEpoch == a.testAccuracyPerEpoch)
    #expect(b.trainingCurve.map(\.loss) == a.trainingCurve.map(\.loss))

    // It did resume: after a first epoch on other images (the checkpoint does not know the
    // data), the resumed run's first epoch is that one, not its own.
    let (other, again) = (SummarySink(), SummarySink())
    try SectionRunner.runCellsUnreported(
      Self.plan(Self.program(epochs: 1, sink: other, trainSeed: 3), output: resumed))
    try SectionRunner.runCellsUnreported(
      Self.plan(Self.program(epochs: 2, sink: again), output: resumed) { $0.resume = true })
    let (c, d) = (try #require(other.summary), try #require(again.summary))
    #expect(d.lossPerEpoch.count == 2 && d.lossPerEpoch[0] == c.lossPerEpoch[0])
    #expect(d.lossPerEpoch[0] != a.lossPerEpoch[0])
  }
}

/// The sources and summaries of a test program's runs.
final class SourceSink: @unchecked Sendable {
  // Safe: appended to by the cells and read after the runs, on the same thread.
  var sources: [ImageSource] = []
  var summaries: [TrainingSummary] = []
}

/// Where a test program's cell leaves its training's summary.
final class SummarySink: @unchecked Sendable {
  // Safe: written by the cell and read after the run, on the same thread.
  var summary: TrainingSummary?
}
