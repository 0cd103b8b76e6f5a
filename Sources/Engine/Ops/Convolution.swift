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
  /// A stride-1 convolution whose output plane has the input's size (3x3 with padding 1):
  /// the input gradient is then itself such a convolution, of the output gradient with the
  /// kernel turned half a turn and its two channel axes swapped. The backward pass computes
  /// it that way, unfolding the output gradient (`outChannels x kh x kw` rows) instead of
  /// multiplying out `channels x kh x kw` rows and folding them back with col2im. For
  /// DenseNet's 3x3 convolutions (32 outputs from up to 240 inputs) that is 8 times less to
  /// unfold, and a GEMM whose inner dimension is 288 instead of 32. With more outputs than
  /// inputs (GoogLeNet's 3x3 and 5x5 after their 1x1 reductions, NiN's 5x5) it would unfold
  /// more, not less, and col2im stays (NiN "small" training 1.34 -> 1.03 of PyTorch's when
  /// it was used for those too).
  let dataGradientAsConvolution: Bool
  /// The geometry that unfolds the output gradient for `dataGradientAsConvolution`.
  var outputGradientGeometry: ConvGeometry {
    var d = g
    d.channels = outChannels
    return d
  }

  init(_ g: ConvGeometry, outChannels: Int, images: Int) {
    self.g = g
    self.outChannels = outChannels
    self.images = images
    pointwise = g.kernelH == 1 && g.kernelW == 1 && g.strideH == 1 && g.strideW == 1
      && g.padH == 0 && g.padW == 0
    perImage = g.outPixels >= 256 || images == 1
    dataGradientAsConvolution = !pointwise && g.strideH == 1 && g.strideW == 1
      && g.outH == g.height && g.outW == g.width && outChannels <= g.channels
    let rows = max(128, (64 << 10) / max(g.outPixels, 1))
    let chunk = min(g.patchSize, max(1, rows))
    unfoldRows = chunk
    unfoldChunks = stride(from: 0, to: g.patchSize, by: chunk).map {
      $0..<min($0 + chunk, g.patchSize)
    }
  }

  /// Rows of the output gradient's unfolding: `outChannels x kh x kw`.
  var outputGradientPatch: Int { outChannels * g.kernelH * g.kernelW }

  /// Rows of the unfolding that one image's GEMMs take at a time (per image only): about
  /// 256 KiB of it, so that it is still in the core's cache when the GEMM reads it. Unfolded
  /// whole, DenseNet's 16x16 layers wrote up to 1.7 MB per image, and the unfolding and
  /// OpenBLAS's copy of it took a third of the inference time.
  let unfoldRows: Int
  /// `0..<patchSize` in pieces of `unfoldRows`.
  let unfoldChunks: [Range<Int>]

  var threads: Int { min(ComputeThreads.count, images) }
}

func convForwardPerImage(
  _ x: Tensor, _ w: Tensor, _ bias: UnsafePointer<Float>?, _ act: Activation, _ plan: ConvPlan,
  into y: Tensor
) {
  let g = plan.g, o = plan.outChannels, K = g.patchSize, P = g.outPixels
  let threads = plan.threads
  Scratch.withFloats(plan.pointwise ? 0 : threads * plan.unfoldRows * P) { scratch in
    nonisolated(unsafe) let p = (x.data, w.data, y.data, plan.pointwise ? nil : scratch, bias)
    parallelParts(plan.images, parts: threads) { t, images in
      let (xp, wp, yp, ws, bias) = p
      for i in images {
        let xi = xp + i * g.channels * g.inPixels, yi = yp + i * o * P
        if let ws {
          let col = ws + t * plan.unfoldRows * P
          for rows in plan.unfoldChunks {
            im2col(xi, images: 1, g, rows: rows, into: col)
            gemm(m: o, n: P, k: rows.count, wp + rows.lowerBound, lda: K, col, ldb: P,
                 beta: rows.lowerBound == 0 ? 0 : 1, yi, ldc: P)
          }
        } else {
          gemm(m: o, n: P, k: K, wp, lda: K, xi, ldb: P, yi, ldc: P)
        }
        biasActivate(yi, images: 1, channels: o, pixels: P, bias: bias, act)
      }
    }
  }
}

