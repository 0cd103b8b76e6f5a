/// How many output columns a convolution's GEMMs aim for at least: images whose output
/// planes are smaller than this are unfolded side by side in groups (`ConvPlan`).
/// Tuning knob, public so that tests can force small groups.
public enum ConvolutionGrouping {
  // Safe: a knob that tests set between runs; kernels only read it.
  nonisolated(unsafe) public static var columns = 256
}

/// 2-D convolution (cross-correlation) with bias and a fused activation.
///
/// - input: `[N, C, H, W]`; weight: `[O, C, kh, kw]`; bias: `[O]` or nil.
/// - returns: `[N, O, outH, outW]`.
///
/// It computes `Reference.conv2d` and, backward, `Reference.conv2dBackward`: read those
/// first. This version lays the work out on GEMMs (`ConvPlan`), skips kernel taps that only
/// ever meet padding (`LiveKernelWindow`), takes planes smaller than the kernel as dense
/// layers (`PlaneMatrixConvolution`), LeNet's small convolutions directly
/// (`DirectConvolution`), and, on CPUs with AVX-512, convolutions with output planes up to
/// 16x16 directly with output channels in the vector lanes (`ChannelVectorConvolution`),
/// and their padded 3x3 and 5x5 ones, to 256x256, by Winograd's F(2x2, 3x3) and F(2x2, 5x5)
/// (`WinogradConvolution`).
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
  FLOPCounter.add(2 * x.shape[0] * w.shape[0] * g.patchSize * g.outPixels)
  let live = LiveKernelWindow(g)
  if PlaneMatrixConvolution.applies(g, live: live?.geometry ?? g) {
    return PlaneMatrixConvolution.convolve(x, w, bias: b, g, activation: activation)
  }
  if let live, live.trims {
    return convolve(x, kernelWindow(w, live), bias: b, live.geometry, activation: activation)
  }
  return convolve(x, w, bias: b, g, activation: activation)
}

/// The part of a convolution's kernel that ever meets the image, when the plane is so small
/// against the kernel and padding that the outer taps see only padding at every output
/// position: a 3x3 kernel on a 1x1 plane (ResNet's and DenseNet's last stages at 32 px)
/// touches the image with its centre only, a 5x5 on a 2x2 plane (GoogLeNet's) with its
/// middle 3x3. Those outer taps multiply zeros; convolving with the live window alone, its
/// padding reduced to match, gives the same output with fewer multiplies and a smaller
/// unfolding (none at all for a 1x1 result). The window is trimmed by the same amount on
/// opposite sides, which keeps every output's input position.
struct LiveKernelWindow {
  /// Taps cut from the top and bottom, and from the left and right.
  let trimH, trimW: Int
  /// The convolution with the live window: smaller kernel, smaller padding.
  let geometry: ConvGeometry

  init?(_ g: ConvGeometry) {
    /// Taps cut from each end of one axis: the fewer of the dead taps at either end.
    func trim(kernel k: Int, size n: Int, stride s: Int, pad p: Int, outputs: Int) -> Int {
      // Tap i reads rows i - p, i - p + s, ..., i - p + (outputs - 1) s.
      func live(_ i: Int) -> Bool {
        for y in 0..<outputs where (0..<n).contains(y * s - p + i) { return true }
        return false
      }
      var (first, last) = (0, k - 1)
      while first < k && !live(first) { first += 1 }
      while last > first && !live(last) { last -= 1 }
      return first == k ? 0 : min(first, k - 1 - last)
    }
    guard g.outH > 0 && g.outW > 0 else { return nil }
    trimH = trim(kernel: g.kernelH, size: g.height, stride: g.strideH, pad: g.padH, outputs: g.outH)
    trimW = trim(kernel: g.kernelW, size: g.width, stride: g.strideW, pad: g.padW, outputs: g.outW)
    var t = g
    t.kernelH -= 2 * trimH
    t.kernelW -= 2 * trimW
    t.padH -= trimH
    t.padW -= trimW
    geometry = t
  }

