/// 2-D max pooling. Input `[N, C, H, W]` -> `[N, C, outH, outW]`; padding is
/// ignored by the max (as if -infinity). The backward pass routes each
/// gradient to the position that won the max, kept from the forward pass.
public func maxPool2d(
  _ x: Tensor, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int) = (0, 0)
) -> Tensor {
  let g = poolGeometry(x, kernel: kernel, stride: stride, padding: padding, name: "maxPool2d")
  let planes = x.shape[0] * x.shape[1]
  let y = Tensor(uninitializedShape: [x.shape[0], x.shape[1], g.outH, g.outW])
  // Winner offsets within the input plane, stored as Int32 in a pooled buffer.
  let winners = Tensor(uninitializedShape: [y.count])
  let wp = UnsafeMutableRawPointer(winners.data).bindMemory(to: Int32.self, capacity: y.count)
  // Windows wholly inside the plane, in the 3x3 case (every pool of GoogLeNet and ResNet),
  // take nine fixed loads instead of the clamped double loop: these output columns, on the
  // rows whose window is inside too.
  var interiorColumns = 0..<0
  if g.kernelH == 3 && g.kernelW == 3 {
    let first = (g.padW + g.strideW - 1) / g.strideW
    let last = g.width >= 3 - g.padW ? (g.width - 3 + g.padW) / g.strideW : -1
    if first <= last { interiorColumns = first..<min(last + 1, g.outW) }
  }
  nonisolated(unsafe) let captured = (x.data, y.data, wp)
  parallelRanges(planes, minPerThread: max(1, 4096 / max(g.inPixels, 1))) { range in
    let (xp, yp, wp) = captured
    for plane in range {
      let src = xp + plane * g.inPixels
      let dst = yp + plane * g.outPixels
      let win = wp + plane * g.outPixels
      for oy in 0..<g.outH {
        let y0 = oy * g.strideH - g.padH
        let ya = max(y0, 0), yb = min(y0 + g.kernelH, g.height)
        let interior = ya == y0 && yb == y0 + g.kernelH ? interiorColumns : 0..<0
        for ox in interior {
          let at = y0 * g.width + ox * g.strideW - g.padW
          (dst[oy * g.outW + ox], win[oy * g.outW + ox]) = max3x3(src, at: at, width: g.width)
        }
        for ox in 0..<g.outW where !interior.contains(ox) {
          let x0 = ox * g.strideW - g.padW
          let xa = max(x0, 0), xb = min(x0 + g.kernelW, g.width)
          var best = -Float.infinity
          var at = ya * g.width + xa
          for iy in ya..<yb {
            let row = iy * g.width
            for ix in xa..<xb where src[row + ix] > best {
              best = src[row + ix]
              at = row + ix
            }
          }
          dst[oy * g.outW + ox] = best
          win[oy * g.outW + ox] = Int32(at)
        }
      }
    }
  }
  // The winners say where each gradient goes: the input's values are not needed.
  let slot = x.gradientSlotIfRequired
  return Autograd.record(y, [x]) { dy in
    guard let dx = slot?.buffer() else { return }
    nonisolated(unsafe) let captured = (dy.data, dx, wp, winners)
    parallelRanges(planes, minPerThread: max(1, 4096 / max(g.inPixels, 1))) { range in
      let (gp, dx, wp, _) = captured
      for plane in range {
        let d = dx + plane * g.inPixels
        let gy = gp + plane * g.outPixels
        let win = wp + plane * g.outPixels
        for i in 0..<g.outPixels { d[Int(win[i])] += gy[i] }
      }
    }
  }
}

/// The maximum of the 3x3 window whose top-left element is `src[at]`, and its index; ties
/// go to the first in row order, as in the window loop.
@inline(__always)
func max3x3(_ src: UnsafePointer<Float>, at: Int, width: Int) -> (Float, Int32) {
  var best = src[at], index = at
  for k in 1..<9 {
    let i = at + (k / 3) * width + k % 3
    let v = src[i]
    let take = v > best
    best = take ? v : best
    index = take ? i : index
  }
  return (best, Int32(truncatingIfNeeded: index))
}

/// 2-D average pooling. Input `[N, C, H, W]` -> `[N, C, outH, outW]`; each
/// window's sum is divided by the full window size, padding included (the
/// default of Gluon and PyTorch).
public func avgPool2d(
  _ x: Tensor, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int) = (0, 0)
) -> Tensor {
  let g = poolGeometry(x, kernel: kernel, stride: stride, padding: padding, name: "avgPool2d")
  let planes = x.shape[0] * x.shape[1]
  let y = Tensor(uninitializedShape: [x.shape[0], x.shape[1], g.outH, g.outW])
  let scale = 1 / Float(g.kernelH * g.kernelW)
  nonisolated(unsafe) let captured = (x.data, y.data)
  parallelRanges(planes, minPerThread: max(1, 4096 / max(g.inPixels, 1))) { range in
    let (xp, yp) = captured
    for plane in range {
      let src = xp + plane * g.inPixels
      let dst = yp + plane * g.outPixels
      for oy in 0..<g.outH {
        let y0 = oy * g.strideH - g.padH
        let ya = max(y0, 0), yb = min(y0 + g.kernelH, g.height)
        for ox in 0..<g.outW {
          let x0 = ox * g.strideW - g.padW
          let xa = max(x0, 0), xb = min(x0 + g.kernelW, g.width)
          var s: Float = 0
          for iy in ya..<yb {
            for ix in xa..<xb { s += src[iy * g.width + ix] }
          }
          dst[oy * g.outW + ox] = s * scale
        }
      }
    }
  }
  let slot = x.gradientSlotIfRequired
  return Autograd.record(y, [x]) { dy in
    guard let dx = slot?.buffer() else { return }
    nonisolated(unsafe) let captured = (dy.data, dx)
    parallelRanges(planes, minPerThread: max(1, 4096 / max(g.inPixels, 1))) { range in
      let (gp, dx) = captured
      for plane in range {
        let d = dx + plane * g.inPixels
        let gy = gp + plane * g.outPixels
        for oy in 0..<g.outH {
          let y0 = oy * g.strideH - g.padH
          let ya = max(y0, 0), yb = min(y0 + g.kernelH, g.height)
          for ox in 0..<g.outW {
            let x0 = ox * g.strideW - g.padW
            let xa = max(x0, 0), xb = min(x0 + g.kernelW, g.width)
            let v = gy[oy * g.outW + ox] * scale
            for iy in ya..<yb {
              for ix in xa..<xb { d[iy * g.width + ix] += v }
            }
          }
        }
      }
    }
  }
}

func poolGeometry(
  _ x: Tensor, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), name: String
) -> ConvGeometry {
  require(x.rank == 4, "\(name) expects input [N, C, H, W], got \(x.shape)")
  require(padding.0 * 2 <= kernel.0 && padding.1 * 2 <= kernel.1,
    "\(name): padding \(padding) must be at most half the window \(kernel)")
  let g = ConvGeometry(
    channels: x.shape[1], height: x.shape[2], width: x.shape[3], kernelH: kernel.0,
    kernelW: kernel.1, strideH: stride.0, strideW: stride.1, padH: padding.0, padW: padding.1)
  require(g.outH > 0 && g.outW > 0,
    "\(name): input \(x.shape[2])x\(x.shape[3]) is too small for a \(kernel.0)x\(kernel.1) window with padding \(padding)")
  return g
}
