import Foundation
import Testing
import Engine

extension EngineTests {
  /// Forward passes against naive loops.
  @Suite struct ForwardReference {
    struct ConvCase: CustomStringConvertible, Sendable {
      var n, c, h, w, o, k: Int
      var stride = 1, padding = 0
      var bias = true
      var activation: Activation = .none
      /// Relative to the larger of 1 and the reference value: the forward pass's, and the
      /// gradients' (`BackwardReference`).
      var tolerance = 1e-5, backwardTolerance = 1e-4
      var description: String { "x[\(n),\(c),\(h),\(w)] \(o) filters k\(k) s\(stride) p\(padding) bias \(bias) \(activation)" }
    }

    static let convCases: [ConvCase] = [
      ConvCase(n: 1, c: 1, h: 5, w: 5, o: 1, k: 1),
      ConvCase(n: 3, c: 4, h: 6, w: 7, o: 5, k: 1),
      ConvCase(n: 2, c: 3, h: 6, w: 7, o: 4, k: 1, stride: 2),
      ConvCase(n: 2, c: 3, h: 8, w: 9, o: 4, k: 3),
      ConvCase(n: 2, c: 3, h: 8, w: 9, o: 4, k: 3, padding: 1, activation: .relu),
      ConvCase(n: 3, c: 2, h: 9, w: 8, o: 4, k: 3, stride: 2, padding: 1),
      ConvCase(n: 2, c: 3, h: 10, w: 10, o: 6, k: 5, padding: 2, activation: .relu),
      ConvCase(n: 2, c: 2, h: 11, w: 9, o: 3, k: 5, stride: 3, padding: 2, bias: false),
      ConvCase(n: 2, c: 3, h: 39, w: 39, o: 4, k: 11, stride: 4, padding: 1, activation: .relu),
      ConvCase(n: 2, c: 3, h: 35, w: 37, o: 4, k: 11, stride: 4),
      ConvCase(n: 2, c: 2, h: 6, w: 6, o: 3, k: 3, padding: 1, activation: .sigmoid),
      ConvCase(n: 1, c: 2, h: 1, w: 1, o: 2, k: 5, padding: 2),
      ConvCase(n: 2, c: 2, h: 2, w: 1, o: 2, k: 7, padding: 3),
      ConvCase(n: 1, c: 1, h: 3, w: 3, o: 1, k: 3, stride: 1, padding: 4),
      // One image at a time, its unfolding in pieces of 256 rows (ConvPlan.unfoldRows): 270
      // and 135 rows at 16x16; at 20x20 (128 rows a piece), 4 pieces of a 5x5 kernel.
      ConvCase(n: 3, c: 30, h: 16, w: 16, o: 3, k: 3, padding: 1, activation: .relu),
      ConvCase(n: 2, c: 15, h: 16, w: 16, o: 2, k: 3, stride: 1),
      ConvCase(n: 2, c: 18, h: 20, w: 20, o: 2, k: 5, padding: 2),
      // LeNet's two convolutions, unpadded at stride 1, output rows of 24 and 8 floats: the
      // direct kernel (DirectConvolution), with a tile of three runs whose last tile repeats
      // a run, and five outputs (a tile of four and one of one).
      ConvCase(n: 3, c: 1, h: 28, w: 28, o: 6, k: 5),
      ConvCase(n: 5, c: 6, h: 12, w: 12, o: 16, k: 5),
      ConvCase(n: 2, c: 3, h: 6, w: 18, o: 5, k: 3, bias: false, activation: .relu),
      // Planes with fewer pixels than the live kernel has taps, as a product with the plane
      // matrix (PlaneMatrixConvolution): GoogLeNet's 3x3 on 2x2 and 5x5 on 4x4, a strided one.
      ConvCase(n: 5, c: 6, h: 2, w: 2, o: 7, k: 3, padding: 1, activation: .relu),
      ConvCase(n: 3, c: 4, h: 4, w: 4, o: 5, k: 5, padding: 2),
      ConvCase(n: 2, c: 3, h: 2, w: 3, o: 4, k: 3, stride: 2, padding: 1, activation: .sigmoid),
      // Planes 8 wide with "same" padding, unfolded a vector row at a time
      // (`unfoldVectorRows`): DenseNet's and ResNet's 8x8 layers at 32 px, a plane taller
      // than wide, and a 5x5 kernel, which takes the general shift; then the 4x4 and 6x4
      // planes of the table (`SmallPlaneTaps`) and of the general shift beside them.
      ConvCase(n: 5, c: 4, h: 8, w: 8, o: 6, k: 3, padding: 1, activation: .relu),
      ConvCase(n: 3, c: 3, h: 11, w: 8, o: 2, k: 3, padding: 1, bias: false),
      ConvCase(n: 3, c: 2, h: 8, w: 8, o: 3, k: 5, padding: 2),
      ConvCase(n: 6, c: 5, h: 4, w: 4, o: 4, k: 3, padding: 1, activation: .relu),
      ConvCase(n: 2, c: 3, h: 6, w: 4, o: 7, k: 3, padding: 1),
      // More than 16 output and input channels, neither a multiple of 16, and runs of 8
      // output pixels with a short last one: `ChannelVectorConvolution`'s blocks of 32 and
      // of 16 channels, forward and (input and output channels swapped) backward.
      ConvCase(n: 3, c: 20, h: 5, w: 7, o: 37, k: 3, padding: 1, activation: .relu),
      ConvCase(n: 2, c: 17, h: 9, w: 9, o: 33, k: 5),
      // A weight gradient whose transposed output gradient (256 pixels x 80 floats an
      // image) is read in two chunks of images, three and two.
      ConvCase(n: 5, c: 2, h: 16, w: 16, o: 70, k: 3, padding: 1, bias: false),
      // `ChannelVectorConvolution`'s forward pass at stride 2 (outputs up to 4x4): ResNet's
      // strided 3x3, and 7x7 and 5x5 kernels whose rows and columns fall in 4 and 3 classes
      // of live taps each. Then a padding so wide that the corner windows see nothing but
      // padding.
      ConvCase(n: 3, c: 20, h: 8, w: 7, o: 37, k: 3, stride: 2, padding: 1, activation: .relu),
      ConvCase(n: 2, c: 5, h: 8, w: 7, o: 18, k: 7, stride: 2, padding: 3),
      ConvCase(n: 3, c: 4, h: 6, w: 6, o: 17, k: 5, stride: 2, padding: 2, bias: false),
      ConvCase(n: 2, c: 18, h: 3, w: 3, o: 17, k: 3, padding: 3, activation: .sigmoid),
      // Winograd F(2x2, 3x3) (`WinogradConvolution`): odd plane sizes, whose last tiles hang
      // over the border, and channel counts that fill neither a vector nor a pair of them;
      // a block of 64 channels in and out, and 11 images, more than one register tile.
      ConvCase(n: 3, c: 20, h: 7, w: 9, o: 37, k: 3, padding: 1, activation: .relu),
      ConvCase(n: 2, c: 33, h: 6, w: 5, o: 17, k: 3, padding: 1, bias: false),
      ConvCase(n: 11, c: 64, h: 4, w: 4, o: 64, k: 3, padding: 1),
      // 65 output channels: five blocks, the last without a pair, and a weight gradient by
      // Winograd (64 output channels or more) with runs of 9 and 8 input channels.
      ConvCase(n: 3, c: 17, h: 6, w: 7, o: 65, k: 3, padding: 1),
      // A plane past the direct kernel's 256 pixels, by Winograd on AVX-512 CPUs.
      ConvCase(n: 2, c: 9, h: 18, w: 21, o: 10, k: 3, padding: 1, activation: .relu),
      // Winograd F(2x2, 5x5): odd planes whose last tiles hang over the border, channel
      // counts that fill neither a vector nor a pair of them; then NiN's 96 -> 256 layer at
      // 96 px in small (96 channels in, five output blocks on 10x10 planes). Its transforms'
      // coefficients run from 1/24 to 5: its results differ from direct summation by up to
      // 9e-5 here, about 3e-7 of the sum of the 2,400 products' magnitudes (some 300), where
      // F(2x2, 3x3)'s stay under 1e-5; its weight gradient (65 output channels) by up to
      // 1.5e-4, about 2e-6 of the sum of the 300 products' magnitudes.
      ConvCase(n: 3, c: 20, h: 7, w: 9, o: 37, k: 5, padding: 2, activation: .relu,
               tolerance: 2e-4, backwardTolerance: 5e-4),
      ConvCase(n: 3, c: 96, h: 10, w: 10, o: 65, k: 5, padding: 2, tolerance: 2e-4,
               backwardTolerance: 5e-4),
    ]

