/// Bytes of im2col workspace per chunk of images: large enough for wide GEMMs,
/// small enough to stay modest next to the activations.
/// Tuning knob, public so that tests can force the multi-chunk path.
public enum ConvolutionWorkspace {
  nonisolated(unsafe) public static var bytes = 48 << 20
}

/// 2-D convolution (cross-correlation) with bias and a fused activation.
///
/// - input: `[N, C, H, W]`; weight: `[O, C, kh, kw]`; bias: `[O]` or nil.
/// - returns: `[N, O, outH, outW]`.
public func conv2d(
  _ x: Tensor, weight w: Tensor, bias b: Tensor?, stride: (Int, Int) = (1, 1),
  padding: (Int, Int) = (0, 0), activation: Activation = .none
) -> Tensor {
  precondition(x.rank == 4, "conv2d expects input [N, C, H, W], got \(x.shape)")
  precondition(w.rank == 4 && w.shape[1] == x.shape[1],
    "conv2d weight \(w.shape) does not match input channels \(x.shape[1])")
  let g = ConvGeometry(
    channels: x.shape[1], height: x.shape[2], width: x.shape[3], kernelH: w.shape[2],
    kernelW: w.shape[3], strideH: stride.0, strideW: stride.1, padH: padding.0, padW: padding.1)
  precondition(g.outH > 0 && g.outW > 0,
    "conv2d: input \(x.shape[2])x\(x.shape[3]) is too small for a \(g.kernelH)x\(g.kernelW) kernel with padding \(padding)")
  let n = x.shape[0], o = w.shape[0], K = g.patchSize, P = g.outPixels
  let y = Tensor(uninitializedShape: [n, o, g.outH, g.outW])
  let isPointwise = g.kernelH == 1 && g.kernelW == 1 && g.strideH == 1 && g.strideW == 1
    && g.padH == 0 && g.padW == 0
  let biasPointer = b.map { UnsafePointer($0.data) }
  FLOPCounter.add(2 * n * o * K * P)

  if isPointwise {
    // A 1x1 convolution is a plain product per image: no unfolding needed.
    for i in 0..<n {
      gemm(m: o, n: P, k: K, w.data, lda: K, x.data + i * K * P, ldb: P,
           y.data + i * o * P, ldc: P)
    }
    biasActivate(y.data, images: n, channels: o, pixels: P, bias: biasPointer, activation)
  } else {
    let chunk = imagesPerChunk(g, outChannels: o, images: n)
    let col = Tensor(uninitializedShape: [K * chunk * P])
    let tmp = Tensor(uninitializedShape: [o * chunk * P])
    var start = 0
    while start < n {
      let count = min(chunk, n - start)
      im2col(x.data + start * g.channels * g.inPixels, images: count, g, into: col.data)
      if count == 1 {
        gemm(m: o, n: P, k: K, w.data, lda: K, col.data, ldb: P, y.data + start * o * P, ldc: P)
      } else {
        gemm(m: o, n: count * P, k: K, w.data, lda: K, col.data, ldb: count * P, tmp.data,
             ldc: count * P)
        scatterChannelMajor(tmp.data, images: count, channels: o, pixels: P,
                            into: y.data + start * o * P)
      }
      start += count
    }
    biasActivate(y.data, images: n, channels: o, pixels: P, bias: biasPointer, activation)
  }

  var inputs = [x, w]
  if let b { inputs.append(b) }
  return Autograd.record(y, inputs) { dy in
    let dz = activationGrad(activation, output: y, grad: dy)
    if let b, b.requiresGrad {
      channelSums(dz.data, images: n, channels: o, pixels: P, into: b.gradBuffer())
    }
    let needW = w.requiresGrad, needX = x.requiresGrad
    if isPointwise {
      let dw = needW ? w.gradBuffer() : nil
      let dx = needX ? x.gradBuffer() : nil
      for i in 0..<n {
        let dzi = dz.data + i * o * P, xi = x.data + i * K * P
        if let dw { gemm(transB: true, m: o, n: K, k: P, dzi, lda: P, xi, ldb: P, beta: 1, dw, ldc: K) }
        if let dx {
          gemm(transA: true, m: K, n: P, k: o, w.data, lda: K, dzi, ldb: P, beta: 1,
               dx + i * K * P, ldc: P)
        }
      }
      return
    }
    let chunk = imagesPerChunk(g, outChannels: o, images: n)
    let col = Tensor(uninitializedShape: [K * chunk * P])
    let dzt = Tensor(uninitializedShape: [o * chunk * P])
    let dw = needW ? w.gradBuffer() : nil
    let dx = needX ? x.gradBuffer() : nil
    var start = 0
    while start < n {
      let count = min(chunk, n - start)
      let width = count * P
      gatherChannelMajor(dz.data + start * o * P, images: count, channels: o, pixels: P,
                         into: dzt.data)
      if let dw {
        im2col(x.data + start * g.channels * g.inPixels, images: count, g, into: col.data)
        gemm(transB: true, m: o, n: K, k: width, dzt.data, lda: width, col.data, ldb: width,
             beta: 1, dw, ldc: K)
      }
      if let dx {
        gemm(transA: true, m: K, n: width, k: o, w.data, lda: K, dzt.data, ldb: width,
             col.data, ldc: width)
        col2im(col.data, images: count, g, into: dx + start * g.channels * g.inPixels)
      }
      start += count
    }
  }
}

