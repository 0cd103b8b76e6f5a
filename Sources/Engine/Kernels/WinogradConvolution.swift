import CDirectConvolution

/// 3x3 and 5x5 convolutions of stride 1 and "same" padding (1 and 2) by Winograd's
/// F(2x2, 3x3) and F(2x2, 5x5): the forward pass, and the input gradient as the same kind of
/// convolution of the output gradient with the kernel turned half a turn. Each 2x2 block of
/// output pixels costs 16 (3x3) or 36 (5x5) multiplies per input and output channel where
/// direct convolution needs 36 or 100 (fewer near the border, where it skips the taps on
/// padding); the transforms in and out are additions and multiplications by constants.
///
/// `winograd_convolution_forward` in `CDirectConvolution` (AVX-512F, as the direct kernel):
/// the input is framed channel-last, 16 channels to a vector; each tile's 4x4 or 6x6 window
/// is transformed (`B^T d B`), then for each of the 16 or 36 transformed positions the
/// tiles' values are multiplied by the packed kernel (`G w G^T`) and summed over the
/// channels in a register tile of up to 10 tiles by 32 output channels, and the sums of each
/// tile transformed back (`A^T m A`) to its four output pixels.
///
/// Applies on CPUs with AVX-512F, to planes up to `maxPixels` where the direct count of
/// multiplies, taps on padding skipped, is at least `minMultiplyRatio` times the tiles':
/// for 3x3, planes of 4x4 and 6x6 and up, not 2x2, 3x3 or 5x5, whose border tiles are
/// mostly padding; for 5x5, from 6x6 up; and with at least `minChannels` channels in and out
/// (the transforms run on whole vectors of 16 channels). Beyond the direct kernel's 16x16 it
/// takes the place of the unfolding and GEMM too: VGG-11/4 at 224 px trained 1.36x as fast
/// with it on planes up to 64x64, 1.05x more with it on its 112x112 layer as well; AlexNet
/// at 224 px 1.16x with its 27x27 5x5 layer by F(2x2, 5x5) (BENCHMARKS.md, Session 25).
///
/// The weight gradient is the adjoint: for each of the 16 or 36 positions, the transformed
/// input (`B^T d B`) times the transformed output gradient (`A dY A^T`) summed over the
/// tiles, 16 output channels to a vector, then `G^T s G` back to 3x3 or 5x5 taps.
///
/// The error of F(2x2, 3x3) against direct summation is a few units in the last place of
/// the results' magnitude (the transforms' halves and sums). F(2x2, 5x5)'s transforms have
/// coefficients from 1/24 to 5: its forward pass is within about 3e-7 of the sum of the
/// products' magnitudes, its weight gradient within about 2e-6. Both are inside issue #7's
/// cross-check tolerances.
enum WinogradConvolution {
  /// The fewest direct multiplies per Winograd multiply at which the transforms pay: with
  /// 3x3 kernels, 4x4 planes (1.56) ran 1.2-1.3x faster than the direct kernel, 8x8 (1.89)
  /// 1.4x, 16x16 (2.07) 1.5x (BENCHMARKS.md, Session 24); with 5x5 kernels, 7x7 planes (1.46)
  /// 1.2-1.3x, 8x8 (2.0) 1.24x with 16 channels in, 10x10 (2.15) 1.7x (Session 25).
  static let minMultiplyRatio = 1.4

  /// The largest plane: 256x256, which bounds a thread's scratch (its transformed input is
  /// four times an image's input).
  static let maxPixels = 65536
  static let minChannels = 8

  static func applies(_ g: ConvGeometry, outChannels o: Int) -> Bool {
    let k = g.kernelH
    return (k == 3 || k == 5) && g.kernelW == k && g.padH == k / 2 && g.padW == k / 2
      && g.strideH == 1 && g.strideW == 1 && ChannelVectorConvolution.available
      && g.outPixels <= maxPixels && min(g.channels, o) >= minChannels
      && multiplyRatio(height: g.height, width: g.width, kernel: k) >= minMultiplyRatio
  }