    @Test(arguments: convCases)
    func conv2dMatchesReference(_ cs: ConvCase) {
      var rng = TestRNG(21)
      let x = rng.uniform([cs.n, cs.c, cs.h, cs.w])
      let w = rng.uniform([cs.o, cs.c, cs.k, cs.k], -0.5, 0.5)
      let b: Tensor? = cs.bias ? rng.uniform([cs.o]) : nil
      let ref = conv2dRef(x, w, b, stride: (cs.stride, cs.stride), padding: (cs.padding, cs.padding),
                          activation: cs.activation)
      for threads in [1, 2] {
        ComputeThreads.set(threads)
        defer { ComputeThreads.set(1) }
        let y = conv2d(x, weight: w, bias: b, stride: (cs.stride, cs.stride),
                       padding: (cs.padding, cs.padding), activation: cs.activation)
        #expect(y.shape == ref.shape)
        expectClose(y.scalars, ref.values, tol: cs.tolerance, "conv2d \(cs) threads \(threads)")
      }
    }

    /// A kernel much wider than a tiny padded input, with im2col rows split
    /// between threads: each row's zero border must stay within its own row.
    @Test func conv2dWideKernelOnTinyInputAcrossThreads() {
      var rng = TestRNG(32)
      let x = rng.uniform([128, 2, 1, 1])
      let w = rng.uniform([2, 2, 7, 7])
      let ref = conv2dRef(x, w, nil, stride: (1, 1), padding: (3, 3))
      ComputeThreads.set(3)
      defer { ComputeThreads.set(1) }
      for _ in 0..<20 {
        let y = conv2d(x, weight: w, bias: nil, stride: (1, 1), padding: (3, 3))
        expectClose(y.scalars, ref.values, tol: 1e-5, "k7 p3 on 1x1, 3 threads")
      }
    }

