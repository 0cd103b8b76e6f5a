import Foundation

/// One minibatch: `count` images laid out N x 1 x H x W (grey level / 255) and their labels.
public struct Batch: Sendable {
  /// `count * height * width` floats, image after image, each row-major.
  public let images: [Float]
  /// The class of each image.
  public let labels: [Int32]
  /// The number of images; the last batch of an epoch may hold fewer than the batch size.
  public let count: Int
  public let height: Int
  public let width: Int
  /// Where each image sits in the loader's `LabeledImages`.
  public let indices: [Int]

  /// The NCHW shape of `images`.
  public var shape: [Int] { [count, 1, height, width] }
}

/// Minibatches over a `LabeledImages`, like Gluon's `DataLoader` with the book's `Resize` and
/// `ToTensor` transforms: optionally resized, optionally shuffled anew each epoch, the last
/// partial batch kept. A background thread prepares the next batches while the caller trains.
///
/// The order of epoch `e` depends only on `seed` and `e`, and the output never depends on
/// timing, so a run is reproducible. `subset` keeps a fixed, seeded random sample of the
/// images (all classes, in practice), for quick runs.
///
/// ```swift
/// let loader = BatchLoader(train, batchSize: 256, resize: 96, shuffle: true, seed: 42)
/// for epoch in 0..<10 {
///   for batch in loader.epoch(epoch) { ... }
/// }
/// ```
public final class BatchLoader: Sendable {
  /// The images batches are drawn from, read when the first batch is made.
  public let source: ImageSource
  public let batchSize: Int
  public let shuffle: Bool
  public let seed: UInt64
  /// The height and width of the images in each batch.
  public let imageHeight: Int
  public let imageWidth: Int
  /// The images in use, ascending: all of them, or the subset.
  public let indices: [Int]
  /// How many batches are prepared ahead of the consumer.
  public let prefetch: Int
  /// Batches prepared ahead unless a caller says otherwise.
  public static let defaultPrefetch = 2
  let plan: ImageResize.BilinearPlan?
  let producers = ProducerCount()

  /// - Parameters:
  ///   - resize: the side of the square output images; nil (or the images' own size) keeps
  ///     them as they are.
  ///   - subset: use only this many images, the first of a permutation drawn from `seed`;
  ///     nil, or more than there are, uses all.
  ///   - prefetch: batches prepared ahead (2 or 3 hide the preparation behind training).
  public convenience init(
    _ data: LabeledImages, batchSize: Int, resize: Int? = nil, shuffle: Bool,
    seed: UInt64 = 0, subset: Int? = nil, prefetch: Int = defaultPrefetch
  ) {
    self.init(
      ImageSource(data), batchSize: batchSize, resize: resize, shuffle: shuffle, seed: seed,
      subset: subset, prefetch: prefetch)
  }

  /// The same over images that may not be read yet: they are read when the first batch is
  /// made (`images()`).
  public init(
    _ data: ImageSource, batchSize: Int, resize: Int? = nil, shuffle: Bool,
    seed: UInt64 = 0, subset: Int? = nil, prefetch: Int = defaultPrefetch
  ) {
    require(batchSize > 0, "batch size must be positive, got \(batchSize)")
    require(resize.map { $0 > 0 } ?? true, "resize must be positive")
    require(subset.map { $0 >= 0 } ?? true, "subset must not be negative")
    require(prefetch > 0, "prefetch must be positive")
    self.source = data
    self.batchSize = batchSize
    self.shuffle = shuffle
    self.seed = seed
    self.prefetch = prefetch
    imageHeight = resize ?? data.rows
    imageWidth = resize ?? data.cols
    if imageHeight == data.rows && imageWidth == data.cols {
      plan = nil
    } else {
      plan = ImageResize.BilinearPlan(
        inputHeight: data.rows, inputWidth: data.cols,
        outputHeight: imageHeight, outputWidth: imageWidth)
    }
    if let subset, subset < data.count {
      // A stream of its own, so the subset does not follow the epoch orders.
      var rng = SplitMix64(seed: SplitMix64.mix(seed ^ 0x5AB5_E75E_ED00_0001))
      var all = Array(0..<data.count)
      rng.shuffle(&all)
      indices = all[..<subset].sorted()
    } else {
      indices = Array(0..<data.count)
    }
  }

  /// The images, read now if they were not yet.
  ///
  /// - Throws: `DatasetError` when they cannot be read.
  public func images() throws -> LabeledImages { try source.images() }

  /// The images for making batches. Whoever made the source checked its files, so a
  /// failure here means they changed during the run: nothing can go on without them.
  var data: LabeledImages {
    do {
      return try source.images()
    } catch {
      fatalError("\(error)")
    }
  }

  /// The number of examples an epoch yields.
  public var numberOfExamples: Int { indices.count }

  /// The number of batches in an epoch, the last one possibly partial.
  public var numberOfBatches: Int { (indices.count + batchSize - 1) / batchSize }

  /// The order in which epoch `epoch` visits the examples (indices into `data`).
  public func order(epoch: Int) -> [Int] {
    guard shuffle else { return indices }
    var rng = SplitMix64(seed: seed ^ SplitMix64.mix(UInt64(bitPattern: Int64(epoch))))
    var order = indices
    rng.shuffle(&order)
    return order
  }

