/// Batch normalization: the reference for `batchNorm`.
///
/// Per channel `c`, over the batch and (for images) every pixel, `m` values in all:
///
///     mean = Σ x / m,   variance = Σ (x - mean)² / m   (biased, as the book computes it)
///     x̂ = (x - mean) / sqrt(variance + eps),   y = gamma · x̂ + beta
///
/// In training the batch's own mean and variance are used, and the moving statistics move
/// towards them: `moving = momentum · moving + (1 - momentum) · batch`. In prediction the
/// moving statistics stand in for the batch's, and the output is an affine map of the input.
///
/// The fast version (`Ops/BatchNormalization.swift`) takes both moments in one pass, about a
/// shift so that they do not cancel, and can apply a ReLU in the same pass.
extension Reference {
  /// - input `[N, C]` or `[N, C, H, W]`; gamma, beta and the moving statistics `[C]`.
  /// - returns: the output, shaped like the input, and the moving statistics after this pass
  ///   (unchanged in prediction).
  public static func batchNorm(
    _ x: Tensor, gamma: Tensor, beta: Tensor, movingMean: Tensor, movingVar: Tensor,
    eps: Float, momentum: Float, training: Bool
  ) -> (output: Tensor, movingMean: Tensor, movingVar: Tensor) {
    let channels = BatchNormChannels(x)
    var y = [Float](repeating: 0, count: x.count)
    var newMean = movingMean.scalars, newVar = movingVar.scalars
    for c in 0..<channels.count {
      let elements = channels.elements(c)
      var (mean, variance) = (Double(movingMean.data[c]), Double(movingVar.data[c]))
      if training {
        (mean, variance) = channels.moments(x, elements)
        let k = Double(momentum)
        newMean[c] = Float(k * Double(movingMean.data[c]) + (1 - k) * mean)
        newVar[c] = Float(k * Double(movingVar.data[c]) + (1 - k) * variance)
      }
      let inv = 1 / (variance + Double(eps)).squareRoot()
      for e in elements {
        y[e] = Float(Double(gamma.data[c]) * (Double(x.data[e]) - mean) * inv + Double(beta.data[c]))
      }
    }
    return (Tensor(y, shape: x.shape), Tensor(newMean, shape: movingMean.shape),
            Tensor(newVar, shape: movingVar.shape))
  }

  /// The gradients of `batchNorm` given the output's gradient `dy`. In training the batch's
  /// mean and variance depend on every input, so each input's gradient has two more terms:
  ///
  ///     dgamma = Σ dy · x̂,   dbeta = Σ dy
  ///     dx = gamma / sqrt(variance + eps) · (dy - dbeta / m - x̂ · dgamma / m)
  ///
  /// In prediction the statistics are constants and `dx = gamma / sqrt(moving variance + eps) · dy`.
  public static func batchNormBackward(
    _ x: Tensor, gamma: Tensor, movingMean: Tensor, movingVar: Tensor, eps: Float,
    training: Bool, outputGradient dy: Tensor
  ) -> (input: Tensor, gamma: Tensor, beta: Tensor) {
    let channels = BatchNormChannels(x)
    var dx = [Float](repeating: 0, count: x.count)
    var dgamma = [Float](repeating: 0, count: channels.count)
    var dbeta = [Float](repeating: 0, count: channels.count)
    for c in 0..<channels.count {
      let elements = channels.elements(c)
      let (mean, variance) = training ? channels.moments(x, elements)
        : (Double(movingMean.data[c]), Double(movingVar.data[c]))
      let inv = 1 / (variance + Double(eps)).squareRoot()
      var sumDy = 0.0, sumDyXhat = 0.0
      for e in elements {
        sumDy += Double(dy.data[e])
        sumDyXhat += Double(dy.data[e]) * (Double(x.data[e]) - mean) * inv
      }
      dgamma[c] = Float(sumDyXhat)
      dbeta[c] = Float(sumDy)
      let m = Double(elements.count), k = Double(gamma.data[c]) * inv
      for e in elements {
        let xhat = (Double(x.data[e]) - mean) * inv
        let g = Double(dy.data[e])
        dx[e] = Float(training ? k * (g - sumDy / m - xhat * sumDyXhat / m) : k * g)
      }
    }
    return (Tensor(dx, shape: x.shape), Tensor(dgamma, shape: gamma.shape),
            Tensor(dbeta, shape: gamma.shape))
  }
}

/// Which elements of `[N, C]` or `[N, C, H, W]` belong to each channel.
struct BatchNormChannels {
  let images, count, pixels: Int

  init(_ x: Tensor) {
    precondition(x.rank == 2 || x.rank == 4, "batch norm expects [N, C] or [N, C, H, W], got \(x.shape)")
    (images, count) = (x.shape[0], x.shape[1])
    pixels = x.rank == 4 ? x.shape[2] * x.shape[3] : 1
  }

  func elements(_ c: Int) -> [Int] {
    var offsets: [Int] = []
    for b in 0..<images {
      let first = (b * count + c) * pixels
      offsets += first..<(first + pixels)
    }
    return offsets
  }

  /// The mean and the biased variance of these elements, in two passes.
  func moments(_ x: Tensor, _ elements: [Int]) -> (mean: Double, variance: Double) {
    let m = Double(elements.count)
    let mean = elements.reduce(0.0) { $0 + Double(x.data[$1]) } / m
    var squares = 0.0
    for e in elements {
      let d = Double(x.data[e]) - mean
      squares += d * d
    }
    let variance = squares / m
    return (mean, variance)
  }
}
