import Foundation

/// Mean softmax cross-entropy of `logits` `[N, K]` against class `labels` (N
/// values in 0..<K). Returns a scalar. Computed stably (max subtracted), and
/// its backward is the fused `(softmax - onehot) / N`.
public func softmaxCrossEntropy(_ logits: Tensor, labels: [Int32]) -> Tensor {
  require(logits.rank == 2 && logits.shape[0] == labels.count,
    "softmaxCrossEntropy: logits \(logits.shape) for \(labels.count) labels")
  let n = logits.shape[0], k = logits.shape[1]
  let probabilities = Tensor(uninitializedShape: logits.shape)
  var total: Double = 0
  for i in 0..<n {
    let row = logits.data + i * k, prob = probabilities.data + i * k
    var mx = -Float.infinity
    for j in 0..<k { mx = max(mx, row[j]) }
    var s: Float = 0
    for j in 0..<k {
      prob[j] = Foundation.exp(row[j] - mx)
      s += prob[j]
    }
    for j in 0..<k { prob[j] /= s }
    let label = Int(labels[i])
    require(label >= 0 && label < k, "label \(label) out of range 0..<\(k)")
    total += Double(mx + Foundation.log(s) - row[label])
  }
  let loss = Tensor(scalar: Float(total / Double(max(n, 1))))
  let slot = logits.gradientSlotIfRequired
  return Autograd.record(loss, [logits]) { g in
    guard let d = slot?.buffer() else { return }
    let scale = g.data[0] / Float(max(n, 1))
    for i in 0..<n {
      let prob = probabilities.data + i * k, row = d + i * k
      for j in 0..<k { row[j] += prob[j] * scale }
      row[Int(labels[i])] -= scale
    }
  }
}

extension Tensor {
  /// Index of the largest element of each row of a `[N, K]` tensor.
  public func argmaxRows() -> [Int] {
    require(rank == 2, "argmaxRows expects [N, K], got \(shape)")
    let k = shape[1]
    return (0..<shape[0]).map { i in
      let row = data + i * k
      var best = 0
      for j in 1..<max(k, 1) where row[j] > row[best] { best = j }
      return best
    }
  }
}

/// Inverted dropout: in training mode zeroes each element with probability
/// `p` and scales the rest by `1 / (1 - p)`; the identity in prediction mode.
public func dropout(_ x: Tensor, probability p: Float) -> Tensor {
  guard Autograd.isTraining, p > 0 else { return x }
  require(p < 1, "dropout probability must be below 1, got \(p)")
  let mask = Tensor(uninitializedShape: x.shape)
  let y = Tensor(uninitializedShape: x.shape)
  let keep = 1 / (1 - p)
  // The generator copied out and back: drawn through the global, each draw paid for the
  // global's access (a third of a millisecond per 100,000 elements). Same draws, same order.
  var generator = EngineRandom.generator
  let (xs, ms, ys) = (x.data, mask.data, y.data)
  for i in 0..<x.count {
    let m = generator.nextUnitFloat() < p ? 0 : keep
    ms[i] = m
    ys[i] = xs[i] * m
  }
  EngineRandom.generator = generator
  let slot = x.gradientSlotIfRequired
  return Autograd.record(y, [x]) { dy in
    guard let slot else { return }
    accumulateElements(dy.data, mask.data, into: slot.buffer(), dy.count) { $0 * $1 }
  }
}
