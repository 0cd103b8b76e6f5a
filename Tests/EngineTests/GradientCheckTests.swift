import Foundation
import Testing
import Engine

extension EngineTests {
  /// Finite-difference checks of every differentiable operation.
  @Suite struct GradientChecks {
    // MARK: Convolution

    struct ConvCase: CustomStringConvertible, Sendable {
      var n, c, h, w, o, kh, kw: Int
      var stride: (Int, Int) = (1, 1)
      var padding: (Int, Int) = (0, 0)
      var bias = true
      var activation: Activation = .none
      /// The finite difference's step.
      var step: Float = 1e-2
      var description: String {
        "x[\(n),\(c),\(h),\(w)] w[\(o),\(c),\(kh),\(kw)] s\(stride) p\(padding) bias \(bias) \(activation)"
      }
    }

    static let convCases: [ConvCase] = [
      ConvCase(n: 2, c: 2, h: 5, w: 5, o: 3, kh: 3, kw: 3),
      ConvCase(n: 2, c: 2, h: 7, w: 6, o: 3, kh: 3, kw: 3, stride: (2, 2), padding: (1, 1)),
      ConvCase(n: 1, c: 3, h: 4, w: 7, o: 2, kh: 2, kw: 3, stride: (2, 1), padding: (0, 1)),
      ConvCase(n: 2, c: 3, h: 6, w: 5, o: 2, kh: 5, kw: 5, stride: (1, 1), padding: (2, 2), bias: false),
      ConvCase(n: 3, c: 4, h: 3, w: 5, o: 3, kh: 1, kw: 1),  // pointwise GEMM path
      ConvCase(n: 2, c: 2, h: 4, w: 5, o: 2, kh: 1, kw: 1, stride: (2, 2)),  // 1x1 strided: im2col
      ConvCase(n: 2, c: 2, h: 6, w: 5, o: 3, kh: 3, kw: 3, stride: (2, 2), padding: (1, 1), activation: .sigmoid),
      ConvCase(n: 3, c: 4, h: 3, w: 4, o: 3, kh: 1, kw: 1, activation: .sigmoid),
      ConvCase(n: 2, c: 2, h: 6, w: 5, o: 3, kh: 3, kw: 3, stride: (2, 2), padding: (1, 1), activation: .relu),
      ConvCase(n: 2, c: 3, h: 3, w: 4, o: 3, kh: 1, kw: 1, activation: .relu),
      ConvCase(n: 1, c: 1, h: 1, w: 1, o: 2, kh: 5, kw: 5, padding: (2, 2)),  // all padding
      // "Same" padding at stride 1 unfolds by shifting whole planes (SamePlaneShift).
      ConvCase(n: 3, c: 2, h: 2, w: 2, o: 2, kh: 3, kw: 3, padding: (1, 1)),
      ConvCase(n: 2, c: 2, h: 4, w: 3, o: 2, kh: 3, kw: 5, padding: (1, 2), activation: .relu),
      ConvCase(n: 2, c: 1, h: 3, w: 1, o: 2, kh: 7, kw: 7, padding: (3, 3)),
      // Planes 8 wide, unfolded a vector row at a time (`unfoldVectorRows`), with 3x3,
      // one-row and one-column kernels.
      ConvCase(n: 2, c: 2, h: 3, w: 8, o: 2, kh: 3, kw: 3, padding: (1, 1), activation: .relu),
      ConvCase(n: 2, c: 2, h: 2, w: 8, o: 3, kh: 1, kw: 3, padding: (0, 1)),
      ConvCase(n: 2, c: 3, h: 5, w: 8, o: 2, kh: 3, kw: 1, padding: (1, 0)),
      // Kernels whose outer taps meet only padding (LiveKernelWindow): GoogLeNet's 5x5 on a
      // 2x2 plane, ResNet's 3x3 on a 1x1 plane, and a strided one.
      ConvCase(n: 2, c: 3, h: 2, w: 2, o: 2, kh: 5, kw: 5, padding: (2, 2), activation: .relu),
      ConvCase(n: 3, c: 3, h: 1, w: 1, o: 2, kh: 3, kw: 3, padding: (1, 1)),
      ConvCase(n: 2, c: 2, h: 2, w: 3, o: 2, kh: 5, kw: 5, stride: (2, 2), padding: (2, 2)),
      // With no more outputs than inputs, their input gradient is a convolution of the
      // output gradient with the turned kernel (ConvPlan.dataGradientAsConvolution); one
      // image at a time from 256 pixels up. The second, with more outputs, folds back.
      ConvCase(n: 3, c: 5, h: 16, w: 16, o: 2, kh: 3, kw: 3, padding: (1, 1)),
      ConvCase(n: 2, c: 2, h: 16, w: 17, o: 4, kh: 3, kw: 5, padding: (1, 2), bias: false, activation: .relu),
      ConvCase(n: 3, c: 6, h: 3, w: 3, o: 2, kh: 3, kw: 3, padding: (1, 1)),
      // Unpadded at stride 1 (LeNet's): unfolded and folded back a window row at a time
      // (ConvGeometry.isUnpaddedStrideOne), rows of 8 + 1 and 16 + 3 floats.
      ConvCase(n: 2, c: 2, h: 12, w: 11, o: 3, kh: 5, kw: 3),
      ConvCase(n: 2, c: 1, h: 5, w: 21, o: 2, kh: 3, kw: 3, activation: .sigmoid),
      // Output rows of whole vectors: the forward pass is DirectConvolution's.
      ConvCase(n: 2, c: 2, h: 6, w: 10, o: 3, kh: 3, kw: 3, activation: .sigmoid),
      // Strided, outputs up to 4x4: on AVX-512 CPUs, `ChannelVectorConvolution`'s forward
      // pass at stride 2, border pixels with fewer live taps.
      ConvCase(n: 2, c: 16, h: 5, w: 6, o: 3, kh: 3, kw: 3, stride: (2, 2), padding: (1, 1)),
      ConvCase(n: 2, c: 16, h: 5, w: 5, o: 2, kh: 3, kw: 2, stride: (2, 1), padding: (0, 1)),
      // Padded 3x3 at stride 1 with 8 channels or more, on planes of 6x7, 4x4 and 4x6: on
      // AVX-512 CPUs, Winograd's F(2x2, 3x3) forward and input gradient
      // (`WinogradConvolution`), the last column of tiles half outside the plane; with 64
      // output channels its weight gradient too.
      ConvCase(n: 2, c: 8, h: 6, w: 7, o: 8, kh: 3, kw: 3, padding: (1, 1), activation: .relu),
      ConvCase(n: 3, c: 18, h: 4, w: 4, o: 9, kh: 3, kw: 3, padding: (1, 1)),
      ConvCase(n: 2, c: 8, h: 4, w: 6, o: 64, kh: 3, kw: 3, padding: (1, 1)),
      // Padded 5x5 at stride 1, 8 channels, a 7x8 plane: Winograd's F(2x2, 5x5) forward and
      // input gradient on AVX-512 CPUs; with 64 output channels its weight gradient too. Its
      // forward pass rounds at about 3e-7 of the products' magnitudes, which over 4,608
      // outputs moves a central difference of step 0.01 by a few per cent; without an
      // activation the convolution is linear in each input, so a step of 0.1 is as exact and
      // shrinks that tenfold.
      ConvCase(n: 2, c: 8, h: 7, w: 8, o: 9, kh: 5, kw: 5, padding: (2, 2)),
      ConvCase(n: 2, c: 8, h: 6, w: 6, o: 64, kh: 5, kw: 5, padding: (2, 2), step: 0.1),
    ]

