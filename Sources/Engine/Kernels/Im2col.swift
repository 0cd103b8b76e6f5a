/// Geometry of a 2-D convolution or pooling window over NCHW input.
public struct ConvGeometry: Hashable, Sendable {
  public var channels, height, width: Int
  public var kernelH, kernelW: Int
  public var strideH, strideW: Int
  public var padH, padW: Int

  // Division rounds toward zero: a window larger than the padded input must give 0, not 1.
  public var outH: Int { height + 2 * padH < kernelH ? 0 : (height + 2 * padH - kernelH) / strideH + 1 }
  public var outW: Int { width + 2 * padW < kernelW ? 0 : (width + 2 * padW - kernelW) / strideW + 1 }
  /// Rows of the im2col matrix: one per (channel, kernel row, kernel column).
  public var patchSize: Int { channels * kernelH * kernelW }
  public var outPixels: Int { outH * outW }
  public var inPixels: Int { height * width }
  /// Stride 1 and no padding (LeNet's convolutions): every kernel tap reads a full
  /// `outH x outW` window of the input, so its unfolded row is `outH` copies of `outW`
  /// floats with no bounds to check. LeNet's rows are 24 and 8 floats long, too short to
  /// carry the general path's per-row padding arithmetic.
  var isUnpaddedStrideOne: Bool { strideH == 1 && strideW == 1 && padH == 0 && padW == 0 }
}

/// Unfolds `images` consecutive images into columns: `col[r, b * P + p]` is
/// input element (c, y*sh - ph + ki, x*sw - pw + kj) of image b, where
/// r = (c*kh + ki)*kw + kj and p = y*outW + x; zero outside the image.
/// Batching images side by side gives GEMMs wide enough to reach OpenBLAS's peak.
/// With `rows`, only those rows are unfolded, the first of them at `col`. `taps` is `g`'s
/// table when its output plane is small (`SmallPlaneTaps`), made once per convolution by
/// its `ConvPlan`; without it, one is made here.
func im2col(
  _ input: UnsafePointer<Float>, images: Int, _ g: ConvGeometry, rows: Range<Int>? = nil,
  taps: SmallPlaneTaps? = nil, into out: UnsafeMutablePointer<Float>
) {
  let P = g.outPixels
  let rowLength = images * P
  let all = rows ?? 0..<g.patchSize
  if P <= SmallPlaneTaps.maxPixels {
    (taps ?? SmallPlaneTaps(g)).withSources { sources in
      let captured = (input, out - all.lowerBound * rowLength, sources)
      parallelRanges(all.count, minPerThread: max(1, 4096 / max(rowLength, 1))) { part in
        let (input, col, sources) = captured
        let kk = g.kernelH * g.kernelW
        for r in (all.lowerBound + part.lowerBound)..<(all.lowerBound + part.upperBound) {
          let tap = sources + (r % kk) * P, c = r / kk
          for b in 0..<images {
            let src = input + (b * g.channels + c) * g.inPixels, dst = col + r * rowLength + b * P
            for p in 0..<P {
              let s = Int(tap[p])
              dst[p] = s >= 0 ? src[s] : 0
            }
          }
        }
      }
    }
    return
  }
  let byVectorRows = unfoldsByVectorRows(g)
  let captured = (input, out - all.lowerBound * rowLength)
  parallelRanges(all.count, minPerThread: max(1, 4096 / max(rowLength, 1))) { part in
    let (input, col) = captured
    let first = all.lowerBound + part.lowerBound
    // The row's channel and tap, stepped along with it: three integer divisions per row
    // cost as much as unfolding an 8x8 plane's row for a few images.
    var kj = first % g.kernelW, ki = (first / g.kernelW) % g.kernelH
    var c = first / (g.kernelW * g.kernelH)
    for r in first..<(all.lowerBound + part.upperBound) {
      defer {
        kj += 1
        if kj == g.kernelW {
          kj = 0
          ki += 1
          if ki == g.kernelH { (ki, c) = (0, c + 1) }
        }
      }
      if let shift = SamePlaneShift(g, ki: ki, kj: kj) {
        if byVectorRows {
          for b in 0..<images {
            unfoldVectorRows(
              input + (b * g.channels + c) * g.inPixels, height: g.height, dy: ki - g.padH,
              dx: kj - g.padW, to: col + r * rowLength + b * P)
          }
          continue
        }
        for b in 0..<images {
          shift.copy(from: input + (b * g.channels + c) * g.inPixels, to: col + r * rowLength + b * P)
        }
        continue
      }
      if g.isUnpaddedStrideOne {
        for b in 0..<images {
          let src = input + (b * g.channels + c) * g.inPixels + ki * g.width + kj
          let dst = col + r * rowLength + b * P
          copyWindowRows(src, rowStride: g.width, rows: g.outH, width: g.outW, to: dst)
        }
        continue
      }
      for b in 0..<images {
        let src = input + (b * g.channels + c) * g.inPixels
        var dst = col + r * rowLength + b * P
        for y in 0..<g.outH {
          let iy = y * g.strideH - g.padH + ki
          if iy < 0 || iy >= g.height {
            dst.update(repeating: 0, count: g.outW)
            dst += g.outW
            continue
          }
          let row = src + iy * g.width
          if g.strideW == 1 {
            // Contiguous copy between the zero borders.
            // Clamped to the row: with a kernel much wider than a padded input,
            // padW - kj can exceed outW (e.g. 5x5, padding 2, width 1).
            let x0 = min(max(0, g.padW - kj), g.outW)
            let x1 = min(g.outW, g.width + g.padW - kj)
            if x0 > 0 { dst.update(repeating: 0, count: x0) }
            if x1 > x0 { copyFloats(row + (x0 - g.padW + kj), to: dst + x0, count: x1 - x0) }
            if x1 < g.outW { dst.advanced(by: max(x1, x0)).update(repeating: 0, count: g.outW - max(x1, x0)) }
          } else {
            for x in 0..<g.outW {
              let ix = x * g.strideW - g.padW + kj
              dst[x] = ix >= 0 && ix < g.width ? row[ix] : 0
            }
          }
          dst += g.outW
        }
      }
    }
  }
}

