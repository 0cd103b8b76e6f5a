import Testing
@testable import Engine

extension EngineTests {
  /// The live part of a kernel on planes small against it, and that convolving with it
  /// alone is the full convolution.
  @Suite struct LiveKernelWindowTests {
    func geometry(_ size: (Int, Int), kernel: Int, stride: Int = 1, pad: Int) -> ConvGeometry {
      ConvGeometry(
        channels: 2, height: size.0, width: size.1, kernelH: kernel, kernelW: kernel,
        strideH: stride, strideW: stride, padH: pad, padW: pad)
    }

    @Test func trimsOnlyTapsThatMeetPaddingAlone() {
      // 3x3 on 1x1: the centre; 5x5 on 2x2: the middle 3x3; 5x5 on 2x1: 3 rows, 1 column.
      for (size, kernel, pad, trim) in [((1, 1), 3, 1, (1, 1)), ((2, 2), 5, 2, (1, 1)),
                                        ((2, 1), 5, 2, (1, 2)), ((1, 1), 7, 3, (3, 3))] {
        let g = geometry(size, kernel: kernel, pad: pad)
        let live = LiveKernelWindow(g)!
        #expect((live.trimH, live.trimW) == trim, "\(g)")
        #expect(live.geometry.outH == g.outH && live.geometry.outW == g.outW)
        #expect(live.geometry.padH == pad - trim.0 && live.geometry.kernelH == kernel - 2 * trim.0)
      }
      // Every tap meets the image somewhere: nothing to cut.
      for (size, kernel, pad) in [((2, 2), 3, 1), ((8, 8), 3, 1), ((4, 4), 5, 2), ((3, 3), 3, 4)] {
        #expect(!LiveKernelWindow(geometry(size, kernel: kernel, pad: pad))!.trims)
      }
    }

    @Test func trimmedConvolutionEqualsTheFullOne() {
      var rng = TestRNG(41)
      let x = rng.uniform([3, 4, 1, 1])
      let w = rng.uniform([5, 4, 3, 3]).asParameter()
      let y = Autograd.record { conv2d(x, weight: w, bias: nil, padding: (1, 1)) }
      let ref = conv2dRef(x, w, nil, stride: (1, 1), padding: (1, 1))
      expectClose(y.scalars, ref.values, tol: 1e-5, "3x3 on 1x1")
      Autograd.record { y.sum() }.backward()
      // The outer taps only multiplied padding: their gradient is exactly zero.
      let dw = w.grad!.scalars
      for (i, g) in dw.enumerated() where i % 9 != 4 { #expect(g == 0) }
      #expect(dw.enumerated().contains { $0.offset % 9 == 4 && $0.element != 0 })
    }
  }
}