    @Test(arguments: convCases)
    func conv2dGradients(_ cs: ConvCase) {
      var rng = TestRNG(1)
      let x = rng.uniform([cs.n, cs.c, cs.h, cs.w])
      let w = rng.uniform([cs.o, cs.c, cs.kh, cs.kw], -0.5, 0.5)
      let b: Tensor? = cs.bias ? rng.uniform([cs.o], -0.3, 0.3) : nil
      checkGradients("conv2d \(cs)", wrt: [x, w] + (b.map { [$0] } ?? []), h: cs.step,
                     skipKinks: cs.activation == .relu) {
        conv2d(x, weight: w, bias: b, stride: cs.stride, padding: cs.padding, activation: cs.activation)
      }
    }

    /// Groups of one image, and of several with a last partial group (ConvPlan rounds the
    /// group so that each thread gets as many: three and two of five images), on one and two
    /// threads.
    @Test(arguments: [1, 2], [1, 2])
    func conv2dGroups(imagesPerGroup: Int, threads: Int) {
      let saved = ConvolutionGrouping.columns
      defer { ConvolutionGrouping.columns = saved }
      ComputeThreads.set(threads)
      defer { ComputeThreads.set(1) }
      let (c, o, k) = (2, 3, 3)
      ConvolutionGrouping.columns = imagesPerGroup * 3 * 3  // 5x5 input, k3 s2 p1: 3x3 out
      var rng = TestRNG(2)
      let x = rng.uniform([5, c, 5, 5])
      let w = rng.uniform([o, c, k, k], -0.5, 0.5)
      let b = rng.uniform([o], -0.3, 0.3)
      // Forward against the reference in the grouped configuration, too.
      let y = conv2d(x, weight: w, bias: b, stride: (2, 2), padding: (1, 1), activation: .sigmoid)
      let ref = conv2dRef(x, w, b, stride: (2, 2), padding: (1, 1), activation: .sigmoid)
      #expect(y.shape == ref.shape)
      expectClose(y.scalars, ref.values, tol: 1e-5, "grouped conv forward")
      checkGradients("conv2d groups of \(imagesPerGroup)", wrt: [x, w, b]) {
        conv2d(x, weight: w, bias: b, stride: (2, 2), padding: (1, 1), activation: .sigmoid)
      }
      // A pointwise convolution (gathered channel-major in groups) and a "same" one (whose
      // input gradient is a convolution of the output gradient) in groups.
      ConvolutionGrouping.columns = imagesPerGroup * 4 * 4
      let x4 = rng.uniform([5, 4, 4, 4])
      let w1 = rng.uniform([2, 4, 1, 1], -0.5, 0.5), w3 = rng.uniform([2, 4, 3, 3], -0.5, 0.5)
      checkGradients("conv2d 1x1 groups of \(imagesPerGroup)", wrt: [x4, w1]) {
        conv2d(x4, weight: w1, bias: nil)
      }
      checkGradients("conv2d same-plane groups of \(imagesPerGroup)", wrt: [x4, w3]) {
        conv2d(x4, weight: w3, bias: nil, stride: (1, 1), padding: (1, 1))
      }
    }

