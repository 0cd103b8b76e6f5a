/// A convolution on an input plane of fewer pixels than its kernel has live taps, computed as
/// the dense layer it is: `[N, C, H, W]` read as an `N x (C·H·W)` matrix, times the
/// transpose of the *plane matrix* `[O·outH·outW, C·H·W]`, gives `[N, O, outH, outW]` as an
/// `N x (O·outH·outW)` matrix.
///
/// Entry `((o, p), (c, q))` of the plane matrix is the kernel tap that output pixel `p`
/// reads input pixel `q` through, `w[o, c, ky, kx]`, or zero where no tap does. A 3x3
/// kernel with padding 1 on a 2x2 plane (GoogLeNet's fourth stage, ResNet-18's third and
/// DenseNet's third block at 32 px) reads each of the 4 input pixels once per output pixel:
/// 16 multiply-adds per output and input channel, where the unfolded convolution does 36,
/// 20 of them on padding. The product needs no unfolding and no channel-major gather and
/// scatter, and the input and output are already the matrices it reads and writes.
///
/// The plane matrix is `H·W · outH·outW / (kh·kw)` times the size of the kernel, so the
/// path is taken only while the plane is smaller than the live kernel (`applies`); a 3x3
/// plane under a 3x3 kernel (AlexNet's last layers at 67 px) would spend as many
/// multiplies, on a matrix nine times the kernel's size.
enum PlaneMatrixConvolution {
  /// Whether `g` (its kernel cut to the live window, `live`) is cheaper as a plane matrix.
  /// A 1x1 plane under a 1x1 live window is already a dense layer (`ConvPlan.singlePixel`).
  static func applies(_ g: ConvGeometry, live: ConvGeometry) -> Bool {
    g.inPixels < live.kernelH * live.kernelW
  }

  /// For output pixel `p` and input pixel `q`, the offset `ky * kw + kx` of the tap that
  /// connects them within one `[kh, kw]` kernel plane, or -1: `outPixels x inPixels` entries.
  static func tapTable(_ g: ConvGeometry) -> [Int] {
    var table = [Int](repeating: -1, count: g.outPixels * g.inPixels)
    for oy in 0..<g.outH {
      for ox in 0..<g.outW {
        for iy in 0..<g.height {
          for ix in 0..<g.width {
            let ky = iy - oy * g.strideH + g.padH, kx = ix - ox * g.strideW + g.padW
            guard (0..<g.kernelH).contains(ky) && (0..<g.kernelW).contains(kx) else { continue }
            table[(oy * g.outW + ox) * g.inPixels + iy * g.width + ix] = ky * g.kernelW + kx
          }
        }
      }
    }
    return table
  }

  /// The plane matrix's nonzero entries within one output and input channel pair: for
  /// each, the offset of its tap in a `[kh, kw]` kernel plane and of its entry from the
  /// pair's first, `p * channels * inPixels + q`. One channel pair's entries are then a
  /// short gather from one kernel plane, the same for every pair.
  struct Entries {
    var taps: [Int32] = []
    var offsets: [Int32] = []
    /// Whether some entries are zero (pixels no tap connects), which a new matrix must clear.
    var hasZeros = false

    init(_ g: ConvGeometry) {
      let table = PlaneMatrixConvolution.tapTable(g), row = g.channels * g.inPixels
      for p in 0..<g.outPixels {
        for q in 0..<g.inPixels {
          let tap = table[p * g.inPixels + q]
          if tap < 0 { hasZeros = true; continue }
          taps.append(Int32(tap))
          offsets.append(Int32(p * row + q))
        }
      }
    }

    /// Calls `body(kernelPlane, first, taps, offsets)` for each output and input channel
    /// pair: the offset of its `[kh, kw]` plane in `w` and of its first entry in the plane
    /// matrix, and the entries' taps and offsets. The output channels are split between the
    /// threads: each pair's kernel plane and matrix entries belong to it alone, so the
    /// threads never touch the same floats.
    func forEachChannelPair(
      _ g: ConvGeometry, outChannels: Int,
      _ body: (Int, Int, UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Int32>) -> Void
    ) {
      let (c, kk, inP, outP) = (g.channels, g.kernelH * g.kernelW, g.inPixels, g.outPixels)
      taps.withUnsafeBufferPointer { taps in
        offsets.withUnsafeBufferPointer { offsets in
          parallelRanges(outChannels, minPerThread: max(1, 16384 / max(c * inP * outP, 1))) { os in
            for o in os {
              for ci in 0..<c { body((o * c + ci) * kk, o * outP * c * inP + ci * inP, taps, offsets) }
            }
          }
        }
      }
    }
  }

