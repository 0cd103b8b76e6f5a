import Foundation
import Testing
@testable import Engine

extension EngineTests {
  /// Every fast path's backward pass against `Reference`'s loops: the same gradients for a
  /// random output gradient, on the shapes that select each path (groups of images side by
  /// side, pointwise and single-pixel GEMMs, the input gradient as a convolution, trimmed
  /// kernels, pooling sixteen planes at a time, batch norm over rows and over planes).
  @Suite struct BackwardReference {
    /// Runs `f` on the tape, backpropagates `dy` (a fixed random tensor shaped like its
    /// output) and returns the output, `dy` and the gradients of `wrt`.
    static func gradients(
      of wrt: [Tensor], seed: UInt64 = 41, train: Bool = true, _ f: () -> Tensor
    ) -> (y: Tensor, dy: Tensor, grads: [[Float]]) {
      for t in wrt { t.requiresGrad = true; t.zeroGrad() }
      var rng = TestRNG(seed)
      var y: Tensor!
      var dy: Tensor!
      let loss = Autograd.record(train: train) { () -> Tensor in
        y = f()
        dy = rng.uniform(y.shape)
        return (y * dy).sum()
      }
      loss.backward()
      return (y.detached(), dy, wrt.map { $0.grad?.scalars ?? [Float](repeating: 0, count: $0.count) })
    }

    static func expectMatch(
      _ actual: [Float], _ expected: Tensor, tol: Double = 1e-4, _ what: String,
      sourceLocation: SourceLocation = #_sourceLocation
    ) {
      expectClose(actual, expected.scalars.map(Double.init), tol: tol, what, sourceLocation: sourceLocation)
    }

    @Test(arguments: ForwardReference.convCases + convBackwardCases)
    func conv2dBackwardMatchesReference(_ cs: ForwardReference.ConvCase) {
      for (threads, columns) in [(1, 256), (2, 256), (2, 8)] {
        ComputeThreads.set(threads)
        ConvolutionGrouping.columns = columns
        defer {
          ComputeThreads.set(1)
          ConvolutionGrouping.columns = 256
        }
        var rng = TestRNG(42)
        let x = rng.uniform([cs.n, cs.c, cs.h, cs.w])
        let w = rng.uniform([cs.o, cs.c, cs.k, cs.k], -0.5, 0.5)
        let b: Tensor? = cs.bias ? rng.uniform([cs.o]) : nil
        let (s, p) = ((cs.stride, cs.stride), (cs.padding, cs.padding))
        let fast = Self.gradients(of: [x, w] + (b.map { [$0] } ?? [])) {
          conv2d(x, weight: w, bias: b, stride: s, padding: p, activation: cs.activation)
        }
        let z = Reference.conv2d(x, weight: w, bias: b, stride: s, padding: p)
        let dz = Reference.activationBackward(
          cs.activation, output: Reference.activate(z, cs.activation), outputGradient: fast.dy)
        let ref = Reference.conv2dBackward(x, weight: w, outputGradient: dz, stride: s, padding: p)
        let what = "\(cs), threads \(threads), columns \(columns)"
        let tol = cs.backwardTolerance
        Self.expectMatch(fast.grads[0], ref.input, tol: tol, "conv2d dx \(what)")
        Self.expectMatch(fast.grads[1], ref.weight, tol: tol, "conv2d dw \(what)")
        if b != nil { Self.expectMatch(fast.grads[2], ref.bias, tol: tol, "conv2d db \(what)") }
      }
    }

    /// Shapes the forward cases leave out: more outputs than inputs at stride 1 and the
    /// same size (col2im) against fewer (the input gradient as a convolution), pointwise
    /// convolutions of small and of large planes, and 1x1 planes under 3x3 and 5x5 kernels
    /// (cut to their centre tap, then one GEMM over the batch).
    static let convBackwardCases: [ForwardReference.ConvCase] = [
      .init(n: 4, c: 8, h: 4, w: 4, o: 3, k: 3, padding: 1, activation: .relu),
      .init(n: 4, c: 3, h: 4, w: 4, o: 8, k: 3, padding: 1),
      .init(n: 5, c: 6, h: 2, w: 2, o: 4, k: 1, activation: .relu),
      .init(n: 2, c: 5, h: 16, w: 17, o: 3, k: 1),
      .init(n: 6, c: 7, h: 1, w: 1, o: 5, k: 3, padding: 1, activation: .relu),
      .init(n: 3, c: 4, h: 2, w: 2, o: 6, k: 5, padding: 2),
      .init(n: 3, c: 4, h: 1, w: 1, o: 6, k: 5, padding: 2, bias: false),
    ]

    @Test(arguments: ForwardReference.poolCases)
    func maxPoolBackwardMatchesReference(_ pc: ForwardReference.PoolCase) {
      var rng = TestRNG(43)
      let x = rng.distinct(pc.shape)  // no ties: each window has one winner
      let fast = Self.gradients(of: [x]) { maxPool2d(x, kernel: pc.k, stride: pc.s, padding: pc.p) }
      let dx = Reference.maxPool2dBackward(
        x, outputGradient: fast.dy, kernel: pc.k, stride: pc.s, padding: pc.p)
      Self.expectMatch(fast.grads[0], dx, tol: 1e-6, "maxPool2d dx \(pc)")
    }

