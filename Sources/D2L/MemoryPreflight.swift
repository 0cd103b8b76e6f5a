import Datasets
import Engine
import Foundation
import Notebook

/// Checks, before a cell loads batches or trains, that what it is about to do fits in the
/// memory this process can have (`AvailableMemory`), and refuses with a message that names
/// the parameters behind the estimate and a value that would fit. Without it, an exercise
/// such as "a batch of 4096 at 224 px" meets the kernel's OOM killer with no message at
/// all, and `resize=100000` a failed allocation with a backtrace.
///
/// The estimates are meant to be close, not safe by a wide margin: a refusal stops a run
/// the reader asked for. `chapter bench` prints the training estimate beside the measured
/// peak (BENCHMARKS.md compares them for the seven networks).
enum MemoryPreflight {
  /// Refuses loaders whose batches alone would not fit. The loader holds up to `prefetch`
  /// batches ready, one being made and one being trained on, which the step copies into a
  /// tensor: `prefetch + 3` batches of `[batchSize, 1, side, side]` floats.
  static func checkBatches(
    batchSize: Int, side: Int, prefetch: Int, available: AvailableMemory? = .current()
  ) throws {
    // Sizes below 1 are the loader's to refuse, with its own message.
    guard let available, batchSize >= 1, side >= 1 else { return }
    let needed = batchBytes(batchSize: batchSize, side: side, batches: prefetch + 3)
    guard needed > available.bytes else { return }
    let largest = largestSide(
      fitting: available.bytes, batchSize: batchSize, prefetch: prefetch)
    var message = "resize=\(side) with batchSize=\(batchSize) needs about "
      + AvailableMemory.describe(needed) + " for the batches alone ("
      + "\(prefetch + 3) batches of \(batchSize) images of \(side)×\(side) pixels, 4 bytes each); "
      + AvailableMemory.describe(available.bytes) + " are available (\(available.source))"
    if largest > 0 {
      message += "; at batchSize=\(batchSize), the batches alone allow resize up to about "
        + roundedDown(largest)
    }
    throw NotEnoughMemory(message: message + ".")
  }

  static func batchBytes(batchSize: Int, side: Int, batches: Int) -> Int {
    let (pixels, o1) = side.multipliedReportingOverflow(by: side)
    let (floats, o2) = pixels.multipliedReportingOverflow(by: batchSize)
    let (perBatch, o3) = floats.multipliedReportingOverflow(by: 4)
    let (all, o4) = perBatch.multipliedReportingOverflow(by: batches)
    return o1 || o2 || o3 || o4 ? Int.max : all
  }

  static func largestSide(fitting bytes: Int, batchSize: Int, prefetch: Int) -> Int {
    let side = (Double(bytes) / (4 * Double(batchSize) * Double(prefetch + 3))).squareRoot()
    return side.isFinite && side < 1e15 ? Int(side) : 0
  }

  /// Refuses a training whose estimated peak (`TrainingMemoryEstimate`) is over what is
  /// available. Measures `net` on one and on two examples of the loader's size first, and
  /// leaves it as it was (`Module.restoringState(after:)`), so the run's numbers do not
  /// change.
  static func checkTraining(
    _ net: Module, _ loader: BatchLoader, network: String,
    available: AvailableMemory? = .current()
  ) throws {
    guard let available else { return }
    let side = loader.imageHeight
    let estimate = TrainingMemoryEstimate(net, loader)
    guard estimate.total > available.bytes else { return }
    var message = "training \(network) with batchSize=\(loader.batchSize) at resize=\(side) "
      + "needs about " + AvailableMemory.describe(estimate.total) + " ("
      + AvailableMemory.describe(estimate.activationsPerExample) + " of activations per example × "
      + "\(loader.batchSize), " + AvailableMemory.describe(estimate.parameters)
      + " of parameters and their gradients); " + AvailableMemory.describe(available.bytes)
      + " are available (\(available.source))"
    let batch = estimate.largestBatch(fitting: available.bytes)
    if batch >= 1 {
      message += "; at resize=\(side), batchSize can be at most about \(roundedDown(batch))"
    } else {
      message += "; even one example does not fit at resize=\(side)"
    }
    throw NotEnoughMemory(message: message + ".")
  }

  /// Two significant digits, rounded down: "about 4,700", not "about 4,743".
  static func roundedDown(_ n: Int) -> String {
    guard n >= 100 else { return "\(n)" }
    var scale = 1
    while n / scale >= 100 { scale *= 10 }
    return grouped(n / scale * scale)
  }
}

