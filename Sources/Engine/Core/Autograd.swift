import Foundation

/// Reverse-mode automatic differentiation on a tape of coarse operations.
///
/// As in MXNet, operations are recorded only inside `Autograd.record { }`,
/// which also switches layers such as dropout and batch norm to training
/// mode; outside it the engine runs in prediction mode and records nothing.
/// Each recorded operation stores one closure that, given the gradient of its
/// result, accumulates into its inputs' gradients.
public enum Autograd {
  // Safe, as the tape and the mode below: one network runs at a time, on one thread; the
  // kernels' worker threads never record or read the mode (tests serialize the engine suites).
  nonisolated(unsafe) public internal(set) static var isRecording = false
  /// Training mode: dropout drops, batch norm uses batch statistics and
  /// updates its moving averages.
  nonisolated(unsafe) public private(set) static var isTraining = false

  nonisolated(unsafe) static var tape: [TapeEntry] = []

  /// Runs `body` recording operations for a later `backward()`, in training
  /// mode (or prediction mode with `train: false`).
  public static func record<R>(train: Bool = true, _ body: () throws -> R) rethrows -> R {
    let (wasRecording, wasTraining) = (isRecording, isTraining)
    isRecording = true
    isTraining = train
    // A recorded pass is the start of a step that will change the weights.
    PredictionCache.clear()
    defer { (isRecording, isTraining) = (wasRecording, wasTraining) }
    return try body()
  }

  /// Runs `body` in prediction mode without recording. Matrices that depend on a weight
  /// alone are derived once per block (`PredictionCache`): the parameters are not to be
  /// changed inside `body` other than by an optimizer, an initializer or a checkpoint load.
  public static func predict<R>(_ body: () throws -> R) rethrows -> R {
    let (wasRecording, wasTraining) = (isRecording, isTraining)
    isRecording = false
    isTraining = false
    PredictionCache.depth += 1
    defer {
      (isRecording, isTraining) = (wasRecording, wasTraining)
      PredictionCache.depth -= 1
      if PredictionCache.depth == 0 { PredictionCache.clear() }
    }
    return try body()
  }

  /// Forgets every recorded operation (and the intermediate results they hold).
  public static func clearTape() { tape.removeAll(keepingCapacity: true) }

  /// Records `output` as computed from `inputs` when recording and some input
  /// requires a gradient; returns `output`.
  @inline(__always)
  static func record(
    _ output: Tensor, _ inputs: [Tensor], backward: @escaping (Tensor) -> Void
  ) -> Tensor {
    guard isRecording, inputs.contains(where: { $0.requiresGrad }) else { return output }
    output.requiresGrad = true
    output.isLeaf = false
    for t in inputs { t.fusedUpdate?.uses += 1 }
    tape.append(TapeEntry(slot: output.gradientSlot, backward: backward, label: profileLabel))
    return output
  }
}

/// One recorded operation. It holds the result's gradient slot, not the result: the
/// result's values stay alive only while something that needs them (a later operation's
/// backward, or this one's, such as ReLU's) holds them. So a batch norm's output, which the
/// ReLU after it does not need for its backward, is freed as soon as the ReLU has run.
struct TapeEntry {
  let slot: GradientSlot
  let backward: (Tensor) -> Void
  /// `Autograd.profileLabel` when the operation was recorded (for per-layer profiles).
  let label: String?
}

extension Autograd {
  /// While set, recorded operations are attributed to this label (a layer's name), and
  /// `backward()` adds the time of their backward kernels to `backwardSeconds[label]`.
  /// Safe as the tape: set and read on the thread that runs the network.
  nonisolated(unsafe) public static var profileLabel: String?
  /// Backward time per label, accumulated while `profileLabel` labels were recorded (on
  /// the same thread, after the parallel kernels have returned).
  nonisolated(unsafe) public static var backwardSeconds: [String: Double] = [:]
}

extension Tensor {
  /// Computes the gradient of this tensor (a scalar, or seeded with ones) with
  /// respect to every tensor that requires one, accumulating into `grad`,
  /// then clears the tape.
  ///
  /// Entries leave the tape as their backward runs: by then every operation that used an
  /// entry's result has run its own backward (the tape is in the order of computation), so
  /// the result's gradient is complete and consumed, and it is dropped, as is the entry's
  /// closure with the tensors it kept alive. Activations and their gradients are freed layer
  /// by layer, as in PyTorch, instead of all at the end: a training step needs about half
  /// the memory.
  public func backward() {
    require(requiresGrad, "backward() on a tensor that does not depend on any parameter")
    // SGD's fused updates change weights during the backward pass itself.
    PredictionCache.clear()
    let seed = gradBuffer()
    seed.update(repeating: 1, count: count)
    let wasRecording = Autograd.isRecording
    Autograd.isRecording = false
    defer { Autograd.isRecording = wasRecording }
    var pending: [TapeEntry] = []
    swap(&pending, &Autograd.tape)
    while let entry = pending.popLast() {
      guard let g = entry.slot.grad else { continue }
      if let label = entry.label {
        let start = monotonicSeconds()
        entry.backward(g)
        Autograd.backwardSeconds[label, default: 0] += monotonicSeconds() - start
      } else {
        entry.backward(g)
      }
      // Recorded results are never leaves (a parameter keeps its gradient): this one's
      // gradient is consumed. The closure may have changed it in place (see `activationGrad`).
      entry.slot.grad = nil
    }
    // Hand the emptied array back, so that the next step records without reallocating.
    swap(&pending, &Autograd.tape)
  }
}

/// Where one tensor's gradient accumulates, apart from the tensor itself (see `TapeEntry`).
final class GradientSlot {
  let shape: [Int]
  var grad: Tensor?

  init(shape: [Int]) { self.shape = shape }

  /// The gradient buffer, allocated and zeroed on first use.
  func buffer() -> UnsafeMutablePointer<Float> {
    if let g = grad { return g.data }
    let g = Tensor(zeros: shape)
    grad = g
    return g.data
  }

  /// Adds `g` (shaped like a broadcast result) into the gradient, summing over the
  /// dimensions this tensor was broadcast along.
  func accumulateBroadcast(_ g: Tensor) {
    let dst = buffer()
    if g.shape == shape {
      let src = g.data
      let captured = (src, dst)
      parallelRanges(g.count, minPerThread: parallelElementThreshold) { r in
        let (src, dst) = captured
        for i in r { dst[i] += src[i] }
      }
    } else {
      sumReduce(g.data, shape: g.shape, into: dst, outShape: shape)
    }
  }
}
