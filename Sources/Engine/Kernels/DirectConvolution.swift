/// The forward pass of an unpadded stride-1 convolution with few output channels (LeNet's
/// two: 1 -> 6 and 6 -> 16 channels, 5x5), computed in place from the input rather than
/// through an unfolding and a GEMM.
///
/// With six or sixteen output rows, a GEMM over the unfolding does little work per float
/// it reads, and the unfolding itself (25 or 150 rows per image) is written and read back
/// once per pass: store-bound. Here each tap
/// of the kernel reads its eight-pixel runs of the input where they lie: for a tile of four
/// output channels by three runs of eight output pixels, twelve vector accumulators, every
/// tap costs three loads, four broadcasts and twelve fused multiply-adds, and nothing is
/// written but the output.
///
/// Output rows must be whole vectors (`outW` a multiple of 8: LeNet's 24 and 8); the
/// backward pass is `convBackward`'s, as for any convolution. `ForwardReferenceTests`
/// holds it to the naive loops.
enum DirectConvolution {
  /// Output channels a tile computes at once, and runs of eight output pixels.
  static let tileChannels = 4, tileRuns = 3

  /// Also not for 1x1 kernels: a pointwise convolution needs no unfolding anyway, and its
  /// plain GEMM is OpenBLAS's best case.
  static func applies(_ g: ConvGeometry, outChannels o: Int) -> Bool {
    g.isUnpaddedStrideOne && g.kernelH * g.kernelW > 1 && g.outW % 8 == 0 && o <= 32
      && g.patchSize <= 512
  }

  /// `y = conv(x, w) + bias` for `images` images (activation left to the caller).
  static func forward(
    _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    _ g: ConvGeometry, outChannels o: Int, images n: Int, into y: UnsafeMutablePointer<Float>
  ) {
    let k = g.patchSize, kk = g.kernelH * g.kernelW
    let padded = (o + tileChannels - 1) / tileChannels * tileChannels
    // Weights tap-major, `[k, padded]`, the channels past `o` zero: a tile's four weights of
    // a tap are consecutive. Then each tap's offset in an image, and each run's, in the
    // input and in an output plane.
    let runsPerRow = g.outW / 8, runs = g.outH * runsPerRow
    let weights = Tensor(uninitializedShape: [k * padded])
    let wt = weights.data
    for t in 0..<k {
      for oc in 0..<padded { wt[t * padded + oc] = oc < o ? w[oc * k + t] : 0 }
    }
    let tapOffset = UnsafeMutablePointer<Int>.allocate(capacity: k + 2 * runs)
    defer { tapOffset.deallocate() }
    for t in 0..<k {
      let (c, ki, kj) = (t / kk, (t % kk) / g.kernelW, t % g.kernelW)
      tapOffset[t] = c * g.inPixels + ki * g.width + kj
    }
    let runInput = tapOffset + k, runOutput = runInput + runs
    for r in 0..<runs {
      let (row, x0) = (r / runsPerRow, (r % runsPerRow) * 8)
      runInput[r] = row * g.width + x0
      runOutput[r] = row * g.outW + x0
    }
    let p = (x, UnsafePointer(wt), UnsafePointer(tapOffset),
                                 UnsafePointer(runInput), UnsafePointer(runOutput), bias, y)
    let (inImage, outPlane) = (g.channels * g.inPixels, g.outPixels)
    // `weights` is read through `wt` only: kept alive to the end of the loops.
    defer { withExtendedLifetime(weights) {} }
    parallelRanges(n) { images in
      let (x, wt, tapOffset, runInput, runOutput, bias, y) = p
      for b in images {
        let xb = x + b * inImage, yb = y + b * o * outPlane
        for first in stride(from: 0, to: padded, by: tileChannels) {
          @inline(__always) func start(_ i: Int) -> SIMD8<Float> {
            SIMD8(repeating: first + i < o ? bias?[first + i] ?? 0 : 0)
          }
          var r = 0
          while r < runs {
            // A last tile of fewer runs repeats its last run: the same values, stored twice.
            let (r0, r1, r2) = (r, min(r + 1, runs - 1), min(r + 2, runs - 1))
            let (i0, i1, i2) = (runInput[r0], runInput[r1], runInput[r2])
            var a00 = start(0), a01 = a00, a02 = a00
            var a10 = start(1), a11 = a10, a12 = a10
            var a20 = start(2), a21 = a20, a22 = a20
            var a30 = start(3), a31 = a30, a32 = a30
            for t in 0..<k {
              let src = UnsafeRawPointer(xb + tapOffset[t])
              let x0 = src.loadUnaligned(fromByteOffset: 4 * i0, as: SIMD8<Float>.self)
              let x1 = src.loadUnaligned(fromByteOffset: 4 * i1, as: SIMD8<Float>.self)
              let x2 = src.loadUnaligned(fromByteOffset: 4 * i2, as: SIMD8<Float>.self)
              let tw = wt + t * padded + first
              let w0 = SIMD8<Float>(repeating: tw[0])
              a00.addProduct(w0, x0)
              a01.addProduct(w0, x1)
              a02.addProduct(w0, x2)
              let w1 = SIMD8<Float>(repeating: tw[1])
              a10.addProduct(w1, x0)
              a11.addProduct(w1, x1)
              a12.addProduct(w1, x2)
              let w2 = SIMD8<Float>(repeating: tw[2])
              a20.addProduct(w2, x0)
              a21.addProduct(w2, x1)
              a22.addProduct(w2, x2)
              let w3 = SIMD8<Float>(repeating: tw[3])
              a30.addProduct(w3, x0)
              a31.addProduct(w3, x1)
              a32.addProduct(w3, x2)
            }
            let (o0, o1, o2) = (runOutput[r0], runOutput[r1], runOutput[r2])
            @inline(__always) func store(_ i: Int, _ v0: SIMD8<Float>, _ v1: SIMD8<Float>,
                                         _ v2: SIMD8<Float>) {
              guard first + i < o else { return }
              let plane = UnsafeMutableRawPointer(yb + (first + i) * outPlane)
              plane.storeBytes(of: v0, toByteOffset: 4 * o0, as: SIMD8<Float>.self)
              plane.storeBytes(of: v1, toByteOffset: 4 * o1, as: SIMD8<Float>.self)
              plane.storeBytes(of: v2, toByteOffset: 4 * o2, as: SIMD8<Float>.self)
            }
            store(0, a00, a01, a02)
            store(1, a10, a11, a12)
            store(2, a20, a21, a22)
            store(3, a30, a31, a32)
            r += tileRuns
          }
        }
      }
    }
  }
}
