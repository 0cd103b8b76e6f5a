import Datasets
import Engine
import Notebook

/// The book's `load_data_fashion_mnist`: shuffled training batches and
/// in-order test batches of Fashion-MNIST, optionally resized to
/// `resize`×`resize` (bilinear), pixels scaled to [0, 1]. Files that a
/// previous run of the same output folder read and checked, and that have not
/// changed since, are read when the first batch is made: a training the cache
/// answers never reads them.
///
/// A run profile may limit how many images are used (`trainSubset`,
/// `testSubset`); the report says so. Shuffling follows the run's seed.
///
/// - Throws: `DataUnavailable` when a file is missing or damaged (the message
///   names the file and how to install the package); `NotEnoughMemory` when the batches
///   alone would not fit (`MemoryPreflight`).
public func loadDataFashionMnist(
  batchSize: Int, resize: Int? = nil
) throws -> (train: BatchLoader, test: BatchLoader) {
  let session = NotebookSession.current
  let data: (train: ImageSource, test: ImageSource)
  do {
    // Inside a run with the cache, unchanged files are not read until a batch needs them.
    let record = session.flatMap { $0.settings.useCache ? $0.datasetRecordPath("fashion-mnist") : nil }
    data = try FashionMNIST.sources(record: record)
  } catch let error as DatasetError {
    throw DataUnavailable(message: error.description)
  }
  let settings = session?.settings
  // The run's seed (the one `prepareEngine` gave the engine); 0 outside a run.
  let seed = settings?.seed ?? 0
  try MemoryPreflight.checkBatches(
    batchSize: batchSize, side: resize ?? data.train.rows, prefetch: BatchLoader.defaultPrefetch)
  let train = BatchLoader(
    data.train, batchSize: batchSize, resize: resize, shuffle: true, seed: seed,
    subset: settings?.trainSubset)
  let test = BatchLoader(
    data.test, batchSize: batchSize, resize: resize, shuffle: false, seed: seed,
    subset: settings?.testSubset)
  return (train, test)
}

/// The data set could not be read: bad input to the run, not a failure of a cell's code.
public struct DataUnavailable: Error, CustomStringConvertible, BadInput {
  public var message: String
  public var description: String { message }
}

extension BatchLoader {
  /// Reads the images now if they are not yet in memory (`FashionMNIST.sources`), so that a
  /// file that went bad since the last run is reported as bad input before training.
  func readImages() throws {
    do {
      _ = try images()
    } catch let error as DatasetError {
      throw DataUnavailable(message: error.description)
    }
  }
}

extension Batch {
  /// The images as an `[N, 1, H, W]` tensor.
  public var tensor: Tensor { Tensor(images, shape: shape) }
}