    /// The weight gradient of a convolution whose unfolding is taken in pieces of 256 rows
    /// (one image at a time, 16x16), on one and two threads.
    @Test(arguments: [1, 2])
    func conv2dChunkedUnfoldingGradients(threads: Int) {
      ComputeThreads.set(threads)
      defer { ComputeThreads.set(1) }
      var rng = TestRNG(5)
      let x = rng.uniform([3, 30, 16, 16])
      let w = rng.uniform([2, 30, 3, 3], -0.2, 0.2)
      x.requiresGrad = false
      checkGradients("conv2d chunked unfolding, \(threads) threads", wrt: [w]) {
        conv2d(x, weight: w, bias: nil, stride: (1, 1), padding: (1, 1))
      }
      let wider = rng.uniform([3, 30, 18, 18])
      wider.requiresGrad = false
      checkGradients("conv2d chunked unfolding, no padding, \(threads) threads", wrt: [w]) {
        conv2d(wider, weight: w, bias: nil)
      }
    }

    /// Gradients only to the weights (input without grad), and only to the input.
    @Test func conv2dPartialGradients() {
      var rng = TestRNG(3)
      let x = rng.uniform([2, 2, 5, 4])
      let w = rng.uniform([3, 2, 3, 3], -0.5, 0.5)
      let b = rng.uniform([3])
      checkGradients("conv2d weight only", wrt: [w]) {
        conv2d(x, weight: w, bias: b, stride: (1, 1), padding: (1, 1))
      }
      w.zeroGrad()
      w.requiresGrad = false
      b.requiresGrad = false
      checkGradients("conv2d input only", wrt: [x]) {
        conv2d(x, weight: w, bias: b, stride: (1, 1), padding: (1, 1))
      }
      #expect(w.grad!.scalars.allSatisfy { $0 == 0 }, "no gradient flows to a tensor that does not require one")
    }

