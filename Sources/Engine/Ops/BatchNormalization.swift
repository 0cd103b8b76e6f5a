/// Batch normalisation over the channel axis (axis 1) of `[N, C]` or
/// `[N, C, H, W]` input, with per-channel scale `gamma` and shift `beta` (shape `[C]`).
///
/// In training mode (inside `Autograd.record`) it normalises with the batch's
/// mean and (biased) variance and updates the moving statistics in place:
/// `moving = momentum * moving + (1 - momentum) * batch`. In prediction mode it
/// uses the moving statistics. Returns a tensor shaped like `x`.
///
/// `activation` is applied to the result in the same pass (and its derivative in the
/// backward pass): `BatchNorm` then `ReLU` in a `Sequential` run this way, one pass over
/// the activations instead of two, with no intermediate tensor.
///
/// It computes `Reference.batchNorm` and `Reference.batchNormBackward` (with the activation
/// after it), channel by channel in parallel.
public func batchNorm(
  _ x: Tensor, gamma: Tensor, beta: Tensor, movingMean: Tensor, movingVar: Tensor,
  eps: Float, momentum: Float, activation: Activation = .none
) -> Tensor {
  require(x.rank == 2 || x.rank == 4, "batchNorm expects [N, C] or [N, C, H, W], got \(x.shape)")
  let n = x.shape[0], c = x.shape[1]
  let pixels = x.rank == 4 ? x.shape[2] * x.shape[3] : 1
  require(gamma.count == c && beta.count == c && movingMean.count == c && movingVar.count == c,
    "batchNorm: \(c) channels but parameters of \(gamma.count)")
  let m = Float(n * pixels)
  let training = Autograd.isTraining
  // Per-channel mean and 1/sqrt(var + eps) of this pass.
  let stats = Tensor(uninitializedShape: [2, c])
  let mean = stats.data, invStd = stats.data + c
  let y = Tensor(uninitializedShape: x.shape)
  // A plane of at least a vector takes its sigmoid while it is still in cache; below that
  // (dense layers, 1x1 planes) the vector exponential needs the whole tensor at once.
  let sigmoidPerPlane = activation == .sigmoid && pixels >= 16
  if pixels == 1 {
    batchNormRowsForward(
      x.data, rows: n, channels: c, gamma: gamma.data, beta: beta.data,
      movingMean: movingMean.data, movingVar: movingVar.data, eps: eps, momentum: momentum,
      training: training, relu: activation == .relu, mean: mean, invStd: invStd, into: y.data)
  } else {
    let p = (
      x.data, y.data, gamma.data, beta.data, movingMean.data, movingVar.data, mean, invStd)
    parallelRanges(c) { channels in
      let (xp, yp, gp, bp, mm, mv, mean, invStd) = p
      // Image by image, then channel by channel: each image's planes of this thread's
      // channels are one contiguous run, which the prefetchers follow. Channel by channel,
      // then image by image, each step jumped `c * pixels` floats to a plane of 4 to 64
      // floats, and the loads waited on memory (BENCHMARKS.md, Session 22). Each channel's
      // sums still run over the images in order, as on one thread.
      let lo = channels.lowerBound, count = channels.count
      withUnsafeTemporaryAllocation(of: Float.self, capacity: 5 * count) { work in
        let shiftOf = work.baseAddress!, d = shiftOf + count, dd = d + count, scale = dd + count
        let shiftBy = scale + count
        if training {
          for j in 0..<count { shiftOf[j] = xp[(lo + j) * pixels] }
          d.update(repeating: 0, count: 2 * count)
          for b in 0..<n {
            let image = xp + (b * c + lo) * pixels
            for j in 0..<count {
              // About one of the channel's own values, so that the difference of the two
              // moments does not cancel (x ~ 100 with a spread of 1).
              let (a, q) = vectorShiftedMoments(image + j * pixels, pixels, shift: shiftOf[j])
              d[j] += a
              dd[j] += q
            }
          }
        }
        for j in 0..<count {
          (scale[j], shiftBy[j]) = channelNormalization(
            lo + j, training: training, sum: training ? d[j] : 0,
            squares: training ? dd[j] : 0, about: training ? shiftOf[j] : 0, count: m,
            gamma: gp, beta: bp, movingMean: mm, movingVar: mv, eps: eps, momentum: momentum,
            mean: mean, invStd: invStd)
        }
        for b in 0..<n {
          let src = xp + (b * c + lo) * pixels, dst = yp + (b * c + lo) * pixels
          for j in 0..<count {
            let s = src + j * pixels, t = dst + j * pixels, k = scale[j], h = shiftBy[j]
            if activation == .relu {
              for i in 0..<pixels { t[i] = max(s[i] * k + h, 0) }
            } else {
              for i in 0..<pixels { t[i] = s[i] * k + h }
              if sigmoidPerPlane { vectorSigmoid(t, t, pixels) }
            }
          }
        }
      }
    }
  }
  // Over the whole tensor at once: a dense layer's batch norm has one value per channel and
  // example, too few for the vector exponential one channel at a time.
  if activation == .sigmoid && !sigmoidPerPlane { parallelSigmoid(y.data, y.data, count: y.count) }
  // The output is kept only for an activation's derivative: without one, it is freed as soon
  // as the layer after it has run.
  // A ReLU's derivative is taken from the input (see `reluMaskedSums`), so only a sigmoid
  // keeps it.
  let activated = activation == .sigmoid ? y : nil
  let masked = activation == .relu
  return Autograd.record(y, [x, gamma, beta]) { dyAfterActivation in
    // The sigmoid's derivative goes into the gradient in place: for planes, one plane at a
    // time in the sums pass below, while that plane is in cache; otherwise here, in one pass.
    let dy = sigmoidPerPlane ? dyAfterActivation
      : activated.map { activationGrad(activation, output: $0, grad: dyAfterActivation) }
      ?? dyAfterActivation
    let sigmoidOutput = sigmoidPerPlane ? activated.map { UnsafePointer($0.data) } : nil
    let dx = x.requiresGrad ? x.gradBuffer() : nil
    let dgamma = gamma.requiresGrad ? gamma.gradBuffer() : nil
    let dbeta = beta.requiresGrad ? beta.gradBuffer() : nil
    if pixels == 1 {
      batchNormRowsBackward(
        x.data, dy.data, rows: n, channels: c, gamma: gamma.data, beta: beta.data,
        mean: stats.data, invStd: stats.data + c, training: training, relu: masked, dx: dx,
        dgamma: dgamma, dbeta: dbeta)
      return
    }
    let q = (
      x.data, dy.data, gamma.data, beta.data, dx, dgamma, dbeta, stats, sigmoidOutput)
    parallelRanges(c) { channels in
      let (xp, gy, gp, bp, dx, dgamma, dbeta, stats, sigmoidOutput) = q
      let mean = stats.data, invStd = stats.data + c
      // Image by image, as in the forward pass.
      let lo = channels.lowerBound, count = channels.count
      withUnsafeTemporaryAllocation(of: Float.self, capacity: 6 * count) { work in
        let sumDy = work.baseAddress!, sumDyX = sumDy + count, scale = sumDyX + count
        let shift = scale + count, a = shift + count, bcoef = a + count
        sumDy.update(repeating: 0, count: 2 * count)
        for j in 0..<count {
          let ch = lo + j
          // The forward pass's affine map, for the ReLU's derivative.
          scale[j] = gp[ch] * invStd[ch]
          shift[j] = bp[ch] - mean[ch] * gp[ch] * invStd[ch]
        }
        // Σ dy and Σ dy * x per channel, over the images in order.
        for b in 0..<n {
          let base = (b * c + lo) * pixels
          for j in 0..<count {
            let off = base + j * pixels
            if masked {
              let (s, d) = reluMaskedSums(gy + off, xp + off, pixels, scale: scale[j], shift: shift[j])
              sumDy[j] += s
              sumDyX[j] += d
            } else {
              if let yp = sigmoidOutput {
                let g = gy + off, out = yp + off
                for i in 0..<pixels { g[i] *= out[i] * (1 - out[i]) }
              }
              sumDy[j] += vectorSum(gy + off, pixels)
              sumDyX[j] += vectorDot(gy + off, xp + off, pixels)
            }
          }
        }
        for j in 0..<count {
          let ch = lo + j
          // Σ dy * xhat, with xhat = (x - mu) * inv.
          let sumDyXhat = (sumDyX[j] - mean[ch] * sumDy[j]) * invStd[ch]
          dgamma?[ch] += sumDyXhat
          dbeta?[ch] += sumDy[j]
          // dx = gamma * inv / m * (m * dy - Σdy - xhat * Σ(dy * xhat)); in prediction mode
          // a and bcoef are 0 and this is gamma * inv * dy.
          a[j] = training ? sumDy[j] / m : 0
          bcoef[j] = training ? sumDyXhat / m * invStd[ch] : 0
        }
        guard let dx else { return }
        for b in 0..<n {
          let base = (b * c + lo) * pixels
          for j in 0..<count {
            let off = base + j * pixels, ch = lo + j
            let k = scale[j], h = shift[j], aj = a[j], bj = bcoef[j], mu = mean[ch]
            let xs = xp + off, gs = gy + off, ds = dx + off
            if masked {
              for i in 0..<pixels {
                let v = xs[i]
                let g = v * k + h > 0 ? gs[i] : 0
                ds[i] += k * (g - aj - (v - mu) * bj)
              }
            } else {
              for i in 0..<pixels { ds[i] += k * (gs[i] - aj - (xs[i] - mu) * bj) }
            }
          }
        }
      }
    }
  }
}

