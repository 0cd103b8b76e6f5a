import Testing

@testable import Datasets

@Suite struct ImageResizeTests {
  /// Straight from the definition (half-pixel centres, clamped at the borders), in Double.
  static func reference(
    _ pixels: [UInt8], height: Int, width: Int, toHeight: Int, toWidth: Int
  ) -> [Float] {
    func sample(_ o: Int, input: Int, output: Int) -> (Int, Int, Double) {
      let s = max(0, (Double(o) + 0.5) * Double(input) / Double(output) - 0.5)
      let i = min(Int(s.rounded(.down)), input - 1)
      return (i, min(i + 1, input - 1), s - Double(i))
    }
    var out = [Float]()
    for y in 0..<toHeight {
      let (r0, r1, fy) = sample(y, input: height, output: toHeight)
      for x in 0..<toWidth {
        let (c0, c1, fx) = sample(x, input: width, output: toWidth)
        func p(_ r: Int, _ c: Int) -> Double { Double(pixels[r * width + c]) }
        let top = p(r0, c0) * (1 - fx) + p(r0, c1) * fx
        let bottom = p(r1, c0) * (1 - fx) + p(r1, c1) * fx
        out.append(Float((top * (1 - fy) + bottom * fy) / 255))
      }
    }
    return out
  }

  static func randomImage(height: Int, width: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    return (0..<height * width).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
  }

  @Test(arguments: [
    (28, 28, 96, 96), (28, 28, 224, 224), (28, 28, 56, 56), (28, 28, 35, 35),
    (28, 28, 14, 14), (28, 20, 33, 50), (5, 7, 1, 1), (1, 1, 4, 3),
  ])
  func matchesTheReference(sizes: (Int, Int, Int, Int)) {
    let (h, w, oh, ow) = sizes
    let image = Self.randomImage(height: h, width: w, seed: UInt64(oh * 1000 + ow))
    let got = ImageResize.bilinear(image, height: h, width: w, toHeight: oh, toWidth: ow)
    let want = Self.reference(image, height: h, width: w, toHeight: oh, toWidth: ow)
    #expect(got.count == oh * ow)
    let worst = zip(got, want).map { abs($0 - $1) }.max() ?? 0
    #expect(worst < 1e-5, "max difference \(worst)")
  }

  @Test func identityAt28OnlyScales() {
    let image = Self.randomImage(height: 28, width: 28, seed: 7)
    let plan = ImageResize.BilinearPlan(
      inputHeight: 28, inputWidth: 28, outputHeight: 28, outputWidth: 28)
    #expect(plan.isIdentity)
    #expect(plan.apply(image) == image.map { Float($0) / 255 })
  }

  /// The values PyTorch gives for `interpolate([[0, 100]], size: 4, mode: "linear",
  /// align_corners: False)`: the ends are clamped, the middle at quarter steps.
  @Test func halfPixelCentres() {
    let got = ImageResize.bilinear([0, 100], height: 1, width: 2, toHeight: 1, toWidth: 4)
    let want: [Float] = [0, 25, 75, 100].map { $0 / 255 }
    #expect(zip(got, want).allSatisfy { abs($0 - $1) < 1e-6 })
  }

  @Test func flatImageStaysFlat() {
    let got = ImageResize.bilinear(
      [UInt8](repeating: 200, count: 784), height: 28, width: 28, toHeight: 96, toWidth: 96)
    #expect(got.allSatisfy { abs($0 - 200 / 255) < 1e-6 })
  }

  @Test func valuesStayInTheUnitInterval() {
    var image = [UInt8](repeating: 0, count: 784)
    for i in stride(from: 0, to: 784, by: 2) { image[i] = 255 }
    let got = ImageResize.bilinear(image, height: 28, width: 28, toHeight: 224, toWidth: 224)
    #expect(got.allSatisfy { $0 >= 0 && $0 <= 1 })
  }
}