    // MARK: Pooling

    struct PoolCase: CustomStringConvertible, Sendable {
      var shape: [Int]
      var kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)
      var description: String { "\(shape) k\(kernel) s\(stride) p\(padding)" }
    }

    static let poolCases: [PoolCase] = [
      PoolCase(shape: [2, 2, 4, 6], kernel: (2, 2), stride: (2, 2), padding: (0, 0)),
      PoolCase(shape: [2, 2, 5, 6], kernel: (3, 3), stride: (2, 2), padding: (1, 1)),
      PoolCase(shape: [1, 3, 5, 5], kernel: (3, 3), stride: (1, 1), padding: (1, 1)),
      PoolCase(shape: [2, 1, 6, 5], kernel: (3, 2), stride: (1, 2), padding: (1, 0)),
      PoolCase(shape: [1, 2, 7, 7], kernel: (3, 3), stride: (2, 2), padding: (0, 0)),
      PoolCase(shape: [2, 2, 4, 4], kernel: (3, 3), stride: (2, 2), padding: (1, 1)),
      PoolCase(shape: [1, 2, 5, 4], kernel: (2, 2), stride: (1, 1), padding: (0, 0)),
      // Rows wide enough for 16 windows at a time (max3x3Row16), and a scalar rest.
      PoolCase(shape: [1, 2, 5, 35], kernel: (3, 3), stride: (2, 2), padding: (1, 1)),
      PoolCase(shape: [1, 2, 4, 20], kernel: (3, 3), stride: (1, 1), padding: (1, 1)),
      PoolCase(shape: [1, 1, 5, 36], kernel: (3, 3), stride: (2, 2), padding: (0, 0)),
      // More than 16 small planes: a full block of lanes and a partial one.
      PoolCase(shape: [2, 9, 2, 2], kernel: (3, 3), stride: (1, 1), padding: (1, 1)),
    ]

    @Test(arguments: poolCases)
    func maxPoolGradients(_ pc: PoolCase) {
      var rng = TestRNG(4)
      let x = rng.distinct(pc.shape, spacing: 0.05)
      checkGradients("maxPool2d \(pc)", wrt: [x]) {
        maxPool2d(x, kernel: pc.kernel, stride: pc.stride, padding: pc.padding)
      }
    }

    @Test(arguments: poolCases)
    func avgPoolGradients(_ pc: PoolCase) {
      var rng = TestRNG(5)
      let x = rng.uniform(pc.shape)
      checkGradients("avgPool2d \(pc)", wrt: [x]) {
        avgPool2d(x, kernel: pc.kernel, stride: pc.stride, padding: pc.padding)
      }
    }

    // MARK: Dense

    @Test(arguments: [(true, Activation.none), (false, .none), (true, .sigmoid), (false, .sigmoid), (true, .relu)])
    func denseGradients(bias: Bool, activation: Activation) {
      var rng = TestRNG(6)
      let x = rng.uniform([4, 5])
      let w = rng.uniform([3, 5], -0.7, 0.7)
      let b: Tensor? = bias ? rng.uniform([3], -0.5, 0.5) : nil
      checkGradients("dense bias \(bias) \(activation)", wrt: [x, w] + (b.map { [$0] } ?? []),
                     skipKinks: activation == .relu) {
        dense(x, weight: w, bias: b, activation: activation)
      }
    }

