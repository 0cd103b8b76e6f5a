import CDirectConvolution

/// Convolutions of small planes (the 16x16 to 2x2 layers of the `reproduce` sizes), computed
/// in place from the input with AVX-512, nothing unfolded: the forward pass (stride 1, and
/// stride 2 for ResNet's downsampling 3x3s), the input gradient of a stride-1 convolution as
/// the same kind of convolution of the output gradient with the kernel turned half a turn,
/// and the weight gradient of a stride-1 convolution.
///
/// The vector lanes are 16 output channels (`direct_convolution_forward` in
/// `CDirectConvolution`, C for the per-function AVX-512 target Swift cannot express): a
/// tile of up to 10 output pixels by 32 output channels keeps its accumulators in registers,
/// and each kernel tap and input channel costs two weight loads, and per pixel one broadcast
/// of an input value and two fused multiply-adds. Output pixels are grouped by the taps that
/// reach into the image, and a tile multiplies only those: a padded 3x3 kernel spends 16% of
/// its taps on padding at 8x8, 31% at 4x4. The weight gradient's tile is up to 9 taps by 32
/// output channels, two vector loads of the output gradient per pixel (BENCHMARKS.md,
/// Sessions 22 and 23).
///
/// Only on CPUs with AVX-512F; elsewhere, and for planes over `maxOutPixels` (where
/// OpenBLAS's GEMMs are at their best), the unfolding stays. Forward and backward reference
/// tests (`ForwardReferenceTests`, `BackwardReferenceTests`, `GradientCheckTests`) reach this
/// path on such CPUs through `conv2d`.
enum ChannelVectorConvolution {
  static let available = direct_convolution_available() != 0
  static let maxOutPixels = Int(DIRECT_CONVOLUTION_MAX_OUT_PIXELS)
  static let maxTaps = Int(DIRECT_CONVOLUTION_MAX_TAPS)
  /// Strided convolutions only down to 4x4 outputs: ResNet-18's 16x16 -> 8x8 at 64 px took
  /// more time here than its unfolding and GEMM saved (perf samples, BENCHMARKS.md Session 23).
  static let maxStridedOutPixels = 16

  /// Not for 1x1 kernels: a tile's one tap is too little work for its output's write-back
  /// (strided 1x1 convolutions ran at a third of the 3x3's speed, their weight gradient at a
  /// tenth), and a stride-1 one's GEMM needs no unfolding. Nor for LeNet's convolutions,
  /// which `DirectConvolution` takes. Strided convolutions only up to `maxStridedOutPixels`,
  /// and in the forward pass only (`appliesToInputGradient`, `appliesToWeightGradient`).
  static func applies(_ g: ConvGeometry, outChannels o: Int) -> Bool {
    let strided = g.strideH > 1 || g.strideW > 1
    return available && g.kernelH * g.kernelW > 1
      && g.outPixels <= (strided ? maxStridedOutPixels : maxOutPixels)
      && g.kernelH * g.kernelW <= maxTaps
      && !DirectConvolution.applies(g, outChannels: o)
  }

  /// The input gradient as a convolution needs stride 1 and padding of at most the kernel's
  /// size less one; a strided convolution's input gradient stays with the GEMM and col2im.
  static func appliesToInputGradient(_ g: ConvGeometry, outChannels o: Int) -> Bool {
    applies(g, outChannels: o) && g.strideH == 1 && g.strideW == 1
      && g.padH <= g.kernelH - 1 && g.padW <= g.kernelW - 1 && g.inPixels <= maxOutPixels
  }

  /// The weight gradient at stride 1 only: at stride 2 (ResNet's) the unfolding and a GEMM
  /// were faster.
  static func appliesToWeightGradient(_ g: ConvGeometry, outChannels o: Int) -> Bool {
    applies(g, outChannels: o) && g.strideH == 1 && g.strideW == 1
  }

  /// `y = conv(x, w)` for `images` images, overwriting `y` (bias and activation left to
  /// the caller). In a `predict` block the packed kernel is made once per weight
  /// (`PredictionCache`); an evaluation pass would otherwise repack it every batch.
  static func forward(
    _ x: UnsafePointer<Float>, _ w: Tensor, _ g: ConvGeometry, outChannels o: Int,
    images: Int, into y: UnsafeMutablePointer<Float>
  ) {
    let packedKernel = PredictionCache.packedKernel(
      of: w, .packedDirectKernel, g, floats: packedFloats(outChannels: o, channels: g.channels, g)
    ) { pack(w.data, outChannels: o, channels: g.channels, g, turned: false, into: $0) }
    run(input: x, channels: g.channels, height: g.height, width: g.width, weights: w.data,
        packed: packedKernel.map { UnsafePointer($0.data) }, outChannels: o, g, turned: false,
        stride: (g.strideH, g.strideW), padH: g.padH, padW: g.padW, images: images,
        outPixels: g.outPixels, into: y, accumulate: false)
  }

