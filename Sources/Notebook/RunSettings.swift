/// The settings a run uses, for cells and for D2L (data subsets, seeds, threads).
public struct RunSettings: Sendable, Equatable {
  public var profile: String
  public var seed: UInt64
  public var threads: Int
  /// Number of Fashion-MNIST training images to use; `nil` means all 60,000.
  public var trainSubset: Int?
  /// Number of test images to use; `nil` means all 10,000.
  public var testSubset: Int?
  public var quiet: Bool
  /// Set by `chapter check`: training functions return at once without training, so that
  /// the cells' checked outputs (shapes, summaries) are verified in seconds.
  public var skipTraining = false
  /// Set by `chapter bench`: the first training whose network's name contains this text does
  /// not run; `trainCh6` leaves the network, its data and its rate in
  /// `NotebookSession.capturedTraining` and returns as a skipped training does, and so do
  /// the section's later trainings.
  public var captureNetwork: String?
  /// `--resume`: a training whose checkpoint exists (same section, cell, code and
  /// parameters) continues from it instead of starting afresh.
  public var resume = false
  /// Trainings are looked up in, and stored to, the training cache (`TrainingCache`);
  /// `--no-cache` turns it off (a cached result is then recomputed, and not stored).
  public var useCache = true

  public init(
    profile: String = "book", seed: UInt64 = 0, threads: Int = 1, trainSubset: Int? = nil,
    testSubset: Int? = nil, quiet: Bool = false
  ) {
    self.profile = profile
    self.seed = seed
    self.threads = threads
    self.trainSubset = trainSubset
    self.testSubset = testSubset
    self.quiet = quiet
  }
}
