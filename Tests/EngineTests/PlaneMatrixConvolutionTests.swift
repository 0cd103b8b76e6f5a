import Testing
@testable import Engine

extension EngineTests {
  /// Which convolutions run as a product with their plane matrix, and that the matrix holds
  /// the right taps. `ForwardReference` and `BackwardReference` check the results of the
  /// path against the naive loops, `GradientChecks` its gradients.
  @Suite struct PlaneMatrixConvolutionTests {
    func geometry(_ h: Int, _ w: Int, kernel: Int, stride: Int = 1, pad: Int) -> ConvGeometry {
      ConvGeometry(
        channels: 3, height: h, width: w, kernelH: kernel, kernelW: kernel,
        strideH: stride, strideW: stride, padH: pad, padW: pad)
    }

    func applies(_ g: ConvGeometry) -> Bool {
      PlaneMatrixConvolution.applies(g, live: LiveKernelWindow(g)?.geometry ?? g)
    }

    @Test func takesPlanesSmallerThanTheLiveKernel() {
      // GoogLeNet's 3x3 and 5x5 on 2x2 (the 5x5 cut to 3x3), its 5x5 on 4x4, a strided one.
      #expect(applies(geometry(2, 2, kernel: 3, pad: 1)))
      #expect(applies(geometry(2, 2, kernel: 5, pad: 2)))
      #expect(applies(geometry(4, 4, kernel: 5, pad: 2)))
      #expect(applies(geometry(2, 3, kernel: 3, stride: 2, pad: 1)))
      // As many pixels as taps (AlexNet's 3x3 layers at 67 px), more pixels, and a 1x1
      // plane whose kernel is cut to its centre: the unfolding or a plain GEMM.
      #expect(!applies(geometry(3, 3, kernel: 3, pad: 1)))
      #expect(!applies(geometry(4, 4, kernel: 3, pad: 1)))
      #expect(!applies(geometry(1, 1, kernel: 3, pad: 1)))
      #expect(!applies(geometry(8, 8, kernel: 1, pad: 0)))
    }

    @Test func tapTableConnectsEachOutputToTheInputsItsWindowCovers() {
      // 3x3, padding 1, on 2x2: output (0, 0)'s window is centred on input (0, 0), so it
      // reads inputs (0, 0), (0, 1), (1, 0), (1, 1) through taps 4, 5, 7, 8; output (1, 1)
      // reads them through taps 0, 1, 3, 4.
      let table = PlaneMatrixConvolution.tapTable(geometry(2, 2, kernel: 3, pad: 1))
      #expect(table.count == 16)
      #expect(Array(table[0..<4]) == [4, 5, 7, 8])
      #expect(Array(table[12..<16]) == [0, 1, 3, 4])
      // Stride 2 on a 2x3 plane: outputs (0, 0) and (0, 1); the first window does not
      // reach input column 2, the second covers columns 1 to 3.
      let strided = PlaneMatrixConvolution.tapTable(geometry(2, 3, kernel: 3, stride: 2, pad: 1))
      #expect(strided == [4, 5, -1, 7, 8, -1, -1, 3, 4, -1, 6, 7])
    }

    @Test func planeMatrixHoldsTheKernelAtItsTaps() {
      // One filter, one channel, weights 1...9: the matrix's rows are the outputs' windows.
      let w = Tensor((1...9).map(Float.init), shape: [1, 1, 3, 3])
      let x = Tensor([1, 0, 0, 0], shape: [1, 1, 2, 2])  // picks column 0 of the matrix
      let y = conv2d(x, weight: w, bias: nil, padding: (1, 1))
      // Input (0, 0) seen through taps 4, 3, 1, 0 by outputs (0, 0), (0, 1), (1, 0), (1, 1).
      #expect(y.scalars == [5, 4, 2, 1])
    }
  }
}