/// Channel `ch`'s normalisation for this pass, for planes and rows alike: in training, the
/// mean and (biased) variance from `sum` and `squares`, the sums of `x - about` and
/// `(x - about)^2` over `count` values, with the moving statistics updated; otherwise the
/// moving statistics. Writes `mean[ch]` and `invStd[ch]` (1/sqrt(var + eps)) and returns
/// the affine map `y = x * scale + shift` that normalises and applies gamma and beta.
@inline(__always)
private func channelNormalization(
  _ ch: Int, training: Bool, sum d: Float, squares dd: Float, about s: Float, count m: Float,
  gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
  movingMean mm: UnsafeMutablePointer<Float>, movingVar mv: UnsafeMutablePointer<Float>,
  eps: Float, momentum: Float, mean: UnsafeMutablePointer<Float>,
  invStd: UnsafeMutablePointer<Float>
) -> (scale: Float, shift: Float) {
  var mu = mm[ch], variance = mv[ch]
  if training {
    mu = s + d / m
    variance = max(dd / m - (d / m) * (d / m), 0)
    mm[ch] = momentum * mm[ch] + (1 - momentum) * mu
    mv[ch] = momentum * mv[ch] + (1 - momentum) * variance
  }
  let inv = 1 / (variance + eps).squareRoot()
  mean[ch] = mu
  invStd[ch] = inv
  return (gamma[ch] * inv, beta[ch] - mu * gamma[ch] * inv)
}