    /// The layer computes the same as the function, with the shape formula of its doc comment.
    @Test func conv2DLayerShape() {
      let layer = Conv2D(4, kernel: 11, stride: 4, padding: 1, activation: .relu)
      var rng = TestRNG(22)
      let x = rng.uniform([2, 1, 224, 224])
      let y = layer(x)
      #expect(y.shape == [2, 4, 54, 54])
      let ref = conv2dRef(x, layer.weight!, layer.bias!, stride: (4, 4), padding: (1, 1), activation: .relu)
      expectClose(y.scalars, ref.values, tol: 1e-5, "Conv2D layer")
    }

    struct PoolCase: CustomStringConvertible, Sendable {
      var shape: [Int], k: (Int, Int), s: (Int, Int), p: (Int, Int)
      var description: String { "\(shape) k\(k) s\(s) p\(p)" }
    }

    static let poolCases: [PoolCase] = [
      PoolCase(shape: [2, 3, 6, 6], k: (2, 2), s: (2, 2), p: (0, 0)),
      PoolCase(shape: [2, 3, 7, 5], k: (3, 3), s: (2, 2), p: (1, 1)),
      PoolCase(shape: [1, 2, 5, 5], k: (3, 3), s: (1, 1), p: (1, 1)),
      PoolCase(shape: [2, 2, 9, 8], k: (3, 3), s: (2, 2), p: (0, 0)),
      PoolCase(shape: [1, 1, 4, 4], k: (4, 4), s: (1, 1), p: (2, 2)),
      PoolCase(shape: [2, 2, 6, 7], k: (3, 2), s: (1, 2), p: (1, 1)),
      // Stride 1 keeping the plane's size, down to a single pixel.
      PoolCase(shape: [2, 3, 2, 2], k: (3, 3), s: (1, 1), p: (1, 1)),
      PoolCase(shape: [1, 2, 4, 3], k: (5, 5), s: (1, 1), p: (2, 2)),
      PoolCase(shape: [1, 2, 1, 1], k: (3, 3), s: (1, 1), p: (1, 1)),
      // The 2x2 path (odd sizes leave a row and a column out) and the framed 3x3 path on
      // planes where every window touches the border.
      PoolCase(shape: [2, 2, 7, 5], k: (2, 2), s: (2, 2), p: (0, 0)),
      PoolCase(shape: [1, 2, 5, 4], k: (2, 2), s: (1, 1), p: (0, 0)),
      PoolCase(shape: [2, 3, 4, 4], k: (3, 3), s: (2, 2), p: (1, 1)),
      PoolCase(shape: [2, 3, 2, 2], k: (3, 3), s: (2, 2), p: (1, 1)),
      PoolCase(shape: [1, 2, 3, 6], k: (3, 3), s: (1, 2), p: (0, 1)),
      // 16 windows at a time (max3x3Row16) where a row has room, then one at a time.
      PoolCase(shape: [2, 2, 32, 35], k: (3, 3), s: (2, 2), p: (1, 1)),
      PoolCase(shape: [1, 2, 20, 19], k: (3, 3), s: (1, 1), p: (1, 1)),
      PoolCase(shape: [1, 2, 9, 40], k: (3, 3), s: (2, 2), p: (0, 0)),
      PoolCase(shape: [1, 1, 6, 20], k: (3, 3), s: (1, 1), p: (0, 0)),
      // Small planes 16 at a time (maxPoolAcrossPlanes): full blocks and a partial last one.
      PoolCase(shape: [3, 7, 2, 2], k: (3, 3), s: (1, 1), p: (1, 1)),
      PoolCase(shape: [2, 17, 1, 1], k: (3, 3), s: (1, 1), p: (1, 1)),
      PoolCase(shape: [5, 8, 4, 4], k: (3, 3), s: (2, 2), p: (1, 1)),
      PoolCase(shape: [2, 9, 8, 8], k: (2, 2), s: (2, 2), p: (0, 0)),
      PoolCase(shape: [2, 10, 7, 6], k: (5, 3), s: (2, 1), p: (2, 1)),
    ]