  /// Writes the plane matrix of kernel `w` (`[O, C, kh, kw]`) into `matrix`
  /// (`[O·outPixels, C·inPixels]`).
  static func spread(
    _ w: UnsafePointer<Float>, _ entries: Entries, _ g: ConvGeometry, outChannels o: Int,
    into matrix: UnsafeMutablePointer<Float>
  ) {
    if entries.hasZeros {
      matrix.update(repeating: 0, count: o * g.outPixels * g.channels * g.inPixels)
    }
    entries.forEachChannelPair(g, outChannels: o) { kernel, first, taps, offsets in
      let (src, dst) = (w + kernel, matrix + first)
      for e in 0..<taps.count { dst[Int(offsets[e])] = src[Int(taps[e])] }
    }
  }

  /// `conv2d` on a checked geometry whose FLOPs are already counted.
  ///
  /// The plane matrix lives in the scratch workspace (in a `predict` block, in the
  /// `PredictionCache`) and is spread again in the backward pass rather than kept on the tape: it depends on the weights alone, and kept, it would
  /// count as activation memory (GoogLeNet's 5x5 layers on 3x3 planes at 96 px would hold
  /// 3 MiB, ResNet-18's last stage at 64 px 48 MiB).
  static func convolve(
    _ x: Tensor, _ w: Tensor, bias b: Tensor?, _ g: ConvGeometry, activation: Activation
  ) -> Tensor {
    let n = x.shape[0], o = w.shape[0]
    let (rows, columns) = (o * g.outPixels, g.channels * g.inPixels)
    let entries = Entries(g)
    let y = Tensor(uninitializedShape: [n, o, g.outH, g.outW])
    func multiply(_ matrix: UnsafePointer<Float>) {
      gemm(transB: true, m: n, n: rows, k: columns, x.data, lda: columns, matrix, ldb: columns,
           y.data, ldc: rows)
    }
    if PredictionCache.isOpen {
      let matrix = PredictionCache.value(of: w, .planeMatrix, g) {
        let m = Tensor(uninitializedShape: [rows, columns])
        spread(w.data, entries, g, outChannels: o, into: m.data)
        return m
      }
      multiply(matrix.data)
    } else {
      Scratch.withFloats(rows * columns) { matrix in
        spread(w.data, entries, g, outChannels: o, into: matrix)
        multiply(matrix)
      }
    }
    let biasPointer = b.map { UnsafePointer($0.data) }
    biasActivate(y.data, images: n, channels: o, pixels: g.outPixels, bias: biasPointer, activation)
    return recordConvolution(y, x, w, bias: b, activation: activation) { dz in
      guard w.requiresGrad || x.requiresGrad else { return }
      // One buffer serves the plane matrix's gradient, then the plane matrix itself.
      Scratch.withFloats(rows * columns) { matrix in
        if w.requiresGrad {
          gemm(transA: true, m: rows, n: columns, k: n, dz.data, lda: rows, x.data, ldb: columns,
               matrix, ldc: columns)
          let (dm, dw) = (UnsafePointer(matrix), w.gradBuffer())
          entries.forEachChannelPair(g, outChannels: o) { kernel, first, taps, offsets in
            let (src, dst) = (dm + first, dw + kernel)
            for e in 0..<taps.count { dst[Int(taps[e])] += src[Int(offsets[e])] }
          }
        }
        if x.requiresGrad {
          spread(w.data, entries, g, outChannels: o, into: matrix)
          gemm(m: n, n: columns, k: rows, dz.data, lda: rows, matrix, ldb: columns, beta: 1,
               x.gradBuffer(), ldc: columns)
        }
      }
    }
  }
}