/// `batchNorm`'s forward pass over `[rows, channels]` (after a dense layer): one pass down the
/// rows for the moments and one for the output, each a loop along a row, so that the inner
/// loops run over contiguous channels. Channel by channel, as for images, each step of the
/// inner loop would be a single value `channels` floats from the last (BENCHMARKS.md,
/// "Why the kernels are shaped as they are").
private func batchNormRowsForward(
  _ x: UnsafePointer<Float>, rows n: Int, channels c: Int, gamma: UnsafePointer<Float>,
  beta: UnsafePointer<Float>, movingMean mm: UnsafeMutablePointer<Float>,
  movingVar mv: UnsafeMutablePointer<Float>, eps: Float, momentum: Float, training: Bool,
  relu: Bool, mean: UnsafeMutablePointer<Float>, invStd: UnsafeMutablePointer<Float>,
  into y: UnsafeMutablePointer<Float>
) {
  let work = Tensor(uninitializedShape: [4, c])
  let d = work.data, dd = d + c, scale = d + 2 * c, shift = d + 3 * c
  d.update(repeating: 0, count: 2 * c)
  if training {
    // Moments about the first row, as in the image case, so that they do not cancel.
    for b in 0..<n {
      let row = x + b * c
      for ch in 0..<c {
        let v = row[ch] - x[ch]
        d[ch] += v
        dd[ch] += v * v
      }
    }
  }
  let m = Float(n)
  for ch in 0..<c {
    (scale[ch], shift[ch]) = channelNormalization(
      ch, training: training, sum: d[ch], squares: dd[ch], about: x[ch], count: m,
      gamma: gamma, beta: beta, movingMean: mm, movingVar: mv, eps: eps, momentum: momentum,
      mean: mean, invStd: invStd)
  }
  for b in 0..<n {
    let src = x + b * c, dst = y + b * c
    if relu {
      for ch in 0..<c { dst[ch] = max(src[ch] * scale[ch] + shift[ch], 0) }
    } else {
      for ch in 0..<c { dst[ch] = src[ch] * scale[ch] + shift[ch] }
    }
  }
}