    /// With ties, the gradient goes to the window's first position (row by row), as in the
    /// book's frameworks, at stride 1 and 2, one window at a time and 16 at a time.
    @Test(arguments: [(1, 1), (2, 2)], [5, 34])
    func maxPoolTiesGoToTheFirstPosition(_ stride: (Int, Int), width w: Int) {
      let h = 4
      let x = Tensor.ones([1, 1, h, w]).asParameter()
      let loss = Autograd.record {
        maxPool2d(x, kernel: (3, 3), stride: stride, padding: (1, 1)).sum()
      }
      loss.backward()
      var expected = [Float](repeating: 0, count: h * w)
      let (outH, outW) = ((h - 1) / stride.0 + 1, (w - 1) / stride.1 + 1)
      for oy in 0..<outH {
        for ox in 0..<outW {
          expected[max(oy * stride.0 - 1, 0) * w + max(ox * stride.1 - 1, 0)] += 1
        }
      }
      #expect(x.grad!.scalars == expected)
    }

    @Test func maxPool2x2TiesGoToTheFirstPosition() {
      let x = Tensor.ones([1, 1, 4, 5]).asParameter()
      let loss = Autograd.record { maxPool2d(x, kernel: (2, 2), stride: (2, 2)).sum() }
      loss.backward()
      var expected = [Float](repeating: 0, count: 20)
      for (oy, ox) in [(0, 0), (0, 1), (1, 0), (1, 1)] { expected[oy * 2 * 5 + ox * 2] = 1 }
      #expect(x.grad!.scalars == expected)
    }