/// How many images to unfold at once within the workspace budget.
func imagesPerChunk(_ g: ConvGeometry, outChannels: Int, images: Int) -> Int {
  let perImage = (g.patchSize + outChannels) * g.outPixels * 4
  return max(1, min(images, ConvolutionWorkspace.bytes / max(perImage, 1)))
}

/// `dst[b, c, p] = src[c, b * P + p]`: from the GEMM's channel-major layout to NCHW.
func scatterChannelMajor(
  _ src: UnsafePointer<Float>, images: Int, channels: Int, pixels: Int,
  into dst: UnsafeMutablePointer<Float>
) {
  nonisolated(unsafe) let captured = (src, dst)
  parallelRanges(channels, minPerThread: max(1, 8192 / max(images * pixels, 1))) { cs in
    let (src, dst) = captured
    for c in cs {
      for b in 0..<images {
        (dst + (b * channels + c) * pixels).update(
          from: src + c * images * pixels + b * pixels, count: pixels)
      }
    }
  }
}

/// `dst[c, b * P + p] = src[b, c, p]`: the inverse of `scatterChannelMajor`.
func gatherChannelMajor(
  _ src: UnsafePointer<Float>, images: Int, channels: Int, pixels: Int,
  into dst: UnsafeMutablePointer<Float>
) {
  nonisolated(unsafe) let captured = (src, dst)
  parallelRanges(channels, minPerThread: max(1, 8192 / max(images * pixels, 1))) { cs in
    let (src, dst) = captured
    for c in cs {
      for b in 0..<images {
        (dst + c * images * pixels + b * pixels).update(
          from: src + (b * channels + c) * pixels, count: pixels)
      }
    }
  }
}

/// Adds the per-channel bias and applies the activation, in one pass over NCHW data.
func biasActivate(
  _ y: UnsafeMutablePointer<Float>, images: Int, channels: Int, pixels: Int,
  bias: UnsafePointer<Float>?, _ act: Activation
) {
  if bias == nil && act == .none { return }
  nonisolated(unsafe) let captured = (y, bias)
  parallelRanges(images * channels, minPerThread: max(1, 8192 / max(pixels, 1))) { planes in
    let (y, bias) = captured
    for plane in planes {
      let v = bias?[plane % channels] ?? 0
      let p = y + plane * pixels
      switch act {
      case .none: for i in 0..<pixels { p[i] += v }
      case .relu: for i in 0..<pixels { p[i] = max(p[i] + v, 0) }
      case .sigmoid: for i in 0..<pixels { p[i] = act.apply(p[i] + v) }
      }
    }
  }
}

/// `out[c] += sum over images and pixels of x[b, c, p]` (bias gradients, batch-norm sums).
func channelSums(
  _ x: UnsafePointer<Float>, images: Int, channels: Int, pixels: Int,
  into out: UnsafeMutablePointer<Float>
) {
  for b in 0..<images {
    for c in 0..<channels {
      out[c] += vectorSum(x + (b * channels + c) * pixels, pixels)
    }
  }
}
