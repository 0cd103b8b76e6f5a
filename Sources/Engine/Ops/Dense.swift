/// Fully connected layer: `y = act(x · wᵀ + b)`.
///
/// - input: `[N, inFeatures]`; weight: `[outFeatures, inFeatures]`; bias: `[outFeatures]` or nil.
/// - returns: `[N, outFeatures]`.
///
/// It computes `Reference.dense` and `Reference.denseBackward`, each product as one GEMM
/// (the forward pass of a large layer for a batch of 33 to 64 rows: `SkinnyDense`).
public func dense(_ x: Tensor, weight w: Tensor, bias b: Tensor?, activation: Activation = .none) -> Tensor {
  require(x.rank == 2 && w.rank == 2 && x.shape[1] == w.shape[1],
    "dense: input \(x.shape) does not match weight \(w.shape)")
  let n = x.shape[0], inF = w.shape[1], outF = w.shape[0]
  let y = Tensor(uninitializedShape: [n, outF])
  FLOPCounter.add(2 * n * inF * outF)
  if SkinnyDense.applies(rows: n, inFeatures: inF, outFeatures: outF) {
    SkinnyDense.forward(
      x.data, w.data, bias: b.map { UnsafePointer($0.data) }, activation: activation, rows: n,
      inFeatures: inF, outFeatures: outF, into: y.data)
  } else {
    gemm(transB: true, m: n, n: outF, k: inF, x.data, lda: inF, w.data, ldb: inF, y.data, ldc: outF)
    if b != nil || activation != .none {
      let bp = b.map { UnsafePointer($0.data) }
      for i in 0..<n {
        let row = y.data + i * outF
        for j in 0..<outF { row[j] = activation.apply(row[j] + (bp?[j] ?? 0)) }
      }
    }
  }
  var inputs = [x, w]
  if let b { inputs.append(b) }
  return Autograd.record(y, inputs) { dy in
    let dz = activationGrad(activation, output: y, grad: dy)
    if let b, b.requiresGrad {
      let db = b.gradBuffer()
      for i in 0..<n {
        let row = dz.data + i * outF
        for j in 0..<outF { db[j] += row[j] }
      }
    }
    // The input's gradient first: it reads the weight, which a fused step (below) changes.
    if x.requiresGrad {
      gemm(m: n, n: inF, k: outF, dz.data, lda: outF, w.data, ldb: inF, beta: 1, x.gradBuffer(),
           ldc: inF)
    }
    guard w.requiresGrad else { return }
    if let step = w.fusedUpdate, step.appliesNow {
      gemm(transA: true, m: outF, n: inF, k: n, alpha: -step.rate, dz.data, lda: outF, x.data,
           ldb: inF, beta: 1, w.data, ldc: inF)
      step.applied = true
    } else {
      gemm(transA: true, m: outF, n: inF, k: n, dz.data, lda: outF, x.data, ldb: inF, beta: 1,
           w.gradBuffer(), ldc: inF)
    }
  }
}
