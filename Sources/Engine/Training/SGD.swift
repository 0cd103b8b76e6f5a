/// Minibatch stochastic gradient descent: `w -= lr * grad`, then the gradient
/// is zeroed. The loss is a batch mean, so `lr` is the book's learning rate.
///
/// With `updatesInBackward`, a dense layer's weight is updated by its own backward pass:
/// its weight-gradient product adds `-lr` times itself straight into the weight (one GEMM
/// with `alpha = -lr, beta = 1`), after the input's gradient has read the old weight. The
/// gradient is then never written, read, zeroed or kept, which for VGG's and AlexNet's
/// 4096-wide layers was the larger part of a step's memory traffic outside the GEMMs. The
/// result is the plain step's up to the rounding of one multiply-add. A weight used more than once
/// in a step (recorded uses are counted) takes the plain path. The contract: every step is
/// one recorded forward pass, one `backward()`, then `step()`; gradients are not
/// accumulated over several backward passes, nor read after them, for those weights.
public final class SGD {
  public var learningRate: Float {
    didSet { for f in fusedUpdates { f.rate = learningRate } }
  }
  public let parameters: [Tensor]
  /// The updates this optimizer left to its parameters' backward passes (none without
  /// `updatesInBackward`). Only these are its own to change or take back: a later optimizer
  /// over the same parameters replaces them.
  private let fusedUpdates: [FusedUpdate]

  public init(_ parameters: [Tensor], learningRate: Float, updatesInBackward: Bool = false) {
    self.parameters = parameters
    self.learningRate = learningRate
    fusedUpdates = updatesInBackward ? parameters.map { _ in FusedUpdate(rate: learningRate) } : []
    for (p, f) in zip(parameters, fusedUpdates) { p.fusedUpdate = f }
  }

  /// Without its optimizer, a backward pass only computes gradients again.
  deinit {
    for (p, f) in zip(parameters, fusedUpdates) where p.fusedUpdate === f { p.fusedUpdate = nil }
  }

  public func step() {
    PredictionCache.clear()
    let lr = learningRate
    for (i, p) in parameters.enumerated() {
      if i < fusedUpdates.count {
        let f = fusedUpdates[i]
        f.uses = 0
        if f.applied {
          f.applied = false
          p.dropGradient()
          continue
        }
      }
      guard let g = p.grad else { continue }
      let w = p.data, d = g.data
      let captured = (w, d)
      parallelRanges(p.count, minPerThread: parallelElementThreshold) { r in
        let (w, d) = captured
        for i in r {
          w[i] -= lr * d[i]
          d[i] = 0
        }
      }
    }
  }
}

/// The step that `SGD(updatesInBackward: true)` leaves to a parameter's backward pass.
final class FusedUpdate {
  var rate: Float
  /// Operations recorded with the parameter as an input since the last step.
  var uses = 0
  /// Whether this step's update has been applied by the backward pass.
  var applied = false

  init(rate: Float) { self.rate = rate }

  /// The backward pass may apply the step: the parameter was used once in this step.
  var appliesNow: Bool { uses == 1 && !applied }
}