    // MARK: Batch normalisation

    @Test(arguments: [[4, 3], [2, 3, 3, 2], [3, 2, 1, 4]])
    func batchNormTrainingGradients(shape: [Int]) {
      var rng = TestRNG(7)
      let c = shape[1]
      let x = rng.uniform(shape, -1, 2)
      let gamma = rng.uniform([c], 0.5, 1.5)
      let beta = rng.uniform([c], -0.5, 0.5)
      let mm = Tensor(zeros: [c]), mv = Tensor(repeating: 1, shape: [c])
      checkGradients("batchNorm train \(shape)", wrt: [x, gamma, beta], train: true) {
        batchNorm(x, gamma: gamma, beta: beta, movingMean: mm, movingVar: mv, eps: 1e-5, momentum: 0.9)
      }
    }

    /// With an activation fused into its output pass (`Sequential` runs BatchNorm + ReLU so).
    /// After a dense layer (`[N, C]`, one row per example), with more channels than a vector.
    @Test(arguments: [Activation.none, .relu, .sigmoid])
    func batchNormRowsGradients(activation: Activation) {
      var rng = TestRNG(10)
      let x = rng.uniform([5, 19], -1, 2)
      let gamma = rng.uniform([19], 0.5, 1.5), beta = rng.uniform([19], -0.5, 0.5)
      let mm = Tensor(zeros: [19]), mv = Tensor(repeating: 1, shape: [19])
      for train in [true, false] {
        checkGradients("batchNorm rows + \(activation), train \(train)", wrt: [x, gamma, beta],
                       train: train, skipKinks: activation == .relu) {
          batchNorm(x, gamma: gamma, beta: beta, movingMean: mm, movingVar: mv, eps: 1e-5,
                    momentum: 0.9, activation: activation)
        }
      }
    }

    @Test(arguments: [Activation.relu, .sigmoid])
    func batchNormWithActivationGradients(activation: Activation) {
      var rng = TestRNG(9)
      // 20 pixels a plane: the vector loop of `reluMaskedSums` and its scalar tail.
      let x = rng.uniform([3, 2, 4, 5], -1, 2)
      let gamma = rng.uniform([2], 0.5, 1.5), beta = rng.uniform([2], -0.5, 0.5)
      let mm = Tensor(zeros: [2]), mv = Tensor(repeating: 1, shape: [2])
      checkGradients("batchNorm + \(activation)", wrt: [x, gamma, beta], train: true,
                     skipKinks: activation == .relu) {
        batchNorm(x, gamma: gamma, beta: beta, movingMean: mm, movingVar: mv, eps: 1e-5,
                  momentum: 0.9, activation: activation)
      }
    }

    @Test(arguments: [[4, 3], [2, 3, 3, 2]])
    func batchNormPredictionGradients(shape: [Int]) {
      var rng = TestRNG(8)
      let c = shape[1]
      let x = rng.uniform(shape, -1, 2)
      let gamma = rng.uniform([c], 0.5, 1.5)
      let beta = rng.uniform([c], -0.5, 0.5)
      let mm = rng.uniform([c], -0.5, 0.5), mv = rng.uniform([c], 0.5, 2)
      let (mm0, mv0) = (mm.scalars, mv.scalars)
      checkGradients("batchNorm predict \(shape)", wrt: [x, gamma, beta], train: false) {
        batchNorm(x, gamma: gamma, beta: beta, movingMean: mm, movingVar: mv, eps: 1e-5, momentum: 0.9)
      }
      #expect(mm.scalars == mm0 && mv.scalars == mv0, "prediction mode must not touch moving statistics")
    }

    // MARK: Broadcasting arithmetic

