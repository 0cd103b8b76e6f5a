import Foundation

/// What one training run in a cell achieved, for the report header, the section index and
/// comparisons between runs. D2L's `trainCh6` fills it in.
public struct TrainingSummary: Sendable, Codable, Equatable {
  /// The network's name as the section calls it (e.g. `LeNet (batch norm from scratch)`).
  public var network: String
  public var parameterCount: Int
  /// Multiply-adds count as two.
  public var flopsPerExample: Int
  public var epochs: Int
  public var finalLoss: Double
  public var trainAccuracy: Double
  public var testAccuracy: Double
  /// Training throughput over the whole run.
  public var examplesPerSecond: Double
  public var wallSeconds: Double
  public var lossPerEpoch: [Double]
  public var trainAccuracyPerEpoch: [Double]
  public var testAccuracyPerEpoch: [Double]
  /// The training curve at the book's resolution: the running training loss and accuracy of
  /// the epoch so far, five times per epoch, at fractional epochs (1.4 is 40% into the second
  /// epoch). Empty for records written before it existed; the figure then falls back to the
  /// per-epoch values.
  public var trainingCurve: [CurvePoint]
  /// The test accuracy the book reports for this training (its ```` ```output reference ````
  /// block after the cell), if it reports one.
  public var bookTestAccuracy: Double?
  /// When this result came from the training cache: the time the training that computed it
  /// was stored. Nil for a training that ran in this run.
  public var cachedAt: Date?

  /// The training's time as reports show it: "8 min 35 s", and for a cached result
  /// "8 min 35 s, cached from 2026-12-02 00:23 UTC".
  public var timeText: String {
    ReportModel.seconds(wallSeconds) + (cachedAt.map { ", cached from " + Provenance.format($0) } ?? "")
  }

  /// One point of `trainingCurve`.
  public struct CurvePoint: Sendable, Codable, Equatable {
    /// Epochs done, counting the current one's batches as a fraction.
    public var epoch: Double
    public var loss: Double
    public var trainAccuracy: Double
    public init(epoch: Double, loss: Double, trainAccuracy: Double) {
      self.epoch = epoch
      self.loss = loss
      self.trainAccuracy = trainAccuracy
    }
  }

  public init(
    network: String, parameterCount: Int, flopsPerExample: Int, epochs: Int, finalLoss: Double,
    trainAccuracy: Double, testAccuracy: Double, examplesPerSecond: Double, wallSeconds: Double,
    lossPerEpoch: [Double] = [], trainAccuracyPerEpoch: [Double] = [],
    testAccuracyPerEpoch: [Double] = [], trainingCurve: [CurvePoint] = []
  ) {
    self.network = network
    self.parameterCount = parameterCount
    self.flopsPerExample = flopsPerExample
    self.epochs = epochs
    self.finalLoss = finalLoss
    self.trainAccuracy = trainAccuracy
    self.testAccuracy = testAccuracy
    self.examplesPerSecond = examplesPerSecond
    self.wallSeconds = wallSeconds
    self.lossPerEpoch = lossPerEpoch
    self.trainAccuracyPerEpoch = trainAccuracyPerEpoch
    self.testAccuracyPerEpoch = testAccuracyPerEpoch
    self.trainingCurve = trainingCurve
  }

  private enum CodingKeys: String, CodingKey {
    case network, parameterCount, flopsPerExample, epochs, finalLoss, trainAccuracy
    case testAccuracy, examplesPerSecond, wallSeconds, lossPerEpoch, trainAccuracyPerEpoch
    case testAccuracyPerEpoch, trainingCurve, bookTestAccuracy, cachedAt
  }

  /// Decodes records written before `trainingCurve` existed too (the committed `Output/`
  /// and a reader's own), so that the index and `chapter list` still show them.
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    network = try c.decode(String.self, forKey: .network)
    parameterCount = try c.decode(Int.self, forKey: .parameterCount)
    flopsPerExample = try c.decode(Int.self, forKey: .flopsPerExample)
    epochs = try c.decode(Int.self, forKey: .epochs)
    finalLoss = try c.decode(Double.self, forKey: .finalLoss)
    trainAccuracy = try c.decode(Double.self, forKey: .trainAccuracy)
    testAccuracy = try c.decode(Double.self, forKey: .testAccuracy)
    examplesPerSecond = try c.decode(Double.self, forKey: .examplesPerSecond)
    wallSeconds = try c.decode(Double.self, forKey: .wallSeconds)
    lossPerEpoch = try c.decode([Double].self, forKey: .lossPerEpoch)
    trainAccuracyPerEpoch = try c.decode([Double].self, forKey: .trainAccuracyPerEpoch)
    testAccuracyPerEpoch = try c.decode([Double].self, forKey: .testAccuracyPerEpoch)
    trainingCurve = try c.decodeIfPresent([CurvePoint].self, forKey: .trainingCurve) ?? []
    bookTestAccuracy = try c.decodeIfPresent(Double.self, forKey: .bookTestAccuracy)
    cachedAt = try c.decodeIfPresent(Date.self, forKey: .cachedAt)
  }
}

/// The test accuracies a training log states: every `test acc 0.874` in it, in order. The book's
/// reference blocks and `trainCh6`'s own log line share this format.
public func testAccuracies(in log: String) -> [Double] {
  var found: [Double] = []
  var rest = Substring(log)
  while let r = rest.range(of: "test acc ") {
    rest = rest[r.upperBound...]
    let number = rest.prefix { $0.isNumber || $0 == "." }
    if let v = Double(number) { found.append(v) }
  }
  return found
}

extension TrainingSummary {
  /// The book's test accuracy (`0.874`) and this run's difference from it (`-0.040`), as the
  /// reports and the index print them; nil when the book states none.
  public var againstBook: (book: String, difference: String)? {
    bookTestAccuracy.map {
      (accuracyText($0), accuracyDifference(testAccuracy, book: $0))
    }
  }
}

/// An accuracy as the reports print it: three decimals, or four when the fourth is not zero
/// (`0.874`, `0.8675`). A 2,000- or 10,000-image test set's accuracy is a multiple of 0.0005
/// or 0.0001, so four decimals are exact; rounded to three, 0.8675 would read as 0.868 and
/// meet a target of 0.868 that it misses.
public func accuracyText(_ v: Double) -> String {
  decimalText(v, sign: "")
}

/// `+0.012`, `-0.236` or `-0.0305`: a run's test accuracy less the book's, with the decimals
/// of `accuracyText`. Both are rounded to four decimals first, so that the difference of two
/// exact figures carries no float residue into its last digit.
public func accuracyDifference(_ run: Double, book: Double) -> String {
  decimalText(((run * 1e4).rounded() - (book * 1e4).rounded()) / 1e4, sign: "+")
}

private func decimalText(_ v: Double, sign: String) -> String {
  let four = String(format: "%\(sign).4f", v)
  return four.hasSuffix("0") ? String(format: "%\(sign).3f", v) : four
}

/// An SVG figure a cell produced.
public struct Figure: Sendable, Equatable {
  /// A complete `<svg>` element (no XML declaration, so it can be inlined in HTML).
  public var svg: String
  public var caption: String
  public init(svg: String, caption: String) {
    self.svg = svg
    self.caption = caption
  }
}
