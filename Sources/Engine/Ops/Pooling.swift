/// 2-D max pooling. Input `[N, C, H, W]` -> `[N, C, outH, outW]`; padding is
/// ignored by the max (as if -infinity). The backward pass routes each
/// gradient to the position that won the max, kept from the forward pass.
///
/// It computes `Reference.maxPool2d` and `Reference.maxPool2dBackward`; the paths below
/// differ in how many windows one vector compare serves.
public func maxPool2d(
  _ x: Tensor, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int) = (0, 0)
) -> Tensor {
  let g = poolGeometry(x, kernel: kernel, stride: stride, padding: padding, name: "maxPool2d")
  let planes = x.shape[0] * x.shape[1]
  let y = Tensor(uninitializedShape: [x.shape[0], x.shape[1], g.outH, g.outW])
  // Winner offsets within the input plane, stored as Int32 in a pooled buffer.
  let winners = Tensor(uninitializedShape: [y.count])
  let wp = UnsafeMutableRawPointer(winners.data).bindMemory(to: Int32.self, capacity: y.count)
  if g.outW < 16 && g.inPixels <= 256 {
    maxPoolAcrossPlanes(x.data, planes: planes, g, into: y.data, winners: wp)
  } else if g.kernelH == 3 && g.kernelW == 3 {
    maxPool3x3(x.data, planes: planes, g, into: y.data, winners: wp)
  } else if g.kernelH == 2 && g.kernelW == 2 && g.padH == 0 && g.padW == 0 {
    maxPool2x2(x.data, planes: planes, g, into: y.data, winners: wp)
  } else {
    let captured = (x.data, y.data, wp)
    parallelRanges(planes, minPerThread: max(1, 4096 / max(g.inPixels, 1))) { range in
      let (xp, yp, wp) = captured
      for plane in range {
        let src = xp + plane * g.inPixels
        let dst = yp + plane * g.outPixels
        let win = wp + plane * g.outPixels
        forEachPoolWindow(g) { out, rows, columns in
          var best = -Float.infinity
          var at = rows.lowerBound * g.width + columns.lowerBound
          for iy in rows {
            let row = iy * g.width
            for ix in columns where src[row + ix] > best {
              best = src[row + ix]
              at = row + ix
            }
          }
          dst[out] = best
          win[out] = Int32(at)
        }
      }
    }
  }
  // The winners say where each gradient goes: the input's values are not needed.
  let slot = x.gradientSlotIfRequired
  return Autograd.record(y, [x]) { dy in
    guard let dx = slot?.buffer() else { return }
    let captured = (dy.data, dx, wp, winners)
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

/// Max pooling of small planes (GoogLeNet's and DenseNet's 8x8 to 1x1), 16 planes at a
/// time, one vector lane per plane: each block of planes is transposed so that one load
/// gives a pixel of all 16, and every window then takes one vector compare per element it
/// covers. Planes that small leave nothing to vectorise within a row, and a plane at a
/// time spent more on its loop and border handling than on the compares. Windows are
/// clamped to the plane (padding never wins); ties go to the first element in row order.
func maxPoolAcrossPlanes(
  _ x: UnsafePointer<Float>, planes: Int, _ g: ConvGeometry, into y: UnsafeMutablePointer<Float>,
  winners: UnsafeMutablePointer<Int32>
) {
  let windows = PoolWindowElements(g)
  let (inPixels, outPixels) = (g.inPixels, g.outPixels)
  let blocks = (planes + 15) / 16
  windows.offsets.withUnsafeBufferPointer { offsets in
    windows.starts.withUnsafeBufferPointer { starts in
      let captured = (x, y, winners, offsets.baseAddress!, starts.baseAddress!)
      parallelRanges(blocks, minPerThread: max(1, 1024 / (16 * inPixels))) { range in
        let (xp, yp, wp, offsets, starts) = captured
        // Pixel p of the block's planes at lanes[16 p ..< 16 p + 16]; results likewise.
        let lanes = UnsafeMutablePointer<Float>.allocate(capacity: 16 * (inPixels + outPixels))
        let results = lanes + 16 * inPixels
        let positions = UnsafeMutablePointer<Int32>.allocate(capacity: 16 * outPixels)
        defer { lanes.deallocate(); positions.deallocate() }
        for block in range {
          let first = block * 16, count = min(16, planes - first)
          let src = xp + first * inPixels
          if count < 16 { lanes.update(repeating: -.infinity, count: 16 * inPixels) }
          for lane in 0..<count {
            for p in 0..<inPixels { lanes[16 * p + lane] = src[lane * inPixels + p] }
          }
          for out in 0..<outPixels {
            let (start, end) = (Int(starts[out]), Int(starts[out + 1]))
            var best = load16(lanes + 16 * Int(offsets[start]))
            var at = SIMD16<Int32>(repeating: offsets[start])
            for e in (start + 1)..<end {
              let v = load16(lanes + 16 * Int(offsets[e]))
              let take = v .> best
              best.replace(with: v, where: take)
              at.replace(with: SIMD16(repeating: offsets[e]), where: take)
            }
            store16(best, results + 16 * out)
            UnsafeMutableRawPointer(positions + 16 * out).storeBytes(of: at, as: SIMD16<Int32>.self)
          }
          let dst = yp + first * outPixels, win = wp + first * outPixels
          for lane in 0..<count {
            for out in 0..<outPixels {
              dst[lane * outPixels + out] = results[16 * out + lane]
              win[lane * outPixels + out] = positions[16 * out + lane]
            }
          }
        }
      }
    }
  }
}

/// The input elements each pooling window covers, clamped to the plane: window `o`'s are
/// `offsets[starts[o] ..< starts[o + 1]]`, as `row * width + column`, in row order.
struct PoolWindowElements {
  var offsets: [Int32] = []
  var starts: [Int32] = [0]

  init(_ g: ConvGeometry) {
    forEachPoolWindow(g) { _, rows, columns in
      for iy in rows {
        for ix in columns { offsets.append(Int32(iy * g.width + ix)) }
      }
      starts.append(Int32(offsets.count))
    }
  }
}

/// 3x3 max pooling; with padding, over a copy of each plane framed by -infinity (padding is
/// at most 1, so every window still holds a real value), so that every window takes the
/// same nine loads. GoogLeNet's and DenseNet's late planes are 4x4 and 2x2, where nearly every
/// window touches the border and a loop clamped to the plane spends its time on the bounds.
func maxPool3x3(
  _ x: UnsafePointer<Float>, planes: Int, _ g: ConvGeometry, into y: UnsafeMutablePointer<Float>,
  winners: UnsafeMutablePointer<Int32>
) {
  let framedWidth = g.width + 2 * g.padW, framedCount = framedWidth * (g.height + 2 * g.padH)
  // Without padding every window is inside the plane already (AlexNet's pools): no copy.
  let padded = g.padH > 0 || g.padW > 0
  let captured = (x, y, winners)
  parallelRanges(planes, minPerThread: max(1, 4096 / max(g.inPixels, 1))) { range in
    let (xp, yp, wp) = captured
    let frame = padded ? UnsafeMutablePointer<Float>.allocate(capacity: framedCount) : nil
    defer { frame?.deallocate() }
    // The frame is written once; each plane overwrites only the inside.
    frame?.initialize(repeating: -.infinity, count: framedCount)
    for plane in range {
      let src = xp + plane * g.inPixels
      var framed = src
      if let frame {
        for row in 0..<g.height {
          (frame + (row + g.padH) * framedWidth + g.padW)
            .update(from: src + row * g.width, count: g.width)
        }
        framed = UnsafePointer(frame)
      }
      let dst = yp + plane * g.outPixels, win = wp + plane * g.outPixels
      for oy in 0..<g.outH {
        let top = oy * g.strideH  // in the framed plane; row top - padH of the input
        var first = 0
        if g.strideW <= 2 {
          // 16 windows at a time while their loads stay inside the row.
          let span = g.strideW == 2 ? 34 : 18
          while first + 16 <= g.outW && first * g.strideW + span <= framedWidth {
            let left = first * g.strideW
            let (best, offset) = max3x3Row16(
              framed + top * framedWidth + left, width: framedWidth, stride2: g.strideW == 2,
              inputWidth: g.width)
            store16(best, dst + oy * g.outW + first)
            let base = Int32(truncatingIfNeeded: (top - g.padH) * g.width + left - g.padW)
            UnsafeMutableRawPointer(win + oy * g.outW + first).storeBytes(
              of: offset &+ base &+ windowStarts16 &* Int32(g.strideW), as: SIMD16<Int32>.self)
            first += 16
          }
        }
        for ox in first..<g.outW {
          let left = ox * g.strideW
          let (best, k) = max3x3(framed, at: top * framedWidth + left, width: framedWidth)
          dst[oy * g.outW + ox] = best
          win[oy * g.outW + ox] = Int32(
            truncatingIfNeeded: (top - g.padH + k / 3) * g.width + left - g.padW + k % 3)
        }
      }
    }
  }
}

/// 2x2 max pooling without padding (LeNet's and VGG's): every window lies inside the plane,
/// and takes four loads instead of the clamped double loop.
/// Ties go to the first in row order, as in that loop.
func maxPool2x2(
  _ x: UnsafePointer<Float>, planes: Int, _ g: ConvGeometry, into y: UnsafeMutablePointer<Float>,
  winners: UnsafeMutablePointer<Int32>
) {
  let captured = (x, y, winners)
  parallelRanges(planes, minPerThread: max(1, 4096 / max(g.inPixels, 1))) { range in
    let (xp, yp, wp) = captured
    for plane in range {
      let src = xp + plane * g.inPixels
      let dst = yp + plane * g.outPixels, win = wp + plane * g.outPixels
      for oy in 0..<g.outH {
        let top = oy * g.strideH * g.width
        for ox in 0..<g.outW {
          let a = top + ox * g.strideW, c = a + g.width
          var best = src[a], at = a
          if src[a + 1] > best { best = src[a + 1]; at = a + 1 }
          if src[c] > best { best = src[c]; at = c }
          if src[c + 1] > best { best = src[c + 1]; at = c + 1 }
          dst[oy * g.outW + ox] = best
          win[oy * g.outW + ox] = Int32(truncatingIfNeeded: at)
        }
      }
    }
  }
}

/// 0, 1, ..., 15: the lanes of `max3x3Row16`.
private let windowStarts16 = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)

/// `max3x3` for 16 neighbouring windows, the first with its top-left element at `src[0]`,
/// the others 1 or 2 (`stride2`) columns apart: one vector compare per window element
/// instead of a chain of nine scalar ones per window (the stem pools of DenseNet and
/// GoogLeNet, on large planes). Returns the
/// maxima and each winner's offset `row * inputWidth + column` within its window; ties go
/// to the first, as in `max3x3`. Reads `src[0 ..< 2 * width + 18]`, or `+ 34` at stride 2.
@inline(__always)
func max3x3Row16(
  _ src: UnsafePointer<Float>, width: Int, stride2: Bool, inputWidth: Int
) -> (SIMD16<Float>, SIMD16<Int32>) {
  @inline(__always) func window(_ k: Int) -> SIMD16<Float> {
    let p = src + (k / 3) * width + k % 3
    return stride2 ? UnsafeRawPointer(p).loadUnaligned(as: SIMD32<Float>.self).evenHalf : load16(p)
  }
  var best = window(0), offset = SIMD16<Int32>()
  for k in 1..<9 {
    let v = window(k)
    let take = v .> best
    best.replace(with: v, where: take)
    offset.replace(with: Int32(truncatingIfNeeded: (k / 3) * inputWidth + k % 3), where: take)
  }
  return (best, offset)
}

/// The maximum of the 3x3 window whose top-left element is `src[at]`, and its position in
/// the window (0 to 8, row by row); ties go to the first, as in the clamped window loop.
@inline(__always)
func max3x3(_ src: UnsafePointer<Float>, at: Int, width: Int) -> (Float, Int) {
  var best = src[at], index = 0
  for k in 1..<9 {
    let v = src[at + (k / 3) * width + k % 3]
    let take = v > best
    best = take ? v : best
    index = take ? k : index
  }
  return (best, index)
}

/// 2-D average pooling. Input `[N, C, H, W]` -> `[N, C, outH, outW]`; each
/// window's sum is divided by the full window size, padding included (the
/// default of Gluon and PyTorch). It computes `Reference.avgPool2d` and
/// `Reference.avgPool2dBackward`.
public func avgPool2d(
  _ x: Tensor, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int) = (0, 0)
) -> Tensor {
  let g = poolGeometry(x, kernel: kernel, stride: stride, padding: padding, name: "avgPool2d")
  let planes = x.shape[0] * x.shape[1]
  let y = Tensor(uninitializedShape: [x.shape[0], x.shape[1], g.outH, g.outW])
  let scale = 1 / Float(g.kernelH * g.kernelW)
  let halving = isHalving(g)
  let captured = (x.data, y.data)
  parallelRanges(planes, minPerThread: max(1, 4096 / max(g.inPixels, 1))) { range in
    let (xp, yp) = captured
    for plane in range {
      let src = xp + plane * g.inPixels
      let dst = yp + plane * g.outPixels
      if halving {
        averageHalving(src, g, into: dst)
        continue
      }
      forEachPoolWindow(g) { out, rows, columns in
        var s: Float = 0
        for iy in rows {
          for ix in columns { s += src[iy * g.width + ix] }
        }
        dst[out] = s * scale
      }
    }
  }
  let slot = x.gradientSlotIfRequired
  return Autograd.record(y, [x]) { dy in
    guard let dx = slot?.buffer() else { return }
    let captured = (dy.data, dx)
    parallelRanges(planes, minPerThread: max(1, 4096 / max(g.inPixels, 1))) { range in
      let (gp, dx) = captured
      for plane in range {
        let d = dx + plane * g.inPixels
        let gy = gp + plane * g.outPixels
        if halving {
          spreadHalving(gy, g, into: d)
          continue
        }
        forEachPoolWindow(g) { out, rows, columns in
          let v = gy[out] * scale
          for iy in rows {
            for ix in columns { d[iy * g.width + ix] += v }
          }
        }
      }
    }
  }
}