    struct BinaryCase: CustomStringConvertible, Sendable {
      var a: [Int], b: [Int]
      var description: String { "\(a) with \(b)" }
    }

    static let binaryShapes: [BinaryCase] = [
      BinaryCase(a: [2, 3, 4, 5], b: [1, 3, 1, 1]),
      BinaryCase(a: [1, 3, 1, 1], b: [2, 3, 4, 5]),
      BinaryCase(a: [3, 1, 5], b: [4, 1]),
      BinaryCase(a: [4, 1], b: [3, 1, 5]),
      BinaryCase(a: [], b: [2, 3]),
      BinaryCase(a: [2, 3], b: []),
      BinaryCase(a: [3, 4], b: [3, 4]),
      BinaryCase(a: [2, 3, 4], b: [4]),
      BinaryCase(a: [2, 1, 4], b: [2, 3, 1]),
      BinaryCase(a: [3, 1], b: [1]),
    ]

    @Test(arguments: binaryShapes)
    func broadcastArithmeticGradients(_ bc: BinaryCase) {
      var rng = TestRNG(9)
      let a = rng.uniform(bc.a, -1, 1)
      let b = rng.uniform(bc.b, 0.5, 1.5)  // away from 0 for division
      checkGradients("+ \(bc)", wrt: [a, b]) { a + b }
      checkGradients("- \(bc)", wrt: [a, b]) { a - b }
      checkGradients("* \(bc)", wrt: [a, b]) { a * b }
      checkGradients("/ \(bc)", wrt: [a, b]) { a / b }
      checkGradients("b / a-ish \(bc)", wrt: [a, b]) { b / (a + 2) }
      checkGradients("- only left \(bc)", wrt: [a]) { a - b.detached() }
    }

    @Test func sameTensorOnBothSidesAndScalars() {
      var rng = TestRNG(10)
      let x = rng.uniform([3, 4], 0.5, 1.5)
      checkGradients("x * x", wrt: [x]) { x * x }
      checkGradients("x / x + x - x", wrt: [x]) { x / x + x - x }
      checkGradients("float scalars", wrt: [x]) { (2 * x + 1) / 3 - 0.5 * (1 / x) - (4 - x) }
      checkGradients("negation", wrt: [x]) { -x }
      checkGradients("chain", wrt: [x]) { ((x * x).sum(axis: 1, keepDims: true) * x).sqrt() }
    }

    // MARK: Unary

    @Test func unaryGradients() {
      var rng = TestRNG(11)
      let pos = rng.uniform([3, 4], 0.5, 2)
      let any = rng.uniform([3, 4], -1.5, 1.5)
      let kinky = rng.awayFromZero([3, 4], 0.1, 1.5)
      checkGradients("sqrt", wrt: [pos]) { pos.sqrt() }
      checkGradients("squared", wrt: [any]) { any.squared() }
      checkGradients("exp", wrt: [any]) { any.exp() }
      checkGradients("log", wrt: [pos]) { pos.log() }
      checkGradients("relu", wrt: [kinky]) { kinky.relu() }
      checkGradients("sigmoid", wrt: [any]) { any.sigmoid() }
    }

    // MARK: Reductions and reshapes

    @Test(arguments: [
      ([0], false), ([0], true), ([1], false), ([1], true), ([3], false), ([-1], true),
      ([0, 2], false), ([1, 3], true), ([0, 1, 2, 3], false), ([2, 0], true),
    ])
    func reductionGradients(axes: [Int], keepDims: Bool) {
      var rng = TestRNG(12)
      let x = rng.uniform([2, 3, 4, 2])
      checkGradients("sum \(axes) keep \(keepDims)", wrt: [x]) { x.sum(axes: axes, keepDims: keepDims) }
      checkGradients("mean \(axes) keep \(keepDims)", wrt: [x]) { x.mean(axes: axes, keepDims: keepDims) }
    }