    @Test(arguments: ForwardReference.poolCases)
    func avgPoolBackwardMatchesReference(_ pc: ForwardReference.PoolCase) {
      var rng = TestRNG(44)
      let x = rng.uniform(pc.shape)
      let fast = Self.gradients(of: [x]) { avgPool2d(x, kernel: pc.k, stride: pc.s, padding: pc.p) }
      let dx = Reference.avgPool2dBackward(
        x, outputGradient: fast.dy, kernel: pc.k, stride: pc.s, padding: pc.p)
      Self.expectMatch(fast.grads[0], dx, tol: 1e-6, "avgPool2d dx \(pc)")
    }

    struct NormCase: CustomStringConvertible, Sendable {
      var shape: [Int]
      var training: Bool
      var activation: Activation
      var description: String { "\(shape) \(training ? "training" : "prediction") \(activation)" }
    }

    /// The last shape's seven channels split 3 and 4 between two threads.
    static let normCases: [NormCase] = [[6, 5], [5, 3, 4, 4], [3, 2, 1, 1], [4, 7, 3, 5]]
      .flatMap { shape in
        [true, false].flatMap { training in
          [Activation.none, .relu, .sigmoid].map {
            NormCase(shape: shape, training: training, activation: $0)
          }
        }
      }

    /// Forward, moving statistics and backward, with the activation batch norm can fuse; on
    /// two threads too, each walking the images over its own range of channels.
    @Test(arguments: normCases, [1, 2])
    func batchNormMatchesReference(_ nc: NormCase, threads: Int) {
      ComputeThreads.set(threads)
      defer { ComputeThreads.set(1) }
      var rng = TestRNG(45)
      let c = nc.shape[1]
      let x = rng.uniform(nc.shape, -2, 3)
      let gamma = rng.uniform([c], 0.5, 2), beta = rng.uniform([c])
      let mm = rng.uniform([c]), mv = rng.uniform([c], 0.2, 3)
      let (eps, momentum): (Float, Float) = (1e-5, 0.9)
      let ref = Reference.batchNorm(
        x, gamma: gamma, beta: beta, movingMean: mm, movingVar: mv, eps: eps, momentum: momentum,
        training: nc.training)
      let fast = Self.gradients(of: [x, gamma, beta], train: nc.training) {
        batchNorm(x, gamma: gamma, beta: beta, movingMean: mm, movingVar: mv, eps: eps,
                  momentum: momentum, activation: nc.activation)
      }
      let out = Reference.activate(ref.output, nc.activation)
      Self.expectMatch(fast.y.scalars, out, "batchNorm y \(nc), threads \(threads)")
      Self.expectMatch(mm.scalars, ref.movingMean, tol: 1e-5, "moving mean \(nc)")
      Self.expectMatch(mv.scalars, ref.movingVar, tol: 1e-5, "moving variance \(nc)")
      // The reference's statistics are those the pass started from: in training the
      // backward pass does not read them.
      let (mm0, mv0) = nc.training ? (mm, mv) : (ref.movingMean, ref.movingVar)
      let dz = Reference.activationBackward(nc.activation, output: out, outputGradient: fast.dy)
      let grads = Reference.batchNormBackward(
        x, gamma: gamma, movingMean: mm0, movingVar: mv0, eps: eps, training: nc.training,
        outputGradient: dz)
      Self.expectMatch(fast.grads[0], grads.input, tol: 2e-4, "batchNorm dx \(nc), threads \(threads)")
      Self.expectMatch(fast.grads[1], grads.gamma, tol: 2e-4, "batchNorm dgamma \(nc)")
      Self.expectMatch(fast.grads[2], grads.beta, tol: 2e-4, "batchNorm dbeta \(nc)")
    }

    @Test(arguments: [(true, Activation.none), (false, .relu), (true, .sigmoid)])
    func denseBackwardMatchesReference(bias: Bool, activation: Activation) {
      var rng = TestRNG(46)
      let x = rng.uniform([5, 7]), w = rng.uniform([3, 7])
      let b: Tensor? = bias ? rng.uniform([3]) : nil
      let fast = Self.gradients(of: [x, w] + (b.map { [$0] } ?? [])) {
        dense(x, weight: w, bias: b, activation: activation)
      }
      let y = Reference.activate(Reference.dense(x, weight: w, bias: b), activation)
      Self.expectMatch(fast.y.scalars, y, tol: 1e-5, "dense y")
      let dz = Reference.activationBackward(activation, output: y, outputGradient: fast.dy)
      let ref = Reference.denseBackward(x, weight: w, outputGradient: dz)
      Self.expectMatch(fast.grads[0], ref.input, "dense dx")
      Self.expectMatch(fast.grads[1], ref.weight, "dense dw")
      if b != nil { Self.expectMatch(fast.grads[2], ref.bias, "dense db") }
    }
  }
}