  var trims: Bool { trimH > 0 || trimW > 0 }
}

/// `w[:, :, trimH ..< kh - trimH, trimW ..< kw - trimW]` as a tensor of its own; its gradient
/// goes back to those taps of `w` (the cut taps get none: they only ever multiplied padding).
/// In a `predict` block the window is cut once per weight (`PredictionCache`).
func kernelWindow(_ w: Tensor, _ live: LiveKernelWindow) -> Tensor {
  if PredictionCache.isOpen {
    return PredictionCache.value(of: w, .liveKernelWindow, live.geometry) {
      let window = Tensor(uninitializedShape: kernelWindowShape(w, live))
      forEachKernelWindowRow(w, live) { full, part in
        copyFloats(UnsafePointer(w.data) + full, to: window.data + part, count: live.geometry.kernelW)
      }
      return window
    }
  }
  let window = Tensor(uninitializedShape: kernelWindowShape(w, live))
  let ww = live.geometry.kernelW
  let (src, dst) = (UnsafePointer(w.data), window.data)
  forEachKernelWindowRow(w, live) { full, part in copyFloats(src + full, to: dst + part, count: ww) }
  let slot = w.gradientSlotIfRequired
  return Autograd.record(window, [w]) { dWindow in
    guard let dw = slot?.buffer() else { return }
    let g = UnsafePointer(dWindow.data)
    forEachKernelWindowRow(w, live) { full, part in
      for j in 0..<ww { dw[full + j] += g[part + j] }
    }
  }
}

private func kernelWindowShape(_ w: Tensor, _ live: LiveKernelWindow) -> [Int] {
  [w.shape[0], w.shape[1], live.geometry.kernelH, live.geometry.kernelW]
}

