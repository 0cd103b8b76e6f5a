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
  require(x.rank == 4, "conv2d expects input [N, C, H, W], got \(x.shape)")
  require(w.rank == 4 && w.shape[1] == x.shape[1],
    "conv2d weight \(w.shape) does not match input channels \(x.shape[1])")
  let g = ConvGeometry(
    channels: x.shape[1], height: x.shape[2], width: x.shape[3], kernelH: w.shape[2],
    kernelW: w.shape[3], strideH: stride.0, strideW: stride.1, padH: padding.0, padW: padding.1)
  require(g.outH > 0 && g.outW > 0,
    "conv2d: input \(x.shape[2])x\(x.shape[3]) is too small for a \(g.kernelH)x\(g.kernelW) kernel with padding \(padding)")
  let n = x.shape[0], o = w.shape[0]
  let y = Tensor(uninitializedShape: [n, o, g.outH, g.outW])
  FLOPCounter.add(2 * n * o * g.patchSize * g.outPixels)
  let plan = ConvPlan(g, outChannels: o, images: n)
  let biasPointer = b.map { UnsafePointer($0.data) }
  if plan.perImage {
    convForwardPerImage(x, w, biasPointer, activation, plan, into: y)
  } else {
    convForwardBatched(x, w, biasPointer, activation, plan, into: y)
  }
  var inputs = [x, w]
  if let b { inputs.append(b) }
  return Autograd.record(y, inputs) { dy in
    let dz = activationGrad(activation, output: y, grad: dy)
    if let b, b.requiresGrad {
      channelSums(dz.data, images: n, channels: o, pixels: g.outPixels, into: b.gradBuffer())
    }
    guard w.requiresGrad || x.requiresGrad else { return }
    if plan.perImage {
      convBackwardPerImage(x, w, dz, plan)
    } else {
      convBackwardBatched(x, w, dz, plan)
    }
  }
}

/// How a convolution is laid out on GEMMs.
///
/// - per image: each thread takes whole images, unfolds one at a time into
///   its own workspace (often cache-resident) and multiplies straight into the
///   output: no scatter pass, and no GEMM split. Best when an image's output
///   plane is large enough (≥ 256 pixels) for a wide GEMM.
/// - batched: images are unfolded side by side so that small output planes
///   (late layers, 7x7 or 3x3) still give one wide GEMM, split across threads;
///   the result is scattered back to NCHW.
struct ConvPlan {
  let g: ConvGeometry
  let outChannels: Int
  let images: Int
  let perImage: Bool
  /// A stride-1, unpadded 1x1 convolution: the input already is the unfolded matrix.
  let pointwise: Bool

  init(_ g: ConvGeometry, outChannels: Int, images: Int) {
    self.g = g
    self.outChannels = outChannels
    self.images = images
    pointwise = g.kernelH == 1 && g.kernelW == 1 && g.strideH == 1 && g.strideW == 1
      && g.padH == 0 && g.padW == 0
    perImage = g.outPixels >= 256 || images == 1
  }

  var threads: Int { min(ComputeThreads.count, images) }
}

func convForwardPerImage(
  _ x: Tensor, _ w: Tensor, _ bias: UnsafePointer<Float>?, _ act: Activation, _ plan: ConvPlan,
  into y: Tensor
) {
  let g = plan.g, o = plan.outChannels, K = g.patchSize, P = g.outPixels
  let threads = plan.threads
  let workspace = plan.pointwise ? nil : Tensor(uninitializedShape: [threads * K * P])
  nonisolated(unsafe) let p = (x.data, w.data, y.data, workspace?.data, bias)
  parallelParts(plan.images, parts: threads) { t, images in
    let (xp, wp, yp, ws, bias) = p
    for i in images {
      let xi = xp + i * g.channels * g.inPixels, yi = yp + i * o * P
      var cols = UnsafePointer(xi)
      if let ws {
        im2col(xi, images: 1, g, into: ws + t * K * P)
        cols = UnsafePointer(ws + t * K * P)
      }
      gemm(m: o, n: P, k: K, wp, lda: K, cols, ldb: P, yi, ldc: P)
      biasActivate(yi, images: 1, channels: o, pixels: P, bias: bias, act)
    }
  }
}