    @Test func fullReductionsAndReshapes() {
      var rng = TestRNG(13)
      let x = rng.uniform([2, 3, 4])
      checkGradients("sum all", wrt: [x]) { x.sum() }
      checkGradients("mean all", wrt: [x]) { x.mean() }
      checkGradients("sum all keepDims", wrt: [x]) { x.sum(keepDims: true) }
      checkGradients("mean axis", wrt: [x]) { x.mean(axis: 1) }
      checkGradients("reshaped", wrt: [x]) { x.reshaped([4, -1]) * x.reshaped([4, 6]) }
      checkGradients("flattened", wrt: [x]) { x.flattened().squared() }
      let img = rng.uniform([2, 2, 3, 3])
      let w = rng.uniform([4, 18], -0.5, 0.5)
      checkGradients("dense on flattened", wrt: [img, w]) { dense(img.flattened(), weight: w, bias: nil) }
    }

    // MARK: Loss

    @Test func softmaxCrossEntropyGradients() {
      var rng = TestRNG(14)
      let logits = rng.uniform([5, 4], -2, 2)
      let labels = rng.labels(5, classes: 4)
      checkGradients("softmaxCrossEntropy", wrt: [logits]) { softmaxCrossEntropy(logits, labels: labels) }
      // Composed with other ops, so that the incoming gradient is not 1.
      let w = rng.uniform([4, 3], -1, 1)
      let x = rng.uniform([5, 3])
      checkGradients("dense + softmaxCE * 3", wrt: [x, w]) {
        softmaxCrossEntropy(dense(x, weight: w, bias: nil), labels: labels) * 3
      }
      // Large logits stay finite.
      let big = Tensor([1000, 0, -1000, 999], shape: [2, 2])
      let l = softmaxCrossEntropy(big, labels: [1, 0])
      #expect(l.item.isFinite)
      #expect(abs(l.item - 1499.5) < 1e-2)  // rows: 1000 - 0 and 999 + 1000
    }

    // MARK: Dropout

    @Test func dropoutGradientIsMask() {
      EngineRandom.seed(42)
      var rng = TestRNG(15)
      let x = rng.awayFromZero([40, 50], 0.5, 1.5).requiringGrad()
      let r = rng.uniform([40, 50])
      let p: Float = 0.3
      var y: Tensor!
      let loss = Autograd.record { () -> Tensor in
        y = dropout(x, probability: p)
        return (y * r).sum()
      }
      loss.backward()
      let keep = 1 / (1 - p)
      let mask = zip(y.scalars, x.scalars).map { $0 / $1 }
      var dropped = 0
      var bad = 0
      for (i, m) in mask.enumerated() {
        if m == 0 { dropped += 1 } else if abs(m - keep) > 1e-5 { bad += 1 }
        if abs(x.grad!.data[i] - m * r.data[i]) > 1e-5 { bad += 1 }
      }
      #expect(bad == 0)
      let fraction = Double(dropped) / Double(mask.count)
      #expect(abs(fraction - Double(p)) < 0.04, "dropped fraction \(fraction)")
      // Prediction mode (and p = 0) is the identity.
      let z = dropout(x, probability: p)
      #expect(z.scalars == x.scalars)
      let z0 = Autograd.record { dropout(x, probability: 0) }
      Autograd.clearTape()
      #expect(z0.scalars == x.scalars)
    }

    // MARK: Layers through Module

    @Test func smallNetworkGradients() {
      ModuleNames.reset()
      EngineRandom.seed(3)
      let net = Sequential {
        Conv2D(3, kernel: 3, padding: 1)
        BatchNorm()
        Sigmoid()
        AvgPool2D(2)
        Dense(4, activation: .sigmoid)
        Dense(3)
      }
      var rng = TestRNG(16)
      let x = rng.uniform([3, 2, 4, 4])
      let labels = rng.labels(3, classes: 3)
      _ = net(x)
      let params = net.parameters()
      #expect(params.count == 8)
      checkGradients("sequential", wrt: params) { softmaxCrossEntropy(net(x), labels: labels) }
    }
  }
}