/// The peak memory of a training step, estimated from recorded forward passes of one and of
/// two examples: the parameters and their gradients, what the tape keeps (per example, times
/// the batch, and a share more for the gradients that the backward pass holds while it frees
/// activations; plus what it keeps once per step, such as the kernels that convolutions of
/// small planes cut to their live taps), the batches the loader holds, the pool's slack of
/// 1/16 over the live peak (`EngineMemory`), and 64 MiB for the convolutions' workspace and
/// the rest.
public struct TrainingMemoryEstimate {
  /// Bytes of the parameters and their gradients (plain SGD keeps no other state).
  public var parameters: Int
  /// Bytes the tape keeps per example, and once per step whatever the batch.
  public var activationsPerExample: Int
  public var keptPerStep: Int
  public var batchSize: Int
  /// Bytes of the batches the loader holds at once.
  public var batches: Int

  /// The backward pass's gradients on top of the kept activations, as a share of them.
  static let backwardShare = 0.25
  static let fixedBytes = 64 << 20

  public init(
    parameters: Int, activationsPerExample: Int, keptPerStep: Int, batchSize: Int, batches: Int
  ) {
    (self.parameters, self.activationsPerExample) = (parameters, activationsPerExample)
    (self.keptPerStep, self.batchSize, self.batches) = (keptPerStep, batchSize, batches)
  }

  /// Measures `net` on examples shaped like `loader`'s images.
  init(_ net: Module, _ loader: BatchLoader) {
    self.init(
      net, side: loader.imageHeight, batchSize: loader.batchSize, batchesHeld: loader.prefetch + 3)
  }

  /// Measures `net` on `[1, 1, side, side]` and `[2, 1, side, side]` inputs, leaving it as it
  /// was. Sides over `probeSide` are not measured (the measurement itself could then not
  /// fit) but extrapolated from two sides that are, each figure as `a + b·side²` (the
  /// parameters too: a dense layer after a flatten grows with the image).
  public init(_ net: Module, side: Int, batchSize: Int, batchesHeld: Int) {
    func measure(_ side: Int) -> [Double] {
      let kept = [1, 2].map { batch in
        let summary = net.restoringState { modelSummary(net, inputShape: [batch, 1, side, side]) }
        return (parameters: summary.parameters, kept: summary.activationBytesPerExample * batch)
      }
      EngineMemory.releaseCachedBuffers()
      let perExample = max(kept[1].kept - kept[0].kept, 0)
      return [Double(kept[0].parameters * 8), Double(perExample),
              Double(max(kept[0].kept - perExample, 0))]
    }
    var figures: [Double]
    if side <= Self.probeSide {
      figures = measure(side)
    } else {
      let (large, small) = (Self.probeSide, Self.probeSide / 2)
      let (l, s) = (measure(large), measure(small))
      let (r, rl, rs) = (Double(side) * Double(side), Double(large * large), Double(small * small))
      figures = zip(l, s).map { atLarge, atSmall in
        atLarge + max((atLarge - atSmall) / (rl - rs), 0) * (r - rl)
      }
    }
    self.init(
      parameters: Self.bytes(figures[0]), activationsPerExample: Self.bytes(figures[1]),
      keptPerStep: Self.bytes(figures[2]), batchSize: batchSize,
      batches: MemoryPreflight.batchBytes(batchSize: batchSize, side: side, batches: batchesHeld))
  }

  /// The largest side measured directly: two examples' activations there are a few hundred
  /// MiB for the chapter's networks.
  static let probeSide = 1024

  static func bytes(_ value: Double) -> Int { value >= Double(Int.max) ? Int.max : Int(value) }

  /// Everything but the batch's activations.
  var fixed: Double {
    (Double(parameters) + Double(keptPerStep)) * 17 / 16 + Double(Self.fixedBytes) + Double(batches)
  }
  var perExample: Double { Double(activationsPerExample) * (1 + Self.backwardShare) * 17 / 16 }

  public var total: Int { Self.bytes(fixed + perExample * Double(batchSize)) }

  /// The largest batch whose estimate fits in `bytes` (the batches' share scaled with it).
  func largestBatch(fitting bytes: Int) -> Int {
    let perBatchData = Double(batches) / Double(max(batchSize, 1))
    let room = Double(bytes) - (fixed - Double(batches))
    guard room > 0 else { return 0 }
    return Int(room / (perExample + perBatchData))
  }
}

/// The run would need more memory than the process can have: bad input (a parameter set too
/// high), so the CLI exits with code 2.
public struct NotEnoughMemory: Error, CustomStringConvertible, BadInput {
  public var message: String
  public var description: String { message }
}