/// Whether `im2col` unfolds `g` a vector row at a time (`unfoldVectorRows`): stride 1, the
/// output plane the input's size, 8 pixels wide, and no tap more than one column off centre
/// (3x3 with padding 1, 1x3, 3x1). DenseNet's, ResNet's and GoogLeNet's 8x8 layers at 32 px.
/// At 4 pixels wide the same unfolding measured no faster than `SmallPlaneTaps`' table
/// (BENCHMARKS.md, Session 22).
func unfoldsByVectorRows(_ g: ConvGeometry) -> Bool {
  g.strideH == 1 && g.strideW == 1 && g.outH == g.height && g.outW == g.width && g.width == 8
    && g.padW <= 1 && g.kernelW - 1 - g.padW <= 1
}

/// One tap's unfolded row for one image of a plane that `unfoldsByVectorRows`: each output
/// row is one input row, `dy` rows away, moved `dx` (-1, 0 or 1) lanes within its vector,
/// the lane that falls in the padding zeroed. `SamePlaneShift.copy` spends most of its time
/// at this width on the loop bounds of its three parts and on the padding columns'
/// single-float stores.
@inline(__always)
func unfoldVectorRows(
  _ src: UnsafePointer<Float>, height: Int, dy: Int, dx: Int, to dst: UnsafeMutablePointer<Float>
) {
  @inline(__always) func rows(_ move: (SIMD8<Float>) -> SIMD8<Float>) {
    for y in 0..<height {
      let iy = y + dy
      let v = iy >= 0 && iy < height
        ? move(UnsafeRawPointer(src + 8 * iy).loadUnaligned(as: SIMD8<Float>.self)) : SIMD8()
      UnsafeMutableRawPointer(dst + 8 * y).storeBytes(of: v, as: SIMD8<Float>.self)
    }
  }
  switch dx {
  case 1: rows { v in SIMD8(v[1], v[2], v[3], v[4], v[5], v[6], v[7], 0) }
  case -1: rows { v in SIMD8(0, v[0], v[1], v[2], v[3], v[4], v[5], v[6]) }
  default: rows { $0 }
  }
}

/// Copies `count` floats with vector moves. A plain copy loop becomes a call to memmove,
/// whose overhead dominates on the rows of 8 to 24 floats that LeNet's convolutions unfold.
@inline(__always)
func copyFloats(_ src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, count: Int) {
  var i = 0
  while i + 16 <= count {
    store16(load16(src + i), dst + i)
    i += 16
  }
  if i + 8 <= count {
    copyVector(SIMD8<Float>.self, src + i, dst + i)
    i += 8
  }
  if i + 4 <= count {
    copyVector(SIMD4<Float>.self, src + i, dst + i)
    i += 4
  }
  if i < count { dst[i] = src[i] }
  if i + 1 < count { dst[i + 1] = src[i + 1] }
  if i + 2 < count { dst[i + 2] = src[i + 2] }
}