/// Calls `body(full, window)` for each row of `w`'s live window: the offsets of its first tap
/// in `w` and in the window. The kernel planes are split between the threads; each row is
/// one plane's alone.
private func forEachKernelWindowRow(
  _ w: Tensor, _ live: LiveKernelWindow, _ body: (Int, Int) -> Void
) {
  let (o, c, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
  let (wh, ww) = (live.geometry.kernelH, live.geometry.kernelW)
  parallelRanges(o * c, minPerThread: max(1, 4096 / max(wh * ww, 1))) { planes in
    for plane in planes {
      for r in 0..<wh { body((plane * kh + r + live.trimH) * kw + live.trimW, (plane * wh + r) * ww) }
    }
  }
}

/// `conv2d` on a checked geometry, its FLOPs already counted.
private func convolve(
  _ x: Tensor, _ w: Tensor, bias b: Tensor?, _ g: ConvGeometry, activation: Activation
) -> Tensor {
  let n = x.shape[0], o = w.shape[0]
  let y = Tensor(uninitializedShape: [n, o, g.outH, g.outW])
  let plan = ConvPlan(g, outChannels: o, images: n)
  let biasPointer = b.map { UnsafePointer($0.data) }
  convForward(x, w, biasPointer, activation, plan, into: y)
  return recordConvolution(y, x, w, bias: b, activation: activation) { dz in
    guard w.requiresGrad || x.requiresGrad else { return }
    convBackward(x, w, dz, plan)
  }
}

/// Puts a convolution's output `y` (`[N, O, outH, outW]`, bias added and `activation`
/// applied) on the tape. Its backward pass takes the activation's derivative and the bias
/// gradient, and hands the gradient before the activation to `weightsAndInput`.
func recordConvolution(
  _ y: Tensor, _ x: Tensor, _ w: Tensor, bias b: Tensor?, activation: Activation,
  weightsAndInput: @escaping (Tensor) -> Void
) -> Tensor {
  var inputs = [x, w]
  if let b { inputs.append(b) }
  return Autograd.record(y, inputs) { dy in
    let dz = activationGrad(activation, output: y, grad: dy)
    if let b, b.requiresGrad {
      channelSums(dz.data, images: y.shape[0], channels: y.shape[1],
                  pixels: y.shape[2] * y.shape[3], into: b.gradBuffer())
    }
    weightsAndInput(dz)
  }
}

/// How a convolution is laid out on GEMMs.
///
/// Each thread takes whole groups of images. A group is one image when its output plane has
/// at least `ConvolutionGrouping.columns` pixels, otherwise enough images side by side to
/// give the GEMMs that many columns (late layers, 8x8 to 2x2). The thread unfolds its group
/// a piece of rows at a time into its own cache-sized workspace and multiplies each piece
/// right away; a group of more than one image comes out channel-major and is scattered back
/// to NCHW.
///
/// Unfolded for the whole batch at once and multiplied by one GEMM split between the
/// threads, the unfolding of small planes (tens of MiB) would go out to memory and back.
struct ConvPlan {
  let g: ConvGeometry
  let outChannels: Int
  let images: Int
  /// Images unfolded side by side: one GEMM's columns are `groupImages * outPixels`.
  let groupImages: Int
  var groups: Int { (images + groupImages - 1) / groupImages }
  /// A stride-1, unpadded 1x1 convolution: the input already is the unfolded matrix.
  let pointwise: Bool
  /// A pointwise convolution of 1x1 planes (the last stages at 32 px, once their 3x3 and
  /// 5x5 kernels are cut to the centre tap): the input `[N, C, 1, 1]` is an `N x C` matrix,
  /// and the convolution a dense layer, one GEMM over the whole batch, with no gathering to
  /// channel-major and back.
  var singlePixel: Bool { pointwise && g.inPixels == 1 }
  /// A stride-1 convolution whose output plane has the input's size (3x3 with padding 1):
  /// the input gradient is then itself such a convolution, of the output gradient with the
  /// kernel turned half a turn and its two channel axes swapped. The backward pass computes
  /// it that way, unfolding the output gradient (`outChannels x kh x kw` rows) instead of
  /// multiplying out `channels x kh x kw` rows and folding them back with col2im. For
  /// DenseNet's 3x3 convolutions (32 outputs from up to 240 inputs) that is 8 times less to
  /// unfold, and a GEMM whose inner dimension is 288 instead of 32. With more outputs than
  /// inputs (GoogLeNet's 3x3 and 5x5 after their 1x1 reductions, NiN's 5x5) it would unfold
  /// more, not less, and col2im stays.
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
    let threads = ComputeThreads.count
    let pixels = max(g.outPixels, 1)
    // At least `columns` columns, and at least as many as there are output channels: every
    // group reads the whole weight matrix (and the weight gradient adds into all of it), so
    // layers with large weights and small planes (AlexNet's 4x4 layers at 96 px: 384 x 3456
    // weights) take few, wide groups. Then rounded so that each thread gets the same number
    // of groups.
    let wanted = max(1, ConvolutionGrouping.columns / pixels, (outChannels + pixels - 1) / pixels)
    let perThread = max(1, images / (threads * wanted))
    groupImages = min(wanted == 1 ? 1 : (images + threads * perThread - 1) / (threads * perThread),
                      max(1, images))
    dataGradientAsConvolution = !pointwise && g.strideH == 1 && g.strideW == 1
      && g.outH == g.height && g.outW == g.width && outChannels <= g.channels
    let rows = max(128, (64 << 10) / max(groupImages * g.outPixels, 1))
    unfoldRows = min(g.patchSize, max(1, rows))
    // Not made where the direct kernel takes the forward pass and both gradients.
    let direct = ChannelVectorConvolution.appliesToInputGradient(g, outChannels: outChannels)
      && ChannelVectorConvolution.appliesToWeightGradient(g, outChannels: outChannels)
    unfoldTaps = pointwise || direct ? nil : SmallPlaneTaps.forSmallPlane(g)
  }

  /// Where the unfolding's taps read on small output planes: made once here rather than on
  /// every group's unfolding. It serves `outputGradientGeometry` too, which differs from `g`
  /// in its channels only.
  let unfoldTaps: SmallPlaneTaps?

  /// Rows of the output gradient's unfolding: `outChannels x kh x kw`.
  var outputGradientPatch: Int { outChannels * g.kernelH * g.kernelW }

  /// Rows of the unfolding that one group's GEMMs take at a time: about
  /// 256 KiB of it, so that it is still in the core's cache when the GEMM reads it. Unfolded
  /// whole, DenseNet's 16x16 layers would write megabytes per image, read back from memory by
  /// OpenBLAS's copy of it.
  let unfoldRows: Int
  /// `0..<patchSize` in pieces of `unfoldRows`.
  var unfoldChunks: some Sequence<Range<Int>> {
    let (rows, total) = (unfoldRows, g.patchSize)
    return stride(from: 0, to: total, by: rows).lazy.map { $0..<min($0 + rows, total) }
  }

  var threads: Int { min(ComputeThreads.count, groups) }
}

