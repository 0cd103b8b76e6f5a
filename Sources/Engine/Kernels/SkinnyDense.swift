import CDenseKernel

/// The forward pass of a fully connected layer with a large weight for a batch of 33 to 64
/// rows (AlexNet's 4096 x 4096 layer at the `reproduce` sizes), with AVX-512 where OpenBLAS
/// would pack the whole weight for 64 rows of work per value.
///
/// The batch is transposed once to `[inFeatures, 64]` (1 MiB at 4096 features, kept in L2);
/// then each tile of 6 output features streams its 6 weight rows from memory in order and
/// keeps their products with the 64 rows in 24 vector accumulators: per input feature, four
/// loads of the transposed batch, six broadcasts and 24 fused multiply-adds
/// (`dense_kernel_forward` in `CDenseKernel`). The product comes out transposed, and the
/// threads, each with its own output features, write it back with the bias and activation.
/// The backward pass stays `dense`'s GEMMs. `ForwardReferenceTests` holds it to the naive
/// loops on AVX-512 CPUs.
enum SkinnyDense {
  /// AVX-512F, as for the direct convolution.
  static let available = ChannelVectorConvolution.available
  static let rows = Int(DENSE_KERNEL_ROWS)
  static let tileRows = Int(DENSE_KERNEL_TILE_ROWS)

  /// Batches of more than half the kernel's 64 lanes (fewer would leave most of each vector
  /// idle), and weights of at least a million values, whose streaming is the whole cost.
  static func applies(rows n: Int, inFeatures: Int, outFeatures: Int) -> Bool {
    available && n > rows / 2 && n <= rows && inFeatures * outFeatures >= 1 << 20
  }

  /// `y = act(x · wᵀ + bias)` for `x` `[n, inFeatures]` and `w` `[outFeatures, inFeatures]`,
  /// into `y` `[n, outFeatures]`.
  static func forward(
    _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    activation: Activation, rows n: Int, inFeatures inF: Int, outFeatures outF: Int,
    into y: UnsafeMutablePointer<Float>
  ) {
    let lanes = rows, tileRows = tileRows
    Scratch.withFloats(inF * lanes + outF * lanes) { buffer in
      let xt = buffer, yt = buffer + inF * lanes
      let threads = ComputeThreads.count
      let captured = (x, w, bias, y, xt, yt)
      parallelParts(inF, parts: threads) { _, features in
        let (x, _, _, _, xt, _) = captured
        dense_kernel_transpose_input(
          x, Int32(n), Int32(inF), Int32(features.lowerBound), Int32(features.upperBound), xt)
      }
      parallelParts((outF + tileRows - 1) / tileRows, parts: threads) { _, tiles in
        let (_, w, bias, y, xt, yt) = captured
        let first = tiles.lowerBound * tileRows, end = min(tiles.upperBound * tileRows, outF)
        GEMMClock.timing {
          dense_kernel_forward(xt, Int32(inF), w, Int32(outF), Int32(first), Int32(end), yt)
        }
        for r in 0..<n {
          let row = y + r * outF
          for o in first..<end { row[o] = activation.apply(yt[o * lanes + r] + (bias?[o] ?? 0)) }
        }
      }
    }
  }
}
