import Foundation
import Testing
import Engine

extension EngineTests {
  @Suite struct ConcatenateAndGemm {
    @Test(arguments: [1, 0, -1, 3])
    func concatenateForwardAndGradients(axis: Int) {
      var rng = TestRNG(41)
      var shapes = [[Int]](repeating: [2, 3, 2, 4], count: 3)
      let ax = axis < 0 ? axis + 4 : axis
      for i in shapes.indices { shapes[i][ax] = [3, 1, 2][i] }
      let ts = shapes.map { rng.uniform($0) }
      let y = concatenate(ts, axis: axis)
      var expectedShape = shapes[0]
      expectedShape[ax] = 6
      #expect(y.shape == expectedShape)
      // Reference: element (i0..i3) comes from the input whose range holds index[ax].
      var ref: [Double] = []
      func visit(_ idx: [Int], _ d: Int) {
        if d == 4 {
          var j = idx[ax], k = 0
          while j >= shapes[k][ax] { j -= shapes[k][ax]; k += 1 }
          var src = idx
          src[ax] = j
          ref.append(Double(ts[k][src[0], src[1], src[2], src[3]]))
          return
        }
        for i in 0..<expectedShape[d] { visit(idx + [i], d + 1) }
      }
      visit([], 0)
      expectClose(y.scalars, ref, tol: 0, "concatenate axis \(axis)")
      checkGradients("concatenate axis \(axis)", wrt: ts) { concatenate(ts, axis: axis) }
      // Only some inputs require a gradient; the same tensor twice.
      let fixed = ts[1].detached()
      checkGradients("concatenate mixed axis \(axis)", wrt: [ts[0], ts[2]]) {
        concatenate([ts[0], fixed, ts[2]], axis: axis)
      }
      checkGradients("concatenate twice axis \(axis)", wrt: [ts[0]]) {
        concatenate([ts[0], ts[0]], axis: axis).squared()
      }
    }

    /// Large enough that `gemm` splits the product across threads, in every
    /// layout (rows or columns of C, transposed or not).
    @Test(arguments: [(512, 300, 10), (256, 20, 300), (96, 40, 130)])
    func denseProductsSplitAcrossThreads(n: Int, inF: Int, outF: Int) {
      var rng = TestRNG(42)
      let x = rng.uniform([n, inF]).requiringGrad()
      let w = rng.uniform([outF, inF]).requiringGrad()
      let r = rng.uniform([n, outF])
      var refY = [Double](repeating: 0, count: n * outF)
      var refDW = [Double](repeating: 0, count: outF * inF)
      var refDX = [Double](repeating: 0, count: n * inF)
      let xs = x.scalars.map(Double.init), ws = w.scalars.map(Double.init), rs = r.scalars.map(Double.init)
      for i in 0..<n {
        for j in 0..<outF {
          var s = 0.0
          for k in 0..<inF {
            s += xs[i * inF + k] * ws[j * inF + k]
            refDW[j * inF + k] += rs[i * outF + j] * xs[i * inF + k]
            refDX[i * inF + k] += rs[i * outF + j] * ws[j * inF + k]
          }
          refY[i * outF + j] = s
        }
      }
      for threads in [1, 2, 3] {
        ComputeThreads.set(threads)
        defer { ComputeThreads.set(1) }
        x.zeroGrad()
        w.zeroGrad()
        var y: Tensor!
        Autograd.record { () -> Tensor in
          y = dense(x, weight: w, bias: nil)
          return (y * r).sum()
        }.backward()
        expectClose(y.scalars, refY, tol: 1e-4, "dense \(n)x\(inF)->\(outF) threads \(threads)")
        expectClose(w.grad!.scalars, refDW, tol: 1e-4, "dW threads \(threads)")
        expectClose(x.grad!.scalars, refDX, tol: 1e-4, "dX threads \(threads)")
      }
    }

    /// Many filters over few input channels: the weight gradient's product is
    /// taller than wide, so it is split by rows.
    @Test func convolutionProductsSplitAcrossThreads() {
      var rng = TestRNG(43)
      let x = rng.uniform([4, 2, 24, 24])
      let w = rng.uniform([64, 2, 3, 3], -0.3, 0.3)
      let ref = conv2dRef(x, w, nil, stride: (1, 1), padding: (1, 1))
      var grads: [[Float]] = []
      for threads in [1, 2] {
        ComputeThreads.set(threads)
        defer { ComputeThreads.set(1) }
        x.requiresGrad = true
        w.requiresGrad = true
        x.zeroGrad()
        w.zeroGrad()
        var y: Tensor!
        Autograd.record { () -> Tensor in
          y = conv2d(x, weight: w, bias: nil, stride: (1, 1), padding: (1, 1))
          return y.squared().sum()
        }.backward()
        expectClose(y.scalars, ref.values, tol: 1e-5, "conv threads \(threads)")
        grads.append(w.grad!.scalars + x.grad!.scalars)
      }
      let scale = grads[0].map { Double(abs($0)) }.max()!
      expectClose(grads[1].map { Float(Double($0) / scale) }, grads[0].map { Double($0) / scale },
                  tol: 1e-5, "conv gradients, 2 threads vs 1")
    }
  }
}
