import Testing
@testable import Engine

extension EngineTests {
  /// Weight-derived matrices kept for one `predict` block: derived once, the same numbers
  /// as outside it, and never stale after the weights change.
  @Suite struct PredictionCacheTests {
    /// A 3x3 kernel on 1x1 planes (its live centre is cut out) and one on 2x2 planes (a
    /// plane matrix).
    struct Layers {
      var rng = TestRNG(23)
      let centre: Tensor, plane: Tensor
      let onePixel: Tensor, fourPixels: Tensor

      init() {
        centre = rng.uniform([5, 4, 3, 3]).asParameter()
        plane = rng.uniform([6, 4, 3, 3]).asParameter()
        onePixel = rng.uniform([3, 4, 1, 1])
        fourPixels = rng.uniform([3, 4, 2, 2])
      }

      func outputs() -> [[Float]] {
        [conv2d(onePixel, weight: centre, bias: nil, padding: (1, 1)).scalars,
         conv2d(fourPixels, weight: plane, bias: nil, padding: (1, 1)).scalars]
      }
    }

    @Test func aPredictBlockDerivesEachWeightsMatrixOnce() {
      let layers = Layers()
      let outside = layers.outputs()
      let stored = PredictionCache.stores
      let inside = Autograd.predict { (0..<3).map { _ in layers.outputs() } }
      // The live window and the plane matrix, each stored once for three passes.
      #expect(PredictionCache.stores - stored == 2)
      #expect(PredictionCache.count == 0, "emptied when the block ends")
      for pass in inside { #expect(pass == outside) }
      // Outside a block nothing is kept.
      _ = layers.outputs()
      #expect(PredictionCache.stores - stored == 2)
    }

    @Test func anOptimizerStepInsideTheBlockIsSeen() {
      let layers = Layers()
      let optimizer = SGD([layers.centre, layers.plane], learningRate: 0.5)
      // The gradients come first, outside the block: recording would empty the cache itself.
      Autograd.record {
        conv2d(layers.onePixel, weight: layers.centre, bias: nil, padding: (1, 1)).sum()
          + conv2d(layers.fourPixels, weight: layers.plane, bias: nil, padding: (1, 1)).sum()
      }.backward()
      let (before, after) = Autograd.predict { () -> ([[Float]], [[Float]]) in
        let before = layers.outputs()
        #expect(PredictionCache.count == 2)
        optimizer.step()
        #expect(PredictionCache.count == 0)
        return (before, layers.outputs())
      }
      #expect(after != before)
      #expect(after == layers.outputs(), "the new weights' outputs, not the cached ones'")
    }
  }
}