  /// The batches of epoch `epoch`, for `for batch in loader.epoch(e)`. Iterating starts the
  /// background thread; leaving the loop early stops it.
  public func epoch(_ epoch: Int) -> Epoch { Epoch(loader: self, number: epoch) }

  /// The batches of epoch `epoch` from batch `first` on (0-based): what a resumed training
  /// still has to see of an epoch it was interrupted in. The earlier batches are not made.
  public func epoch(_ epoch: Int, from first: Int) -> Epoch {
    Epoch(loader: self, number: epoch, first: first)
  }

  /// Prepares batch `b` of an epoch whose order is `order`.
  func makeBatch(_ b: Int, order: [Int]) -> Batch {
    let start = b * batchSize
    let batchIndices = Array(order[start..<min(start + batchSize, order.count)])
    let n = batchIndices.count
    let data = self.data
    let inputSize = data.rows * data.cols
    let outputSize = imageHeight * imageWidth
    let images = [Float](unsafeUninitializedCapacity: n * outputSize) { out, initialized in
      data.pixels.withUnsafeBufferPointer { pixels in
        for (slot, index) in batchIndices.enumerated() {
          let src = pixels.baseAddress! + index * inputSize
          let dst = out.baseAddress! + slot * outputSize
          if let plan {
            plan.apply(src, into: dst)
          } else {
            for i in 0..<inputSize { dst[i] = Float(src[i]) / 255 }
          }
        }
      }
      initialized = n * outputSize
    }
    let labels = batchIndices.map { Int32(data.labels[$0]) }
    return Batch(
      images: images, labels: labels, count: n, height: imageHeight, width: imageWidth,
      indices: batchIndices)
  }

  /// The batches of one epoch.
  public struct Epoch: Sequence, Sendable {
    public let loader: BatchLoader
    public let number: Int
    /// The first batch handed out (0 but in a resumed epoch).
    public var first = 0

    public var underestimatedCount: Int { Swift.max(loader.numberOfBatches - first, 0) }

    public func makeIterator() -> BatchIterator {
      BatchIterator(loader: loader, epoch: number, first: first)
    }
  }
}

/// Hands out the batches of one epoch as a background thread prepares them. Dropping the
/// iterator (leaving a `for` loop early) stops the thread and waits for it to end, so nothing
/// outlives the loop.
public final class BatchIterator: IteratorProtocol {
  private let pipe: BatchPipe
  private let total: Int
  private var delivered = 0

  init(loader: BatchLoader, epoch: Int, first: Int = 0) {
    let first = min(max(first, 0), loader.numberOfBatches)
    total = loader.numberOfBatches - first
    pipe = BatchPipe(capacity: loader.prefetch)
    let pipe = self.pipe
    let order = loader.order(epoch: epoch)
    let end = loader.numberOfBatches
    loader.producers.change(by: 1)
    let thread = Thread {
      for b in first..<end {
        if pipe.isCancelled { break }
        if !pipe.put(loader.makeBatch(b, order: order)) { break }
      }
      loader.producers.change(by: -1)
      pipe.finish()
    }
    thread.name = "BatchLoader epoch \(epoch)"
    thread.start()
  }

  deinit { pipe.cancelAndWait() }

  public func next() -> Batch? {
    guard delivered < total else { return nil }
    delivered += 1
    // The producer makes exactly `total` batches unless cancelled, which only deinit does.
    return pipe.take()
  }
}

/// A bounded queue between one producer thread and one consumer, plus the stop handshake.
final class BatchPipe: @unchecked Sendable {
  private let condition = NSCondition()
  private var queue: [Batch] = []
  private let capacity: Int
  private var cancelled = false
  private var finished = false

  init(capacity: Int) { self.capacity = capacity }

  var isCancelled: Bool {
    condition.lock()
    defer { condition.unlock() }
    return cancelled
  }

  /// Waits for room; false if the consumer went away meanwhile.
  func put(_ batch: Batch) -> Bool {
    condition.lock()
    defer { condition.unlock() }
    while queue.count >= capacity && !cancelled { condition.wait() }
    if cancelled { return false }
    queue.append(batch)
    condition.broadcast()
    return true
  }

  func take() -> Batch {
    condition.lock()
    defer { condition.unlock() }
    while queue.isEmpty { condition.wait() }
    let batch = queue.removeFirst()
    condition.broadcast()
    return batch
  }

  /// Called by the producer as its last act.
  func finish() {
    condition.lock()
    finished = true
    condition.broadcast()
    condition.unlock()
  }

  func cancelAndWait() {
    condition.lock()
    cancelled = true
    queue.removeAll()
    condition.broadcast()
    while !finished { condition.wait() }
    condition.unlock()
  }
}

/// The number of producer threads of a loader still running (tests check none is left).
final class ProducerCount: @unchecked Sendable {
  private let lock = NSLock()
  private var count = 0

  func change(by delta: Int) {
    lock.lock()
    count += delta
    lock.unlock()
  }

  var value: Int {
    lock.lock()
    defer { lock.unlock() }
    return count
  }
}