    @Test(arguments: poolCases)
    func maxPoolMatchesReference(_ pc: PoolCase) {
      var rng = TestRNG(23)
      let x = rng.uniform(pc.shape, -3, -1)  // all negative: padding must not win as 0
      let ref = poolRef(x, kernel: pc.k, stride: pc.s, padding: pc.p, max: true)
      let y = maxPool2d(x, kernel: pc.k, stride: pc.s, padding: pc.p)
      #expect(y.shape == ref.shape)
      expectClose(y.scalars, ref.values, tol: 0, "maxPool2d \(pc)")
    }

    @Test(arguments: poolCases)
    func avgPoolMatchesReference(_ pc: PoolCase) {
      var rng = TestRNG(24)
      let x = rng.uniform(pc.shape)
      let ref = poolRef(x, kernel: pc.k, stride: pc.s, padding: pc.p, max: false)
      let y = avgPool2d(x, kernel: pc.k, stride: pc.s, padding: pc.p)
      #expect(y.shape == ref.shape)
      expectClose(y.scalars, ref.values, tol: 1e-6, "avgPool2d \(pc)")
    }

    @Test func avgPoolCountsPaddingInDivisor() {
      let x = Tensor(repeating: 1, shape: [1, 1, 2, 2])
      let y = avgPool2d(x, kernel: (2, 2), stride: (1, 1), padding: (1, 1))
      #expect(y.shape == [1, 1, 3, 3])
      expectClose(y.scalars, [0.25, 0.5, 0.25, 0.5, 1, 0.5, 0.25, 0.5, 0.25], tol: 0)
      let g = GlobalAvgPool2D()(Tensor([1, 2, 3, 4, 5, 6, 7, 8], shape: [1, 2, 2, 2]))
      #expect(g.shape == [1, 2, 1, 1])
      expectClose(g.scalars, [2.5, 6.5], tol: 0)
      let m = MaxPool2D(3, stride: 2, padding: 1)(Tensor(repeating: -1, shape: [1, 1, 4, 4]))
      #expect(m.shape == [1, 1, 2, 2] && m.scalars.allSatisfy { $0 == -1 })
    }

    /// The last two shapes take `SkinnyDense` on AVX-512 CPUs (33 to 64 rows, a million
    /// weights or more): 1027 outputs end in a partial tile, split between the threads.
    @Test(arguments: [
      (true, Activation.none, 5, 7, 3), (false, .relu, 5, 7, 3), (true, .sigmoid, 5, 7, 3),
      (true, .relu, 40, 1024, 1027), (false, .none, 64, 512, 2048),
    ])
    func denseMatchesReference(bias: Bool, activation: Activation, n: Int, inF: Int, outF: Int) {
      var rng = TestRNG(25)
      let x = rng.uniform([n, inF])
      let w = rng.uniform([outF, inF])
      let b: Tensor? = bias ? rng.uniform([outF]) : nil
      var ref: [Double] = []
      for i in 0..<n {
        for j in 0..<outF {
          var s = b.map { Double($0[j]) } ?? 0
          for k in 0..<inF { s += Double(x[i, k]) * Double(w[j, k]) }
          switch activation {
          case .none: break
          case .relu: s = max(0, s)
          case .sigmoid: s = sigmoidRef(s)
          }
          ref.append(s)
        }
      }
      let y = dense(x, weight: w, bias: b, activation: activation)
      #expect(y.shape == [n, outF])
      expectClose(y.scalars, ref, tol: 1e-5, "dense")
    }