/// `batchNorm`'s backward pass over `[rows, channels]`, row by row like
/// `batchNormRowsForward`; `relu` takes the ReLU's derivative from the input.
private func batchNormRowsBackward(
  _ x: UnsafePointer<Float>, _ gy: UnsafePointer<Float>, rows n: Int, channels c: Int,
  gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, mean: UnsafePointer<Float>,
  invStd: UnsafePointer<Float>, training: Bool, relu: Bool, dx: UnsafeMutablePointer<Float>?,
  dgamma: UnsafeMutablePointer<Float>?, dbeta: UnsafeMutablePointer<Float>?
) {
  let work = Tensor(uninitializedShape: [6, c])
  let sumDy = work.data, sumDyX = sumDy + c, scale = sumDy + 2 * c, shift = sumDy + 3 * c
  let a = sumDy + 4 * c, bcoef = sumDy + 5 * c
  sumDy.update(repeating: 0, count: 2 * c)
  for ch in 0..<c {
    scale[ch] = gamma[ch] * invStd[ch]
    shift[ch] = beta[ch] - mean[ch] * gamma[ch] * invStd[ch]
  }
  for b in 0..<n {
    let xr = x + b * c, gr = gy + b * c
    for ch in 0..<c {
      let g = !relu || xr[ch] * scale[ch] + shift[ch] > 0 ? gr[ch] : 0
      sumDy[ch] += g
      sumDyX[ch] += g * xr[ch]
    }
  }
  let m = Float(n)
  for ch in 0..<c {
    let sumDyXhat = (sumDyX[ch] - mean[ch] * sumDy[ch]) * invStd[ch]
    dgamma?[ch] += sumDyXhat
    dbeta?[ch] += sumDy[ch]
    a[ch] = training ? sumDy[ch] / m : 0
    bcoef[ch] = training ? sumDyXhat / m : 0
  }
  guard let dx else { return }
  // dx = gamma * inv / m * (m * dy - Σdy - xhat * Σ(dy * xhat)); in prediction mode a and
  // bcoef are 0 and this is gamma * inv * dy.
  for b in 0..<n {
    let xr = x + b * c, gr = gy + b * c, dr = dx + b * c
    for ch in 0..<c {
      let v = xr[ch]
      let g = !relu || v * scale[ch] + shift[ch] > 0 ? gr[ch] : 0
      dr[ch] += scale[ch] * (g - a[ch] - (v - mean[ch]) * invStd[ch] * bcoef[ch])
    }
  }
}