func convForward(
  _ x: Tensor, _ w: Tensor, _ bias: UnsafePointer<Float>?, _ act: Activation, _ plan: ConvPlan,
  into y: Tensor
) {
  let g = plan.g, o = plan.outChannels, C = g.channels, K = g.patchSize, P = g.outPixels
  let G = plan.groupImages, threads = plan.threads
  if DirectConvolution.applies(g, outChannels: o) {
    DirectConvolution.forward(
      x.data, w.data, bias: bias, g, outChannels: o, images: plan.images, into: y.data)
    biasActivate(y.data, images: plan.images, channels: o, pixels: P, bias: nil, act)
    return
  }
  if WinogradConvolution.applies(g, outChannels: o) {
    WinogradConvolution.forward(x.data, w, g, outChannels: o, images: plan.images, into: y.data)
    biasActivate(y.data, images: plan.images, channels: o, pixels: P, bias: bias, act)
    return
  }
  if ChannelVectorConvolution.applies(g, outChannels: o) {
    ChannelVectorConvolution.forward(x.data, w, g, outChannels: o, images: plan.images, into: y.data)
    biasActivate(y.data, images: plan.images, channels: o, pixels: P, bias: bias, act)
    return
  }
  if plan.singlePixel {
    gemm(transB: true, m: plan.images, n: o, k: C, x.data, lda: C, w.data, ldb: C, y.data, ldc: o)
    biasActivate(y.data, images: plan.images, channels: o, pixels: 1, bias: bias, act)
    return
  }
  // Per thread: the unfolding's piece (a pointwise group of several images: the whole
  // input, channel-major); for groups, the channel-major output.
  let unfolded = plan.pointwise ? (G > 1 ? K : 0) : plan.unfoldRows
  let perThread = (unfolded + (G > 1 ? o : 0)) * G * P
  Scratch.withFloats(threads * perThread) { scratch in
    let p = (x.data, w.data, y.data, scratch, bias)
    parallelParts(plan.groups, parts: threads) { t, groups in
      let (xp, wp, yp, scratch, bias) = p
      let col = scratch + t * perThread, channelMajor = col + unfolded * G * P
      for group in groups {
        let first = group * G, count = min(G, plan.images - first), n = count * P
        let xi = xp + first * C * g.inPixels, yi = yp + first * o * P
        let out = G > 1 ? channelMajor : yi
        if !plan.pointwise {
          for rows in plan.unfoldChunks {
            im2col(xi, images: count, g, rows: rows, taps: plan.unfoldTaps, into: col)
            gemm(m: o, n: n, k: rows.count, wp + rows.lowerBound, lda: K, col, ldb: n,
                 beta: rows.lowerBound == 0 ? 0 : 1, out, ldc: n)
          }
        } else if G > 1 {
          gatherChannelMajor(xi, images: count, channels: C, pixels: P, into: col)
          gemm(m: o, n: n, k: K, wp, lda: K, col, ldb: n, out, ldc: n)
        } else {
          gemm(m: o, n: P, k: K, wp, lda: K, xi, ldb: P, out, ldc: P)
        }
        if G > 1 { scatterChannelMajor(out, images: count, channels: o, pixels: P, into: yi) }
        biasActivate(yi, images: count, channels: o, pixels: P, bias: bias, act)
      }
    }
  }
}