    @Test(arguments: [[6, 3], [3, 2, 4, 5]])
    func batchNormPredictionUsesMovingStatistics(shape: [Int]) {
      var rng = TestRNG(26)
      let c = shape[1]
      let x = rng.uniform(shape, -2, 3)
      let gamma = rng.uniform([c], 0.5, 2), beta = rng.uniform([c])
      let mm = rng.uniform([c]), mv = rng.uniform([c], 0.2, 3)
      let eps: Float = 1e-5
      let y = Autograd.predict {
        batchNorm(x, gamma: gamma, beta: beta, movingMean: mm, movingVar: mv, eps: eps, momentum: 0.9)
      }
      let pixels = shape.count == 4 ? shape[2] * shape[3] : 1
      var ref: [Double] = []
      for i in 0..<x.count {
        let ch = (i / pixels) % c
        let xhat = (Double(x.data[i]) - Double(mm[ch])) / (Double(mv[ch]) + Double(eps)).squareRoot()
        ref.append(Double(gamma[ch]) * xhat + Double(beta[ch]))
      }
      expectClose(y.scalars, ref, tol: 1e-5, "batchNorm prediction")
    }

    /// The statistics come from one pass over the data; the offset case (values near 1000
    /// with a spread of 5) is where a naive E[x^2] - E[x]^2 in float loses the variance.
    @Test(arguments: [([8, 3], 0), ([9, 21], 1000), ([4, 3, 5, 2], 0), ([4, 3, 5, 2], 1000)] as [([Int], Float)])
    func batchNormTrainingNormalisesAndUpdatesMovingStatistics(shape: [Int], offset: Float) {
      var rng = TestRNG(27)
      let c = shape[1]
      let x = rng.uniform(shape, -2 + offset, 3 + offset)
      let gamma = rng.uniform([c], 0.5, 2), beta = rng.uniform([c])
      let mm = rng.uniform([c]), mv = rng.uniform([c], 0.2, 3)
      let (mm0, mv0) = (mm.scalars, mv.scalars)
      let eps: Float = 1e-5
      let y = Autograd.record {
        batchNorm(x, gamma: gamma, beta: beta, movingMean: mm, movingVar: mv, eps: eps, momentum: 0.9)
      }
      Autograd.clearTape()
      let pixels = shape.count == 4 ? shape[2] * shape[3] : 1
      var mean = [Double](repeating: 0, count: c), count = [Double](repeating: 0, count: c)
      for i in 0..<x.count { mean[(i / pixels) % c] += Double(x.data[i]); count[(i / pixels) % c] += 1 }
      for ch in 0..<c { mean[ch] /= count[ch] }
      var variance = [Double](repeating: 0, count: c)
      for i in 0..<x.count {
        let ch = (i / pixels) % c
        variance[ch] += (Double(x.data[i]) - mean[ch]) * (Double(x.data[i]) - mean[ch]) / count[ch]
      }
      var ref: [Double] = []
      for i in 0..<x.count {
        let ch = (i / pixels) % c
        ref.append(Double(gamma[ch]) * (Double(x.data[i]) - mean[ch]) / (variance[ch] + Double(eps)).squareRoot()
                   + Double(beta[ch]))
      }
      expectClose(y.scalars, ref, tol: offset == 0 ? 1e-4 : 1e-3, "batchNorm training output")
      expectClose(mm.scalars, (0..<c).map { 0.9 * Double(mm0[$0]) + 0.1 * mean[$0] }, tol: 1e-5, "moving mean")
      expectClose(mv.scalars, (0..<c).map { 0.9 * Double(mv0[$0]) + 0.1 * variance[$0] }, tol: 1e-5,
                  "moving variance (biased)")
    }