  /// `dx += conv(dz, turned w)`, the input gradient of `conv2d` for an output gradient `dz`
  /// (`[images, o, outH, outW]`) into `dx` (`[images, channels, height, width]`).
  static func inputGradient(
    _ dz: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ g: ConvGeometry, outChannels o: Int,
    images: Int, into dx: UnsafeMutablePointer<Float>
  ) {
    run(input: dz, channels: o, height: g.outH, width: g.outW, weights: w, packed: nil,
        outChannels: g.channels, g, turned: true, stride: (1, 1),
        padH: g.kernelH - 1 - g.padH, padW: g.kernelW - 1 - g.padW, images: images,
        outPixels: g.inPixels, into: dx, accumulate: true)
  }

  /// `dw += ` the weight gradient of `conv2d` for input `x` and output gradient `dz`. The
  /// output gradient is transposed to pixel-major rows of output channels once (the images
  /// split between the threads); then the threads split the input channels, each framing its
  /// channels of every image and writing only their part of `dw`.
  static func weightGradient(
    _ x: UnsafePointer<Float>, _ dz: UnsafePointer<Float>, _ g: ConvGeometry, outChannels o: Int,
    images: Int, into dw: UnsafeMutablePointer<Float>
  ) {
    let P = g.outPixels
    let transposed = direct_convolution_transposed_gradient_floats(Int32(images), Int32(o), P)
    let row = transposed / max(images * P, 1)
    let scratch = direct_convolution_weight_gradient_scratch_floats(
      Int32(images), Int32(g.height), Int32(g.width), Int32(g.kernelH), Int32(g.kernelW),
      Int32(g.padH), Int32(g.padW))
    let threads = min(ComputeThreads.count, g.channels)
    Scratch.withFloats(transposed + threads * scratch) { buffer in
      let captured = (x, dz, dw, buffer)
      parallelParts(images, parts: min(ComputeThreads.count, images)) { _, range in
        let (_, dz, _, buffer) = captured
        direct_convolution_transpose_gradient(
          dz + range.lowerBound * o * P, Int32(range.count), Int32(o), P,
          buffer + range.lowerBound * P * row)
      }
      parallelParts(g.channels, parts: threads) { t, range in
        let (x, _, dw, buffer) = captured
        GEMMClock.timing {
          direct_convolution_weight_gradient(
            x, Int32(images), Int32(g.channels), Int32(g.height), Int32(g.width),
            Int32(g.kernelH), Int32(g.kernelW), Int32(g.padH), Int32(g.padW), buffer, Int32(o),
            Int32(range.lowerBound), Int32(range.upperBound), dw, buffer + transposed + t * scratch)
        }
      }
    }
  }

  /// Packs the kernel once (unless `packed` is given), then splits the images between the
  /// threads, each with its own framed copies of a block of images.
  private static func run(
    input: UnsafePointer<Float>, channels: Int, height: Int, width: Int,
    weights w: UnsafePointer<Float>, packed given: UnsafePointer<Float>?, outChannels: Int,
    _ g: ConvGeometry, turned: Bool, stride: (Int, Int), padH: Int, padW: Int, images: Int,
    outPixels: Int, into out: UnsafeMutablePointer<Float>, accumulate: Bool
  ) {
    let packed = given == nil ? packedFloats(outChannels: outChannels, channels: channels, g) : 0
    let threads = min(ComputeThreads.count, images)
    let scratch = direct_convolution_scratch_floats(
      Int32((images + threads - 1) / max(threads, 1)), Int32(channels), Int32(height),
      Int32(width), Int32(padH), Int32(padW))
    let inPixels = height * width
    Scratch.withFloats(packed + threads * scratch) { buffer in
      if given == nil {
        pack(w, outChannels: outChannels, channels: channels, g, turned: turned, into: buffer)
      }
      let kernel = given ?? UnsafePointer(buffer)
      let captured = (input, out, buffer, kernel)
      parallelParts(images, parts: threads) { t, range in
        let (input, out, buffer, kernel) = captured
        GEMMClock.timing {
          direct_convolution_forward(
            input + range.lowerBound * channels * inPixels, Int32(range.count), Int32(channels),
            Int32(height), Int32(width), Int32(g.kernelH), Int32(g.kernelW), Int32(stride.0),
            Int32(stride.1), Int32(padH), Int32(padW), kernel, Int32(outChannels),
            out + range.lowerBound * outChannels * outPixels, accumulate ? 1 : 0,
            buffer + packed + t * scratch)
        }
      }
    }
  }

  /// Floats of a packed kernel with `outChannels` outputs over `channels` inputs.
  private static func packedFloats(outChannels: Int, channels: Int, _ g: ConvGeometry) -> Int {
    direct_convolution_packed_floats(
      Int32(outChannels), Int32(channels), Int32(g.kernelH * g.kernelW))
  }

  /// Packs `w` for a direct convolution of `channels` inputs into `outChannels` outputs; with
  /// `turned`, for the input gradient, whose inputs are `w`'s outputs.
  private static func pack(
    _ w: UnsafePointer<Float>, outChannels: Int, channels: Int, _ g: ConvGeometry, turned: Bool,
    into packed: UnsafeMutablePointer<Float>
  ) {
    direct_convolution_pack(
      w, Int32(turned ? channels : outChannels), Int32(turned ? outChannels : channels),
      Int32(g.kernelH), Int32(g.kernelW), turned ? 1 : 0, packed)
  }
}
