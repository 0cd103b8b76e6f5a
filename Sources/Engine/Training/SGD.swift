/// Minibatch stochastic gradient descent: `w -= lr * grad`, then the gradient
/// is zeroed. The loss is a batch mean, so `lr` is the book's learning rate.
public final class SGD {
  public var learningRate: Float
  public let parameters: [Tensor]

  public init(_ parameters: [Tensor], learningRate: Float) {
    self.parameters = parameters
    self.learningRate = learningRate
  }

  public func step() {
    let lr = learningRate
    for p in parameters {
      guard let g = p.grad else { continue }
      let w = p.data, d = g.data
      nonisolated(unsafe) let captured = (w, d)
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