    /// A BatchNorm and the ReLU or sigmoid after it, fused by `fuseBatchNormActivations` in a
    /// `Sequential` or called as `norm(x, activation:)`: the same values and gradients as the
    /// two layers one after the other, in training and in prediction mode. Planes of 25 pixels take the vector loop of the ReLU's masked sums
    /// once, and its scalar tail, and their sigmoid is taken plane by plane; `[6, 20]` is a
    /// dense layer's batch norm, row by row.
    @Test(arguments: [(Activation.relu, true), (.sigmoid, true), (.relu, false), (.sigmoid, false)],
          [[4, 3, 5, 5], [6, 20]])
    func sequentialFusesBatchNormAndActivation(activation: (Activation, Bool), shape: [Int]) {
      let (activation, train) = activation
      var rng = TestRNG(29)
      let x = rng.uniform(shape, -1, 2)
      let norm = BatchNorm(), act = ActivationLayer(activation)
      let fused = Sequential([norm, act])
      func run(_ body: () -> Tensor) -> (values: [Float], grad: [Float], gamma: [Float]) {
        x.requiresGrad = true
        x.zeroGrad()
        norm.gamma?.zeroGrad()
        var y = x
        let loss = Autograd.record(train: train) { () -> Tensor in
          y = body()
          return (y * y).sum()
        }
        loss.backward()
        return (y.scalars, x.grad!.scalars, norm.gamma!.grad!.scalars)
      }
      let separate = run { fused(x) }
      let explicit = run { norm(x, activation: activation) }
      #expect(fuseBatchNormActivations(in: fused) == 1)
      #expect(norm.fusedActivation == activation && act.appliedByPrecedingNorm)
      let together = run { fused(x) }
      for (name, result) in [("the fused op", explicit), ("the fusion pass", together)] {
        expectClose(result.values, separate.values.map(Double.init), tol: 1e-6, "\(name): values")
        expectClose(result.grad, separate.grad.map(Double.init), tol: 1e-5, "\(name): input gradient")
        expectClose(result.gamma, separate.gamma.map(Double.init), tol: 1e-5, "\(name): gamma gradient")
      }
    }

    /// The pass finds pairs at any depth, only adjacent ones in a `Sequential`, and fuses each
    /// once; `Sequential` itself only runs its layers.
    @Test func fusionPassFindsAdjacentPairsAtAnyDepth() {
      let inner = Sequential([BatchNorm(), ReLU(), Conv2D(2, kernel: 1)])
      let apart = Sequential([BatchNorm(), Conv2D(2, kernel: 1), ReLU()])
      let net = Sequential([Conv2D(2, kernel: 1), BatchNorm(), Sigmoid(), inner, apart])
      var rng = TestRNG(30)
      let x = rng.uniform([2, 3, 4, 4])
      let before = Autograd.predict { net(x).scalars }
      #expect(fuseBatchNormActivations(in: net) == 2)
      #expect(fuseBatchNormActivations(in: net) == 0)
      #expect((apart.layers[0] as! BatchNorm).fusedActivation == .none)
      #expect((inner.layers[0] as! BatchNorm).fusedActivation == .relu)
      expectClose(Autograd.predict { net(x).scalars }, before.map(Double.init), tol: 1e-6, "fused net")
    }

    @Test func batchNormLayerUpdatesOnlyInTraining() {
      let bn = BatchNorm()
      var rng = TestRNG(28)
      let x = rng.uniform([16, 2, 3, 3], 1, 3)
      _ = Autograd.predict { bn(x) }  // creates parameters, no update
      #expect(bn.movingMean!.scalars == [0, 0] && bn.movingVar!.scalars == [1, 1])
      _ = bn(x)  // outside record: prediction mode
      #expect(bn.movingMean!.scalars == [0, 0])
      _ = Autograd.record { bn(x) }
      Autograd.clearTape()
      #expect(bn.movingMean!.scalars.allSatisfy { $0 > 0.1 && $0 < 0.3 })
      _ = Autograd.record(train: false) { bn(x) }
      Autograd.clearTape()
      #expect(bn.movingMean!.scalars.allSatisfy { $0 > 0.1 && $0 < 0.3 })
    }

    @Test func softmaxCrossEntropyMatchesFormula() {
      var rng = TestRNG(29)
      let logits = rng.uniform([6, 5], -3, 3)
      let labels = rng.labels(6, classes: 5)
      var total = 0.0
      for i in 0..<6 {
        var s = 0.0
        for j in 0..<5 { s += Foundation.exp(Double(logits[i, j])) }
        total += -Foundation.log(Foundation.exp(Double(logits[i, Int(labels[i])])) / s)
      }
      let loss = softmaxCrossEntropy(logits, labels: labels)
      #expect(loss.shape == [])
      #expect(abs(Double(loss.item) - total / 6) < 1e-5)
      #expect(logits.argmaxRows().count == 6)
      #expect(Tensor([0, 3, 1, 5, 5, 2], shape: [2, 3]).argmaxRows() == [1, 0])
    }