/// Copies `rows` rows of `width` floats, `rowStride` apart, into consecutive rows: one
/// unfolded row of an unpadded stride-1 convolution. Widths that are whole vectors (LeNet's
/// 24 and 8) are copied without `copyFloats`'s tail tests.
@inline(__always)
func copyWindowRows(
  _ src: UnsafePointer<Float>, rowStride: Int, rows: Int, width: Int,
  to dst: UnsafeMutablePointer<Float>
) {
  if width % 8 == 0 {
    let vectors = width / 8
    for y in 0..<rows {
      let s = src + y * rowStride, d = dst + y * width
      for v in 0..<vectors { copyVector(SIMD8<Float>.self, s + 8 * v, d + 8 * v) }
    }
  } else {
    for y in 0..<rows { copyFloats(src + y * rowStride, to: dst + y * width, count: width) }
  }
}

/// `dst[i] += src[i]` for `count` floats, with vector loads and stores (see `copyFloats`).
@inline(__always)
func addFloats(_ src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, count: Int) {
  var i = 0
  while i + 16 <= count {
    store16(load16(dst + i) + load16(src + i), dst + i)
    i += 16
  }
  if i + 8 <= count {
    let a = UnsafeRawPointer(dst + i).loadUnaligned(as: SIMD8<Float>.self)
    let b = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(dst + i).storeBytes(of: a + b, as: SIMD8<Float>.self)
    i += 8
  }
  while i < count {
    dst[i] += src[i]
    i += 1
  }
}

/// The adjoint of `im2col`: adds each column entry back into the image
/// element it was copied from (`grad` accumulates). Entries that stand for padding may be
/// zeroed in `col`, which is scratch. `taps` as for `im2col`.
func col2im(
  _ col: UnsafeMutablePointer<Float>, images: Int, _ g: ConvGeometry, taps: SmallPlaneTaps? = nil,
  into grad: UnsafeMutablePointer<Float>
) {
  let P = g.outPixels
  let rowLength = images * P
  let kk = g.kernelH * g.kernelW
  if P <= SmallPlaneTaps.maxPixels {
    (taps ?? SmallPlaneTaps(g)).withSources { sources in
      let captured = (col, grad, sources)
      parallelRanges(g.channels, minPerThread: 1) { channels in
        let (col, grad, sources) = captured
        for c in channels {
          for k in 0..<kk {
            let tap = sources + k * P, r = c * kk + k
            for b in 0..<images {
              let src = col + r * rowLength + b * P, dst = grad + (b * g.channels + c) * g.inPixels
              for p in 0..<P where tap[p] >= 0 { dst[Int(tap[p])] += src[p] }
            }
          }
        }
      }
    }
    return
  }
  let captured = (col, grad)
  // Split by channel: rows of different channels write to disjoint planes.
  parallelRanges(g.channels, minPerThread: 1) { channels in
    let (col, grad) = captured
    for c in channels {
      for k in 0..<kk {
        let r = c * kk + k
        let ki = k / g.kernelW, kj = k % g.kernelW
        if let shift = SamePlaneShift(g, ki: ki, kj: kj) {
          for b in 0..<images {
            shift.add(from: col + r * rowLength + b * P, to: grad + (b * g.channels + c) * g.inPixels)
          }
          continue
        }
        if g.isUnpaddedStrideOne {
          for b in 0..<images {
            let dst = grad + (b * g.channels + c) * g.inPixels + ki * g.width + kj
            let src = col + r * rowLength + b * P
            for y in 0..<g.outH {
              addFloats(src + y * g.outW, to: dst + y * g.width, count: g.outW)
            }
          }
          continue
        }
        for b in 0..<images {
          let dst = grad + (b * g.channels + c) * g.inPixels
          var src = col + r * rowLength + b * P
          for y in 0..<g.outH {
            let iy = y * g.strideH - g.padH + ki
            if iy >= 0 && iy < g.height {
              let row = dst + iy * g.width
              if g.strideW == 1 {
                let x0 = max(0, g.padW - kj)
                let x1 = min(g.outW, g.width + g.padW - kj)
                if x1 > x0 {
                  let d = row + (x0 - g.padW + kj)
                  for x in 0..<(x1 - x0) { d[x] += src[x0 + x] }
                }
              } else {
                for x in 0..<g.outW {
                  let ix = x * g.strideW - g.padW + kj
                  if ix >= 0 && ix < g.width { row[ix] += src[x] }
                }
              }
            }
            src += g.outW
          }
        }
      }
    }
  }
}

