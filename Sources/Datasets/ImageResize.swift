/// Resampling of 8-bit grey images to `Float` images in [0, 1].
public enum ImageResize {
  /// Resizes one `height` x `width` image to `toHeight` x `toWidth` by bilinear interpolation
  /// and scales it to [0, 1]. Builds a plan each call: for many images, keep a
  /// `BilinearPlan` instead.
  public static func bilinear(
    _ pixels: [UInt8], height: Int, width: Int, toHeight: Int, toWidth: Int
  ) -> [Float] {
    BilinearPlan(inputHeight: height, inputWidth: width, outputHeight: toHeight,
                 outputWidth: toWidth).apply(pixels)
  }

  /// Bilinear interpolation weights for one input and one output size, computed once.
  ///
  /// Pixel centres are aligned at half-pixel positions (`align_corners = False`): output pixel
  /// `x` samples the input at `(x + 0.5) * inputWidth / outputWidth - 0.5`, clamped to the
  /// image, as OpenCV's `INTER_LINEAR`, PyTorch's `interpolate(mode: "bilinear")` and
  /// torchvision's `Resize` do when enlarging (which is what the chapter does: 28 to 224 or
  /// 96). Shrinking works but, like those, does not low-pass filter first.
  public struct BilinearPlan: Sendable {
    public let inputHeight: Int
    public let inputWidth: Int
    public let outputHeight: Int
    public let outputWidth: Int
    // Per output column: the left input column and the weight of the one to its right;
    // the same for rows, where the lower row is kept too (rows are not padded).
    let x0: [Int32], wx: [Float]
    let y0: [Int32], y1: [Int32], wy: [Float]

    public init(inputHeight: Int, inputWidth: Int, outputHeight: Int, outputWidth: Int) {
      require(inputHeight > 0 && inputWidth > 0, "empty input image")
      require(outputHeight > 0 && outputWidth > 0, "empty output image")
      self.inputHeight = inputHeight
      self.inputWidth = inputWidth
      self.outputHeight = outputHeight
      self.outputWidth = outputWidth
      (x0, _, wx) = BilinearPlan.axis(input: inputWidth, output: outputWidth)
      (y0, y1, wy) = BilinearPlan.axis(input: inputHeight, output: outputHeight)
    }

    /// True when the output has the input's size: `apply` then only scales to [0, 1].
    public var isIdentity: Bool { inputHeight == outputHeight && inputWidth == outputWidth }

    /// The number of floats one output image takes.
    public var outputCount: Int { outputHeight * outputWidth }

    private static func axis(input: Int, output: Int) -> ([Int32], [Int32], [Float]) {
      var lo = [Int32](), hi = [Int32](), weight = [Float]()
      let scale = Double(input) / Double(output)
      for o in 0..<output {
        // Double keeps the source coordinate exact enough for any image size.
        let source = max(0, (Double(o) + 0.5) * scale - 0.5)
        let i = min(Int(source), input - 1)
        lo.append(Int32(i))
        hi.append(Int32(min(i + 1, input - 1)))
        // Past the last centre the value is the last pixel's: weight 0 on the (padded) next.
        weight.append(i == input - 1 ? 0 : Float(source - Double(i)))
      }
      return (lo, hi, weight)
    }

    /// Resizes the image at `source` (`inputHeight * inputWidth` bytes) into `destination`
    /// (`outputCount` floats), as grey level / 255.
    public func apply(
      _ source: UnsafePointer<UInt8>, into destination: UnsafeMutablePointer<Float>
    ) {
      if isIdentity {
        for i in 0..<outputCount { destination[i] = Float(source[i]) / 255 }
        return
      }
      let (inW, outW) = (inputWidth, outputWidth)
      // Separable: first interpolate every input row horizontally (inputHeight x outputWidth),
      // then blend pairs of those rows. The first pass is a gather and cannot vectorise, so it
      // runs on the smaller image and reads floats from a row converted (and scaled) once,
      // padded with a copy of its last pixel so that `i + 1` is always a valid column.
      withUnsafeTemporaryAllocation(of: Float.self, capacity: inputHeight * outW + inW + 1) {
        scratch in
        let rows = scratch.baseAddress!
        let row = rows + inputHeight * outW
        x0.withUnsafeBufferPointer { x0 in
          wx.withUnsafeBufferPointer { wx in
            for r in 0..<inputHeight {
              let src = source + r * inW
              for c in 0..<inW { row[c] = Float(src[c]) * (1 / 255) }
              row[inW] = row[inW - 1]
              let dst = rows + r * outW
              for x in 0..<outW {
                let i = Int(x0[x])
                let a = row[i], b = row[i + 1]
                dst[x] = a + wx[x] * (b - a)
              }
            }
          }
        }
        y0.withUnsafeBufferPointer { y0 in
          y1.withUnsafeBufferPointer { y1 in
            wy.withUnsafeBufferPointer { wy in
              for y in 0..<outputHeight {
                let top = rows + Int(y0[y]) * outW
                let bottom = rows + Int(y1[y]) * outW
                let w = wy[y]
                let dst = destination + y * outW
                for x in 0..<outW {
                  dst[x] = top[x] + w * (bottom[x] - top[x])
                }
              }
            }
          }
        }
      }
    }

    /// Resizes one image held in an array of `inputHeight * inputWidth` bytes.
    public func apply(_ pixels: [UInt8]) -> [Float] {
      require(pixels.count == inputHeight * inputWidth, "image size does not match the plan")
      return [Float](unsafeUninitializedCapacity: outputCount) { out, initialized in
        pixels.withUnsafeBufferPointer { apply($0.baseAddress!, into: out.baseAddress!) }
        initialized = outputCount
      }
    }
  }
}