    @Test func elementwiseAndReductionsMatchReference() {
      var rng = TestRNG(30)
      let a = rng.uniform([3, 1, 5]), b = rng.uniform([4, 1], 0.5, 1.5)
      let sum = a + b, quot = a / b
      #expect(sum.shape == [3, 4, 5])
      var refSum: [Double] = [], refQuot: [Double] = []
      for i in 0..<3 { for j in 0..<4 { for k in 0..<5 {
        refSum.append(Double(a[i, 0, k]) + Double(b[j, 0]))
        refQuot.append(Double(a[i, 0, k]) / Double(b[j, 0]))
      } } }
      expectClose(sum.scalars, refSum, tol: 1e-6, "a + b")
      expectClose(quot.scalars, refQuot, tol: 1e-6, "a / b")
      let x = rng.uniform([2, 3, 4])
      let s1 = x.sum(axes: [0, 2])
      #expect(s1.shape == [3])
      expectClose(s1.scalars, (0..<3).map { j in
        var s = 0.0
        for i in 0..<2 { for k in 0..<4 { s += Double(x[i, j, k]) } }
        return s
      }, tol: 1e-5, "sum axes 0,2")
      #expect(x.mean(axis: -1, keepDims: true).shape == [2, 3, 1])
      #expect(x.sum().shape == [])
      expectClose([x.mean().item], [x.scalars.map(Double.init).reduce(0, +) / 24], tol: 1e-6)
      #expect(x.reshaped([-1, 6]).shape == [4, 6])
      #expect(x.flattened().shape == [2, 12])
    }

    /// Big enough for the multi-threaded paths; results must match one thread.
    @Test func multiThreadedMatchesSingleThreaded() {
      var rng = TestRNG(31)
      let x = rng.uniform([8, 4, 40, 40]), w = rng.uniform([8, 4, 3, 3], -0.3, 0.3), b = rng.uniform([8])
      let gamma = rng.uniform([8], 0.5, 1.5), beta = rng.uniform([8])
      let dw = rng.uniform([10, 8 * 20 * 20], -0.05, 0.05)
      let labels = rng.labels(8, classes: 10)
      func run() -> [[Float]] {
        for t in [x, w, b, gamma, beta, dw] { t.requiresGrad = true; t.zeroGrad() }
        let mm = Tensor(zeros: [8]), mv = Tensor(repeating: 1, shape: [8])
        let loss = Autograd.record { () -> Tensor in
          var h = conv2d(x, weight: w, bias: b, stride: (1, 1), padding: (1, 1), activation: .relu)
          h = batchNorm(h, gamma: gamma, beta: beta, movingMean: mm, movingVar: mv, eps: 1e-5, momentum: 0.9)
          h = (h * h + h).sigmoid() - h.mean(axes: [0, 2, 3], keepDims: true)
          h = maxPool2d(h, kernel: (3, 3), stride: (2, 2), padding: (1, 1))
          h = avgPool2d(h, kernel: (1, 1), stride: (1, 1))
          return softmaxCrossEntropy(dense(h.flattened(), weight: dw, bias: nil), labels: labels)
        }
        loss.backward()
        return [[loss.item], mm.scalars, mv.scalars] + [x, w, b, gamma, beta, dw].map { $0.grad!.scalars }
      }
      ComputeThreads.set(1)
      let one = run()
      ComputeThreads.set(2)
      defer { ComputeThreads.set(1) }
      let two = run()
      for (i, (p, q)) in zip(one, two).enumerated() {
        let scale = max(1e-3, p.map { Double(abs($0)) }.max() ?? 0)
        expectClose(q.map { Float(Double($0) / scale) }, p.map { Double($0) / scale }, tol: 1e-4,
                    "result \(i) with 2 threads")
      }
    }
  }
}