/// Each thread accumulates the weight gradient of its groups in its own
/// buffer (summed in thread order afterwards, so results are reproducible)
/// and writes the input gradient of its images directly.
func convBackward(_ x: Tensor, _ w: Tensor, _ dz: Tensor, _ plan: ConvPlan) {
  let g = plan.g, o = plan.outChannels, C = g.channels, K = g.patchSize, P = g.outPixels
  let G = plan.groupImages, threads = plan.threads
  var needW = w.requiresGrad, needX = x.requiresGrad
  if needX && WinogradConvolution.applies(g, outChannels: o) {
    WinogradConvolution.inputGradient(
      dz.data, w.data, g, outChannels: o, images: plan.images, into: x.gradBuffer())
    needX = false
  }
  if needX && ChannelVectorConvolution.appliesToInputGradient(g, outChannels: o) {
    ChannelVectorConvolution.inputGradient(
      dz.data, w.data, g, outChannels: o, images: plan.images, into: x.gradBuffer())
    needX = false
  }
  if needW && WinogradConvolution.appliesToWeightGradient(g, outChannels: o) {
    WinogradConvolution.weightGradient(
      x.data, dz.data, g, outChannels: o, images: plan.images, into: w.gradBuffer())
    needW = false
  }
  if needW && ChannelVectorConvolution.appliesToWeightGradient(g, outChannels: o) {
    ChannelVectorConvolution.weightGradient(
      x.data, dz.data, g, outChannels: o, images: plan.images, into: w.gradBuffer())
    needW = false
  }
  guard needW || needX else { return }
  let dw = needW ? w.gradBuffer() : nil
  let dx = needX ? x.gradBuffer() : nil
  if plan.singlePixel {
    let images = plan.images
    if let dw {
      gemm(transA: true, m: o, n: C, k: images, dz.data, lda: o, x.data, ldb: C, beta: 1, dw, ldc: C)
    }
    if let dx {
      gemm(m: images, n: C, k: o, dz.data, lda: o, w.data, ldb: C, beta: 1, dx, ldc: C)
    }
    return
  }
  let viaConvolution = needX && plan.dataGradientAsConvolution
  let dzGeometry = plan.outputGradientGeometry, dzPatch = plan.outputGradientPatch
  // Scratch per thread: the unfolding (col2im needs all of it, the weight gradient only
  // pieces; a pointwise group of several images: the input, channel-major); for groups,
  // the output gradient and the input gradient, channel-major. Then the other threads'
  // weight-gradient sums (thread 0 accumulates straight into the gradient), and the turned
  // kernel.
  let unfolded = plan.pointwise ? (G > 1 ? K : 0)
    : viaConvolution ? max(plan.unfoldRows, dzPatch) : needX ? K : plan.unfoldRows
  let perThread = (unfolded + (G > 1 ? o + C : 0)) * G * P
  let extraCount = needW && threads > 1 ? (threads - 1) * o * K : 0
  let turnedCount = viaConvolution ? C * dzPatch : 0
  Scratch.withFloats(threads * perThread + extraCount + turnedCount) { scratch in
    let extra = extraCount > 0 ? scratch + threads * perThread : nil
    extra?.initialize(repeating: 0, count: extraCount)
    let turned = viaConvolution ? scratch + threads * perThread + extraCount : nil
    if let turned { turnKernel(w.data, outChannels: o, g, into: turned) }
    let p = (x.data, w.data, dz.data, scratch, extra, dw, dx, turned)
    parallelParts(plan.groups, parts: threads) { t, groups in
      let (xp, wp, dzp, scratch, extra, dw, dx, turned) = p
      let dwt = t == 0 ? dw : extra.map { $0 + (t - 1) * o * K }
      let col = scratch + t * perThread
      let dzt = col + unfolded * G * P, dxt = dzt + o * G * P
      for group in groups {
        let first = group * G, count = min(G, plan.images - first), n = count * P
        let xi = xp + first * C * g.inPixels, dzi = dzp + first * o * P
        // The output gradient as the GEMMs read it: `[o, n]`.
        if G > 1 { gatherChannelMajor(dzi, images: count, channels: o, pixels: P, into: dzt) }
        let dzg: UnsafePointer<Float> = G > 1 ? UnsafePointer(dzt) : UnsafePointer(dzi)
        if let dwt {
          if !plan.pointwise {
            for rows in plan.unfoldChunks {
              im2col(xi, images: count, g, rows: rows, taps: plan.unfoldTaps, into: col)
              gemm(transB: true, m: o, n: rows.count, k: n, dzg, lda: n, col, ldb: n, beta: 1,
                   dwt + rows.lowerBound, ldc: K)
            }
          } else {
            var input = UnsafePointer(xi)
            if G > 1 {
              gatherChannelMajor(xi, images: count, channels: C, pixels: P, into: col)
              input = UnsafePointer(col)
            }
            gemm(transB: true, m: o, n: K, k: n, dzg, lda: n, input, ldb: n, beta: 1, dwt, ldc: K)
          }
        }
        guard let dx else { continue }
        let dxi = dx + first * C * g.inPixels
        // Groups compute the input gradient channel-major and add it in with the scatter.
        let into = G > 1 ? dxt : dxi
        if let turned {
          im2col(dzi, images: count, dzGeometry, taps: plan.unfoldTaps, into: col)
          gemm(m: C, n: n, k: dzPatch, turned, lda: dzPatch, col, ldb: n, beta: G > 1 ? 0 : 1,
               into, ldc: n)
        } else if !plan.pointwise {
          gemm(transA: true, m: K, n: n, k: o, wp, lda: K, dzg, ldb: n, col, ldc: n)
          col2im(col, images: count, g, taps: plan.unfoldTaps, into: dxi)
          continue
        } else {
          gemm(transA: true, m: K, n: n, k: o, wp, lda: K, dzg, ldb: n, beta: G > 1 ? 0 : 1,
               into, ldc: n)
        }
        if G > 1 {
          scatterChannelMajor(dxt, images: count, channels: C, pixels: P, into: dxi, adding: true)
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

/// `dst[b, c, p] = src[c, b * P + p]` (or `+=` when `adding`): from the GEMM's
/// channel-major layout to NCHW.
func scatterChannelMajor(
  _ src: UnsafePointer<Float>, images: Int, channels: Int, pixels: Int,
  into dst: UnsafeMutablePointer<Float>, adding: Bool = false
) {
  let captured = (src, dst)
  parallelRanges(channels, minPerThread: max(1, 8192 / max(images * pixels, 1))) { cs in
    let (src, dst) = captured
    for c in cs {
      for b in 0..<images {
        let from = src + c * images * pixels + b * pixels, to = dst + (b * channels + c) * pixels
        if adding {
          for i in 0..<pixels { to[i] += from[i] }
        } else {
          copyFloats(from, to: to, count: pixels)
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
  let captured = (src, dst)
  parallelRanges(channels, minPerThread: max(1, 8192 / max(images * pixels, 1))) { cs in
    let (src, dst) = captured
    for c in cs {
      for b in 0..<images {
        copyFloats(src + (b * channels + c) * pixels, to: dst + c * images * pixels + b * pixels,
                   count: pixels)
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
  let captured = (y, bias)
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
  // Split by channel: each thread owns its channels' sums, added in image order as on one.
  let captured = (x, out)
  parallelRanges(channels, minPerThread: max(1, 16384 / max(images * pixels, 1))) { cs in
    let (x, out) = captured
    for b in 0..<images {
      for c in cs { out[c] += vectorSum(x + (b * channels + c) * pixels, pixels) }
    }
  }
}