  /// The weight gradient by Winograd too, but for fewer than `minGradientOutChannels`
  /// output channels where the direct kernel takes it: with one pair of 16-channel blocks
  /// (DenseNet's 32-channel layers) the transforms and the sums weigh as much as the
  /// products saved (3x3: 1.04x the direct kernel at 8x8, 0.89x at 4x4, alone on one core,
  /// against 1.2-1.7x with 64 channels and more; 5x5: 0.87x with 16 -> 32 at 8x8, against
  /// 1.3-1.5x at 7x7 and 2.2-2.5x at 10x10 with 96 and 256).
  static func appliesToWeightGradient(_ g: ConvGeometry, outChannels o: Int) -> Bool {
    applies(g, outChannels: o)
      && (o >= minGradientOutChannels
        || !ChannelVectorConvolution.appliesToWeightGradient(g, outChannels: o))
  }

  static let minGradientOutChannels = 64

  /// Direct multiplies (live taps only) per Winograd multiply on a plane: a padded 3x3
  /// kernel has 3n - 2 live taps summed over an axis of n positions (a 5x5 one 5n - 6 from
  /// n = 2 on), and the tiles cover ceil(n / 2) windows of kernel + 1 pixels an axis.
  static func multiplyRatio(height: Int, width: Int, kernel: Int) -> Double {
    // Tap j meets the plane at n - |j - kernel / 2| of the n positions.
    func liveTaps(_ n: Int) -> Int {
      (0..<kernel).reduce(0) { sum, j in sum + max(0, n - abs(j - kernel / 2)) }
    }
    let direct = Double(liveTaps(height) * liveTaps(width))
    let tiles = Double((kernel + 1) * (kernel + 1) * ((height + 1) / 2) * ((width + 1) / 2))
    return direct / tiles
  }

  /// `y = conv(x, w)` for `images` images, overwriting `y` (bias and activation left to
  /// the caller). In a `predict` block the packed kernel is made once per weight.
  static func forward(
    _ x: UnsafePointer<Float>, _ w: Tensor, _ g: ConvGeometry, outChannels o: Int,
    images: Int, into y: UnsafeMutablePointer<Float>
  ) {
    let packedKernel = PredictionCache.packedKernel(
      of: w, .packedWinogradKernel, g,
      floats: Int(winograd_convolution_packed_floats(Int32(g.kernelH), Int32(o), Int32(g.channels)))
    ) { pack(w.data, g, outChannels: o, channels: g.channels, turned: false, into: $0) }
    run(input: x, channels: g.channels, g, weights: w.data,
        packed: packedKernel.map { UnsafePointer($0.data) }, outChannels: o, turned: false,
        images: images, into: y, accumulate: false)
  }

  /// `dx += conv(dz, turned w)`, the input gradient of `conv2d` for an output gradient `dz`
  /// (`[images, o, H, W]`) into `dx` (`[images, channels, H, W]`).
  static func inputGradient(
    _ dz: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ g: ConvGeometry, outChannels o: Int,
    images: Int, into dx: UnsafeMutablePointer<Float>
  ) {
    run(input: dz, channels: o, g, weights: w, packed: nil, outChannels: g.channels,
        turned: true, images: images, into: dx, accumulate: true)
  }