/// One kernel offset (ki, kj) of a stride-1 convolution whose output plane has the input's
/// size ("same" padding: 3x3 with padding 1, 5x5 with 2, 1x1 with 0). Its im2col row for one
/// image is then the input plane shifted by `offset` elements, with the columns that fall
/// in the padding set to zero: one contiguous copy and a few zeros, instead of one short
/// copy per output row. Late Inception and DenseNet layers have rows of 2 to 8 floats,
/// where the per-row copies ran at about 1.5 GB/s.
///
/// A shifted index that leaves its row wraps into a neighbouring row, but only at a column
/// that is outside the image, and those columns are zeroed.
struct SamePlaneShift {
  let pixels: Int, width: Int, height: Int
  /// Input index = output index + offset.
  let offset: Int
  /// Output indices [low, high) have their shifted index inside the plane.
  let low: Int, high: Int
  /// Output columns [0, zeroLeft) and [zeroRight, width) fall in the padding.
  let zeroLeft: Int, zeroRight: Int

  init?(_ g: ConvGeometry, ki: Int, kj: Int) {
    guard g.strideH == 1, g.strideW == 1, g.outH == g.height, g.outW == g.width,
      g.inPixels > 0
    else { return nil }
    pixels = g.inPixels
    width = g.width
    height = g.height
    let dx = kj - g.padW
    offset = (ki - g.padH) * g.width + dx
    low = min(max(0, -offset), pixels)
    high = max(min(pixels, pixels - offset), low)
    zeroLeft = min(max(0, -dx), width)
    zeroRight = max(min(width, width - dx), zeroLeft)
  }

  /// `dst[i] = src[i + offset]`, zero where that falls in the padding.
  @inline(__always)
  func copy(from src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>) {
    for i in 0..<low { dst[i] = 0 }
    let shifted = src + offset
    for i in low..<high { dst[i] = shifted[i] }
    for i in high..<pixels { dst[i] = 0 }
    zeroPaddingColumns(dst)
  }

  /// `dst[i + offset] += src[i]` for the entries inside the image; zeroes the others in `src`.
  @inline(__always)
  func add(from src: UnsafeMutablePointer<Float>, to dst: UnsafeMutablePointer<Float>) {
    zeroPaddingColumns(src)
    let shifted = dst + offset
    for i in low..<high { shifted[i] += src[i] }
  }

  /// Column by column, down the plane: row by row, the compiler turns each row's one or two
  /// zeros into a call to memset, costly for so few floats.
  @inline(__always)
  private func zeroPaddingColumns(_ p: UnsafeMutablePointer<Float>) {
    for x in 0..<zeroLeft {
      for y in 0..<height { p[y * width + x] = 0 }
    }
    for x in zeroRight..<width {
      for y in 0..<height { p[y * width + x] = 0 }
    }
  }
}

/// Where each kernel tap reads from, for output planes of at most `maxPixels` pixels
/// (GoogLeNet's, ResNet's and DenseNet's 4x4 to 1x1 at 32 px): `sources[t * P + p]` is the
/// input index (within the plane) that tap `t = ki * kw + kj` multiplies at output pixel `p`,
/// or -1 where it falls in the padding. Unfolding such planes a kernel row at a time copied
/// one to four floats per call to memmove and memset; with the table, a row of the
/// unfolding is one loop over its pixels, for any stride and padding. The table depends on
/// the plane, kernel, stride and padding, not on the channels.
struct SmallPlaneTaps {
  static let maxPixels = 16
  let sources: [Int32]

  /// The table for `g` when its output plane has at most `maxPixels` pixels, else nil.
  static func forSmallPlane(_ g: ConvGeometry) -> SmallPlaneTaps? {
    g.outPixels <= maxPixels ? SmallPlaneTaps(g) : nil
  }

  init(_ g: ConvGeometry) {
    var sources = [Int32](repeating: -1, count: g.kernelH * g.kernelW * g.outPixels)
    for ki in 0..<g.kernelH {
      for kj in 0..<g.kernelW {
        for y in 0..<g.outH {
          let iy = y * g.strideH - g.padH + ki
          for x in 0..<g.outW {
            let ix = x * g.strideW - g.padW + kj
            if iy >= 0 && iy < g.height && ix >= 0 && ix < g.width {
              sources[((ki * g.kernelW + kj) * g.outH + y) * g.outW + x] = Int32(iy * g.width + ix)
            }
          }
        }
      }
    }
    self.sources = sources
  }

  func withSources<R>(_ body: (UnsafePointer<Int32>) -> R) -> R {
    sources.withUnsafeBufferPointer { body($0.baseAddress!) }
  }
}