func convForwardBatched(
  _ x: Tensor, _ w: Tensor, _ bias: UnsafePointer<Float>?, _ act: Activation, _ plan: ConvPlan,
  into y: Tensor
) {
  let g = plan.g, o = plan.outChannels, K = g.patchSize, P = g.outPixels, n = plan.images
  let chunk = imagesPerChunk(g, outChannels: o, images: n)
  let col = Tensor(uninitializedShape: [K * chunk * P])
  let tmp = Tensor(uninitializedShape: [o * chunk * P])
  var start = 0
  while start < n {
    let count = min(chunk, n - start)
    im2col(x.data + start * g.channels * g.inPixels, images: count, g, into: col.data)
    gemm(m: o, n: count * P, k: K, w.data, lda: K, col.data, ldb: count * P, tmp.data,
         ldc: count * P)
    scatterChannelMajor(tmp.data, images: count, channels: o, pixels: P,
                        into: y.data + start * o * P)
    start += count
  }
  biasActivate(y.data, images: n, channels: o, pixels: P, bias: bias, act)
}

/// Each thread accumulates the weight gradient of its images in its own
/// buffer (summed in thread order afterwards, so results are reproducible)
/// and writes the input gradient of its images directly.
func convBackwardPerImage(_ x: Tensor, _ w: Tensor, _ dz: Tensor, _ plan: ConvPlan) {
  let g = plan.g, o = plan.outChannels, K = g.patchSize, P = g.outPixels
  let threads = plan.threads
  let needW = w.requiresGrad, needX = x.requiresGrad
  let workspace = plan.pointwise ? nil : Tensor(uninitializedShape: [threads * K * P])
  // Thread 0 accumulates straight into the gradient; the others into scratch.
  let extra = needW && threads > 1 ? Tensor(zeros: [(threads - 1) * o * K]) : nil
  let dw = needW ? w.gradBuffer() : nil
  let dx = needX ? x.gradBuffer() : nil
  nonisolated(unsafe) let p = (x.data, w.data, dz.data, workspace?.data, extra?.data, dw, dx)
  parallelParts(plan.images, parts: threads) { t, images in
    let (xp, wp, dzp, ws, extra, dw, dx) = p
    let dwt = t == 0 ? dw : extra.map { $0 + (t - 1) * o * K }
    let col = ws.map { $0 + t * K * P }
    for i in images {
      let xi = xp + i * g.channels * g.inPixels, dzi = dzp + i * o * P
      if let dwt {
        var cols = UnsafePointer(xi)
        if let col {
          im2col(xi, images: 1, g, into: col)
          cols = UnsafePointer(col)
        }
        gemm(transB: true, m: o, n: K, k: P, dzi, lda: P, cols, ldb: P, beta: 1, dwt, ldc: K)
      }
      if let dx {
        let dxi = dx + i * g.channels * g.inPixels
        if let col {
          gemm(transA: true, m: K, n: P, k: o, wp, lda: K, dzi, ldb: P, col, ldc: P)
          col2im(col, images: 1, g, into: dxi)
        } else {
          gemm(transA: true, m: K, n: P, k: o, wp, lda: K, dzi, ldb: P, beta: 1, dxi, ldc: P)
        }
      }
    }
  }
  if let extra, let dw {
    for t in 0..<(threads - 1) {
      let src = extra.data + t * o * K
      for j in 0..<(o * K) { dw[j] += src[j] }
    }
  }
}

func convBackwardBatched(_ x: Tensor, _ w: Tensor, _ dz: Tensor, _ plan: ConvPlan) {
  let g = plan.g, o = plan.outChannels, K = g.patchSize, P = g.outPixels, n = plan.images
  let chunk = imagesPerChunk(g, outChannels: o, images: n)
  let col = Tensor(uninitializedShape: [K * chunk * P])
  let dzt = Tensor(uninitializedShape: [o * chunk * P])
  let dw = w.requiresGrad ? w.gradBuffer() : nil
  let dx = x.requiresGrad ? x.gradBuffer() : nil
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
      case .sigmoid:
        for i in 0..<pixels { p[i] += v }
        vectorSigmoid(p, p, pixels)
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