  /// `dw += ` the weight gradient of `conv2d` for input `x` and output gradient `dz`, in the
  /// Winograd domain: the threads split the images, each summing the products of its tiles'
  /// transformed input and output gradient into sums of its own; then they split the output
  /// channels, adding the threads' sums in order and transforming them back (`G^T s G`).
  static func weightGradient(
    _ x: UnsafePointer<Float>, _ dz: UnsafePointer<Float>, _ g: ConvGeometry, outChannels o: Int,
    images: Int, into dw: UnsafeMutablePointer<Float>
  ) {
    let (C, P) = (g.channels, g.height * g.width)
    let threads = min(ComputeThreads.count, images)
    let kernel = Int32(g.kernelH)
    let sums = winograd_convolution_weight_gradient_sums_floats(kernel, Int32(C), Int32(o))
    let scratch = winograd_convolution_weight_gradient_scratch_floats(
      kernel, Int32((images + threads - 1) / max(threads, 1)), Int32(C), Int32(g.height),
      Int32(g.width), Int32(o))
    Scratch.withFloats(threads * (sums + scratch)) { buffer in
      let captured = (x, dz, dw, buffer)
      parallelParts(images, parts: threads) { t, range in
        let (x, dz, _, buffer) = captured
        GEMMClock.timing {
          winograd_convolution_weight_gradient(
            kernel, x + range.lowerBound * C * P, dz + range.lowerBound * o * P, Int32(range.count),
            Int32(C), Int32(g.height), Int32(g.width), Int32(o), buffer + t * sums,
            buffer + threads * sums + t * scratch)
        }
      }
      let blocks = (o + 15) / 16
      parallelParts(blocks, parts: min(threads, blocks)) { _, range in
        let (_, _, dw, buffer) = captured
        winograd_convolution_add_weight_gradient(
          kernel, buffer, Int32(threads), sums, Int32(C), Int32(o), Int32(range.lowerBound * 16),
          Int32(min(range.upperBound * 16, o)), dw)
      }
    }
  }

  /// Packs the kernel once (unless `packed` is given), then splits the images between the
  /// threads, each with its own scratch.
  private static func run(
    input: UnsafePointer<Float>, channels: Int, _ g: ConvGeometry,
    weights w: UnsafePointer<Float>, packed given: UnsafePointer<Float>?, outChannels: Int,
    turned: Bool, images: Int, into out: UnsafeMutablePointer<Float>, accumulate: Bool
  ) {
    // `w`'s own output and input channels (the packed kernel's, swapped, when turned).
    let (wOut, wIn) = turned ? (channels, outChannels) : (outChannels, channels)
    let kernel = Int32(g.kernelH)
    let packed = given == nil
      ? Int(winograd_convolution_packed_floats(kernel, Int32(outChannels), Int32(channels))) : 0
    let threads = min(ComputeThreads.count, images)
    let scratch = Int(winograd_convolution_scratch_floats(
      kernel, Int32((images + threads - 1) / max(threads, 1)), Int32(channels), Int32(g.height),
      Int32(g.width), Int32(outChannels)))
    let pixels = g.height * g.width
    Scratch.withFloats(packed + threads * scratch) { buffer in
      if given == nil {
        pack(w, g, outChannels: wOut, channels: wIn, turned: turned, into: buffer)
      }
      let packedKernel = given ?? UnsafePointer(buffer)
      let captured = (input, out, buffer, packedKernel)
      parallelParts(images, parts: threads) { t, range in
        let (input, out, buffer, packedKernel) = captured
        GEMMClock.timing {
          winograd_convolution_forward(
            kernel, input + range.lowerBound * channels * pixels, Int32(range.count), Int32(channels),
            Int32(g.height), Int32(g.width), packedKernel, Int32(outChannels),
            out + range.lowerBound * outChannels * pixels, accumulate ? 1 : 0,
            buffer + packed + t * scratch)
        }
      }
    }
  }

  /// Packs `w` (`[outChannels, channels, k, k]`), or with `turned` the input gradient's
  /// kernel, the threads taking blocks of 16 packed output channels each: a training step
  /// packs every kernel twice, and the packed kernel is 16/9 (3x3) or 36/25 (5x5) of the
  /// weights' size (for ResNet-18's last stages, megabytes against a few milliseconds of
  /// products).
  private static func pack(
    _ w: UnsafePointer<Float>, _ g: ConvGeometry, outChannels: Int, channels: Int, turned: Bool,
    into packed: UnsafeMutablePointer<Float>
  ) {
    let blocks = ((turned ? channels : outChannels) + 15) / 16
    let captured = (w, packed)
    parallelParts(blocks, parts: min(ComputeThreads.count, blocks)) { _, range in
      let (w, packed) = captured
      winograd_convolution_pack(
        Int32(g.kernelH), w, Int32(outChannels), Int32(channels), turned ? 1 : 0, Int32(range.lowerBound),
        Int32(range.upperBound), packed)
    }
  }
}