/// A 2x2 window at stride 2 without padding: DenseNet's transitions. Their general loop
/// (ranges of rows and columns per window, through a closure) took 4% of DenseNet's step at
/// 32 px for a few megabytes of averaging.
private func isHalving(_ g: ConvGeometry) -> Bool {
  g.kernelH == 2 && g.kernelW == 2 && g.strideH == 2 && g.strideW == 2 && g.padH == 0
    && g.padW == 0
}

/// Calls `body` for each window of a 2x2 stride-2 pooling over one plane, in output order:
/// the output index and the index of the window's top-left input (its others are one to the
/// right, one below, and both). Rows and columns past the last whole window are left out.
@inline(__always)
private func forEachHalvingWindow(
  _ g: ConvGeometry, _ body: (_ out: Int, _ topLeft: Int) -> Void
) {
  for oy in 0..<g.outH {
    for ox in 0..<g.outW { body(oy * g.outW + ox, 2 * oy * g.width + 2 * ox) }
  }
}

/// One plane's 2x2 averages, each summed in the general loop's order (row by row, left to
/// right, from zero), so that both give the same floats.
@inline(__always)
private func averageHalving(_ src: UnsafeMutablePointer<Float>, _ g: ConvGeometry,
                            into dst: UnsafeMutablePointer<Float>) {
  let w = g.width
  forEachHalvingWindow(g) { out, i in
    dst[out] = (((src[i] + src[i + 1]) + src[i + w]) + src[i + w + 1]) * 0.25
  }
}

/// The backward pass of `averageHalving`: a quarter of each output's gradient added to its
/// four inputs.
@inline(__always)
private func spreadHalving(_ gy: UnsafeMutablePointer<Float>, _ g: ConvGeometry,
                           into d: UnsafeMutablePointer<Float>) {
  let w = g.width
  forEachHalvingWindow(g) { out, i in
    let v = gy[out] * 0.25
    d[i] += v
    d[i + 1] += v
    d[i + w] += v
    d[i + w + 1] += v
  }
}

/// Calls `body` for each window of a pooling over one plane, in output order: the output
/// index, and the window's rows and columns clamped to the plane (padding left out).
@inline(__always)
func forEachPoolWindow(
  _ g: ConvGeometry, _ body: (_ out: Int, _ rows: Range<Int>, _ columns: Range<Int>) -> Void
) {
  for oy in 0..<g.outH {
    let y0 = oy * g.strideH - g.padH
    let rows = max(y0, 0)..<min(y0 + g.kernelH, g.height)
    for ox in 0..<g.outW {
      let x0 = ox * g.strideW - g.padW
      body(oy * g.outW + ox, rows, max(x0, 0)..<min(x0 + g.kernelW, g.width))
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
