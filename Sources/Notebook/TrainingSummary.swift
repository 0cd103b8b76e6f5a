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

  public init(
    network: String, parameterCount: Int, flopsPerExample: Int, epochs: Int, finalLoss: Double,
    trainAccuracy: Double, testAccuracy: Double, examplesPerSecond: Double, wallSeconds: Double,
    lossPerEpoch: [Double] = [], trainAccuracyPerEpoch: [Double] = [],
    testAccuracyPerEpoch: [Double] = []
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
  }
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