func convForwardBatched(
  _ x: Tensor, _ w: Tensor, _ bias: UnsafePointer<Float>?, _ act: Activation, _ plan: ConvPlan,
  into y: Tensor
) {
  let g = plan.g, o = plan.outChannels, K = g.patchSize, P = g.outPixels, n = plan.images
  let chunk = imagesPerChunk(g, outChannels: o, images: n)
  Scratch.withFloats((K + o) * chunk * P) { col in
    let tmp = col + K * chunk * P
    var start = 0
    while start < n {
      let count = min(chunk, n - start)
      im2col(x.data + start * g.channels * g.inPixels, images: count, g, into: col)
      gemm(m: o, n: count * P, k: K, w.data, lda: K, col, ldb: count * P, tmp, ldc: count * P)
      scatterChannelMajor(tmp, images: count, channels: o, pixels: P,
                          into: y.data + start * o * P)
      start += count
    }
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
  let dw = needW ? w.gradBuffer() : nil
  let dx = needX ? x.gradBuffer() : nil
  let viaConvolution = needX && plan.dataGradientAsConvolution
  let dzGeometry = plan.outputGradientGeometry, dzPatch = plan.outputGradientPatch
  // Scratch: each thread's unfolding; the other threads' weight-gradient sums (thread 0
  // accumulates straight into the gradient); the turned kernel.
  // (col2im needs the whole unfolding, the weight gradient only chunks of it.)
  let unfolded = viaConvolution ? max(plan.unfoldRows, dzPatch) : needX ? K : plan.unfoldRows
  let perThread = plan.pointwise ? 0 : unfolded * P
  let extraCount = needW && threads > 1 ? (threads - 1) * o * K : 0
  let turnedCount = viaConvolution ? g.channels * dzPatch : 0
  Scratch.withFloats(threads * perThread + extraCount + turnedCount) { scratch in
    let extra = extraCount > 0 ? scratch + threads * perThread : nil
    extra?.initialize(repeating: 0, count: extraCount)
    let turned = viaConvolution ? scratch + threads * perThread + extraCount : nil
    if let turned { turnKernel(w.data, outChannels: o, g, into: turned) }
    nonisolated(unsafe) let p = (
      x.data, w.data, dz.data, plan.pointwise ? nil : scratch, extra, dw, dx, turned
    )
    parallelParts(plan.images, parts: threads) { t, images in
      let (xp, wp, dzp, ws, extra, dw, dx, turned) = p
      let dwt = t == 0 ? dw : extra.map { $0 + (t - 1) * o * K }
      let col = ws.map { $0 + t * perThread }
      for i in images {
        let xi = xp + i * g.channels * g.inPixels, dzi = dzp + i * o * P
        if let dwt {
          if let col {
            for rows in plan.unfoldChunks {
              im2col(xi, images: 1, g, rows: rows, into: col)
              gemm(transB: true, m: o, n: rows.count, k: P, dzi, lda: P, col, ldb: P, beta: 1,
                   dwt + rows.lowerBound, ldc: K)
            }
          } else {
            gemm(transB: true, m: o, n: K, k: P, dzi, lda: P, xi, ldb: P, beta: 1, dwt, ldc: K)
          }
        }
        guard let dx else { continue }
        let dxi = dx + i * g.channels * g.inPixels
        if let turned, let col {
          im2col(dzi, images: 1, dzGeometry, into: col)
          gemm(m: g.channels, n: P, k: dzPatch, turned, lda: dzPatch, col, ldb: P, beta: 1,
               dxi, ldc: P)
        } else if let col {
          gemm(transA: true, m: K, n: P, k: o, wp, lda: K, dzi, ldb: P, col, ldc: P)
          col2im(col, images: 1, g, into: dxi)
        } else {
          gemm(transA: true, m: K, n: P, k: o, wp, lda: K, dzi, ldb: P, beta: 1, dxi, ldc: P)
        }
      }
    }
    if let extra, let dw {
      for t in 0..<(threads - 1) {
        let src = extra + t * o * K
        for j in 0..<(o * K) { dw[j] += src[j] }
      }
    }
  }
}

func convBackwardBatched(_ x: Tensor, _ w: Tensor, _ dz: Tensor, _ plan: ConvPlan) {
  let g = plan.g, o = plan.outChannels, K = g.patchSize, P = g.outPixels, n = plan.images
  let C = g.channels
  let chunk = imagesPerChunk(g, outChannels: o, images: n)
  let dw = w.requiresGrad ? w.gradBuffer() : nil
  let dx = x.requiresGrad ? x.gradBuffer() : nil
  let viaConvolution = dx != nil && plan.dataGradientAsConvolution
  let dzGeometry = plan.outputGradientGeometry, dzPatch = plan.outputGradientPatch
  // Scratch: the unfolding; the output gradient in channel-major order; for
  // `viaConvolution`, the input gradient in channel-major order and the turned kernel.
  let colCount = max(K, viaConvolution ? dzPatch : 0) * chunk * P
  let dxtCount = viaConvolution ? C * chunk * P : 0
  let turnedCount = viaConvolution ? C * dzPatch : 0
  Scratch.withFloats(colCount + o * chunk * P + dxtCount + turnedCount) { col in
    let dzt = col + colCount, dxt = dzt + o * chunk * P, turned = dxt + dxtCount
    if viaConvolution { turnKernel(w.data, outChannels: o, g, into: turned) }
    var start = 0
    while start < n {
      let count = min(chunk, n - start)
      let width = count * P
      if let dw {
        gatherChannelMajor(dz.data + start * o * P, images: count, channels: o, pixels: P,
                           into: dzt)
        im2col(x.data + start * C * g.inPixels, images: count, g, into: col)
        gemm(transB: true, m: o, n: K, k: width, dzt, lda: width, col, ldb: width,
             beta: 1, dw, ldc: K)
      }
      if let dx, viaConvolution {
        im2col(dz.data + start * o * P, images: count, dzGeometry, into: col)
        gemm(m: C, n: width, k: dzPatch, turned, lda: dzPatch, col, ldb: width, dxt,
             ldc: width)
        scatterChannelMajor(dxt, images: count, channels: C, pixels: P,
                            into: dx + start * C * g.inPixels, adding: true)
      } else if let dx {
        if dw == nil {
          gatherChannelMajor(dz.data + start * o * P, images: count, channels: o, pixels: P,
                             into: dzt)
        }
        gemm(transA: true, m: K, n: width, k: o, w.data, lda: K, dzt, ldb: width,
             col, ldc: width)
        col2im(col, images: count, g, into: dx + start * C * g.inPixels)
      }
      start += count
    }
  }
}

/// The kernel of the input gradient for `ConvPlan.dataGradientAsConvolution`:
/// `turned[c, o, kh-1-i, kw-1-j] = w[o, c, i, j]`, a `[channels, outChannels * kh * kw]` matrix.
func turnKernel(
  _ w: UnsafePointer<Float>, outChannels: Int, _ g: ConvGeometry,
  into turned: UnsafeMutablePointer<Float>
) {
  let kk = g.kernelH * g.kernelW, row = outChannels * kk
  for o in 0..<outChannels {
    for c in 0..<g.channels {
      let src = w + (o * g.channels + c) * kk, dst = turned + c * row + o * kk
      for k in 0..<kk { dst[kk - 1 - k] = src[k] }
    }
  }
}

/// How many images to unfold at once within the workspace budget.
func imagesPerChunk(_ g: ConvGeometry, outChannels: Int, images: Int) -> Int {
  let perImage = (g.patchSize + outChannels) * g.outPixels * 4
  return max(1, min(images, ConvolutionWorkspace.bytes / max(perImage, 1)))
}

/// `dst[b, c, p] = src[c, b * P + p]` (or `+=` when `adding`): from the GEMM's
/// channel-major layout to NCHW.
func scatterChannelMajor(
  _ src: UnsafePointer<Float>, images: Int, channels: Int, pixels: Int,
  into dst: UnsafeMutablePointer<Float>, adding: Bool = false
) {
  nonisolated(unsafe) let captured = (src, dst)
  parallelRanges(channels, minPerThread: max(1, 8192 / max(images * pixels, 1))) { cs in
    let (src, dst) = captured
    for c in cs {
      for b in 0..<images {
        let from = src + c * images * pixels + b * pixels, to = dst + (b * channels + c) * pixels
        if adding {
          for i in 0..<pixels { to[i] += from[i] }
        } else {
          to.update(from: from, count: pixels)
        }
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
