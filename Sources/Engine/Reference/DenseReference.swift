/// A fully connected layer: the reference for `dense`.
///
///     y[b, o] = bias[o] + Σ_i x[b, i] · w[o, i]
///
/// Its gradients: `dx = dy · w`, `dw = dyᵀ · x`, `dbias = Σ_b dy[b, ·]`. The fast version
/// (`Ops/Dense.swift`) is one GEMM for each of the three products.
extension Reference {
  /// - input `[N, inFeatures]`, weight `[outFeatures, inFeatures]`, bias `[outFeatures]` or nil.
  /// - returns `[N, outFeatures]`.
  public static func dense(_ x: Tensor, weight w: Tensor, bias b: Tensor?) -> Tensor {
    let (n, inputs, outputs) = (x.shape[0], x.shape[1], w.shape[0])
    precondition(x.rank == 2 && w.rank == 2 && w.shape[1] == inputs, "x \(x.shape), w \(w.shape)")
    var y = [Float](repeating: 0, count: n * outputs)
    for bi in 0..<n {
      for o in 0..<outputs {
        var sum = b.map { Double($0.data[o]) } ?? 0
        for i in 0..<inputs { sum += Double(x.data[bi * inputs + i]) * Double(w.data[o * inputs + i]) }
        y[bi * outputs + o] = Float(sum)
      }
    }
    return Tensor(y, shape: [n, outputs])
  }

  /// The gradients of `dense` given the output's gradient `dy` (`[N, outFeatures]`).
  public static func denseBackward(
    _ x: Tensor, weight w: Tensor, outputGradient dy: Tensor
  ) -> (input: Tensor, weight: Tensor, bias: Tensor) {
    let (n, inputs, outputs) = (x.shape[0], x.shape[1], w.shape[0])
    var dx = [Double](repeating: 0, count: x.count)
    var dw = [Double](repeating: 0, count: w.count)
    var db = [Double](repeating: 0, count: outputs)
    for bi in 0..<n {
      for o in 0..<outputs {
        let g = Double(dy.data[bi * outputs + o])
        db[o] += g
        for i in 0..<inputs {
          dx[bi * inputs + i] += g * Double(w.data[o * inputs + i])
          dw[o * inputs + i] += g * Double(x.data[bi * inputs + i])
        }
      }
    }
    return (Tensor(dx.map { Float($0) }, shape: x.shape), Tensor(dw.map { Float($0) }, shape: w.shape),
            Tensor(db.map { Float($0) }, shape: [outputs]))
  }
}
