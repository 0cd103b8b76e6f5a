import Testing
@testable import Engine

extension EngineTests {
  /// Weight-derived matrices kept for one `predict` block: derived once, the same numbers
  /// as outside it, and never stale after the weights change.
  @Suite struct PredictionCacheTests {
    /// A 3x3 kernel on 1x1 planes (its live centre is cut out), one on 2x2 planes (a
    /// plane matrix), one on 5x5 planes (the direct convolution, on AVX-512 CPUs) and one
    /// on 8x8 planes with 8 channels (Winograd's, on AVX-512 CPUs).
    struct Layers {
      var rng = TestRNG(23)
      let centre: Tensor, plane: Tensor, direct: Tensor, winograd: Tensor
      let onePixel: Tensor, fourPixels: Tensor, fivePixels: Tensor, eightPixels: Tensor

      init() {
        centre = rng.uniform([5, 4, 3, 3]).asParameter()
        plane = rng.uniform([6, 4, 3, 3]).asParameter()
        direct = rng.uniform([18, 4, 3, 3]).asParameter()
        winograd = rng.uniform([9, 8, 3, 3]).asParameter()
        onePixel = rng.uniform([3, 4, 1, 1])
        fourPixels = rng.uniform([3, 4, 2, 2])
        fivePixels = rng.uniform([3, 4, 5, 5])
        eightPixels = rng.uniform([3, 8, 8, 8])
      }

      func outputs() -> [[Float]] {
        [conv2d(onePixel, weight: centre, bias: nil, padding: (1, 1)).scalars,
         conv2d(fourPixels, weight: plane, bias: nil, padding: (1, 1)).scalars,
         conv2d(fivePixels, weight: direct, bias: nil, padding: (1, 1)).scalars,
         conv2d(eightPixels, weight: winograd, bias: nil, padding: (1, 1)).scalars]
      }
    }

    @Test func aPredictBlockDerivesEachWeightsMatrixOnce() {
      let layers = Layers()
      let outside = layers.outputs()
      let stored = PredictionCache.stores
      let inside = Autograd.predict { (0..<3).map { _ in layers.outputs() } }
      // The live window, the plane matrix and, on CPUs with AVX-512, the direct
      // convolution's packed kernel of the 5x5 planes and Winograd's of the 8x8 ones, each
      // stored once for three passes.
      let derived = ChannelVectorConvolution.available ? 4 : 2
      #expect(PredictionCache.stores - stored == derived)
      #expect(PredictionCache.count == 0, "emptied when the block ends")
      for pass in inside { #expect(pass == outside) }
      // Outside a block nothing is kept.
      _ = layers.outputs()
      #expect(PredictionCache.stores - stored == derived)
    }

    @Test func anOptimizerStepInsideTheBlockIsSeen() {
      let layers = Layers()
      let optimizer = SGD(
        [layers.centre, layers.plane, layers.direct, layers.winograd], learningRate: 0.5)
      // The gradients come first, outside the block: recording would empty the cache itself.
      Autograd.record {
        conv2d(layers.onePixel, weight: layers.centre, bias: nil, padding: (1, 1)).sum()
          + conv2d(layers.fourPixels, weight: layers.plane, bias: nil, padding: (1, 1)).sum()
          + conv2d(layers.fivePixels, weight: layers.direct, bias: nil, padding: (1, 1)).sum()
          + conv2d(layers.eightPixels, weight: layers.winograd, bias: nil, padding: (1, 1)).sum()
      }.backward()
      let (before, after) = Autograd.predict { () -> ([[Float]], [[Float]]) in
        let before = layers.outputs()
        #expect(PredictionCache.count == (ChannelVectorConvolution.available ? 4 : 2))
        optimizer.step()
        #expect(PredictionCache.count == 0)
        return (before, layers.outputs())
      }
      #expect(after != before)
      #expect(after == layers.outputs(), "the new weights' outputs, not the cached ones'")
    }
  }
}
