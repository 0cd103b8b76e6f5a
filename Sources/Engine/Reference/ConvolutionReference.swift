/// Convolution, as the book defines it (a cross-correlation): the reference for `conv2d`.
///
/// Output pixel `(i, j)` of channel `o` lays the kernel over the input with its first tap at
/// row `i·sh - ph`, column `j·sw - pw`; taps that fall on the padding read zero:
///
///     y[b, o, i, j] = bias[o] + Σ_c Σ_u Σ_v x[b, c, i·sh - ph + u, j·sw - pw + v] · w[o, c, u, v]
///
/// The fast version (`Ops/Convolution.swift`) unfolds the taps into a matrix (`im2col`) and
/// multiplies it with the weights in one GEMM per group of images.
extension Reference {
  /// - input `[N, C, H, W]`, weight `[O, C, kh, kw]`, bias `[O]` or nil.
  /// - returns `[N, O, outH, outW]`, `outH = (H + 2 ph - kh) / sh + 1` (likewise `outW`).
  public static func conv2d(
    _ x: Tensor, weight w: Tensor, bias b: Tensor?, stride: (Int, Int) = (1, 1),
    padding: (Int, Int) = (0, 0)
  ) -> Tensor {
    let taps = ConvolutionTaps(x, w, stride, padding)
    var y = [Double](repeating: 0, count: taps.output.count)
    for bi in 0..<taps.output.n {
      for o in 0..<taps.output.c {
        for i in 0..<taps.output.h {
          for j in 0..<taps.output.w {
            var sum = b.map { Double($0.data[o]) } ?? 0
            taps.forEach(i, j) { c, u, v, iy, ix in
              sum += Double(x.data[taps.input(bi, c, iy, ix)]) * Double(w.data[taps.kernel(o, c, u, v)])
            }
            y[taps.output(bi, o, i, j)] = sum
          }
        }
      }
    }
    return Tensor(y.map { Float($0) }, shape: taps.output.shape)
  }

  /// The gradients of `conv2d` given the output's gradient `dy` (`[N, O, outH, outW]`).
  /// Every product `x[b, c, iy, ix] · w[o, c, u, v]` that made `y[b, o, i, j]` passes
  /// `dy[b, o, i, j]` back to both factors:
  ///
  ///     dx[b, c, iy, ix] += dy[b, o, i, j] · w[o, c, u, v]
  ///     dw[o, c, u, v]   += dy[b, o, i, j] · x[b, c, iy, ix]
  ///     dbias[o]         += dy[b, o, i, j]
  ///
  /// - returns: gradients shaped like the input, the weight and the bias (`[O]`).
  public static func conv2dBackward(
    _ x: Tensor, weight w: Tensor, outputGradient dy: Tensor, stride: (Int, Int) = (1, 1),
    padding: (Int, Int) = (0, 0)
  ) -> (input: Tensor, weight: Tensor, bias: Tensor) {
    let taps = ConvolutionTaps(x, w, stride, padding)
    precondition(dy.shape == taps.output.shape, "dy \(dy.shape), output \(taps.output.shape)")
    var dx = [Double](repeating: 0, count: x.count)
    var dw = [Double](repeating: 0, count: w.count)
    var db = [Double](repeating: 0, count: taps.output.c)
    for bi in 0..<taps.output.n {
      for o in 0..<taps.output.c {
        for i in 0..<taps.output.h {
          for j in 0..<taps.output.w {
            let g = Double(dy.data[taps.output(bi, o, i, j)])
            db[o] += g
            taps.forEach(i, j) { c, u, v, iy, ix in
              let xi = taps.input(bi, c, iy, ix), wi = taps.kernel(o, c, u, v)
              dx[xi] += g * Double(w.data[wi])
              dw[wi] += g * Double(x.data[xi])
            }
          }
        }
      }
    }
    return (Tensor(dx.map { Float($0) }, shape: x.shape), Tensor(dw.map { Float($0) }, shape: w.shape),
            Tensor(db.map { Float($0) }, shape: [taps.output.c]))
  }
}

/// Which input pixel each kernel tap reads, for one convolution's shapes.
struct ConvolutionTaps {
  let input, kernel, output: NCHW
  let stride, padding: (Int, Int)

  init(_ x: Tensor, _ w: Tensor, _ stride: (Int, Int), _ padding: (Int, Int)) {
    precondition(x.rank == 4 && w.rank == 4 && w.shape[1] == x.shape[1], "x \(x.shape), w \(w.shape)")
    input = NCHW(x.shape)
    kernel = NCHW(w.shape)
    output = NCHW(
      input.n, kernel.n, (input.h + 2 * padding.0 - kernel.h) / stride.0 + 1,
      (input.w + 2 * padding.1 - kernel.w) / stride.1 + 1)
    (self.stride, self.padding) = (stride, padding)
  }

  /// Calls `body(c, u, v, iy, ix)` for every tap of output pixel `(i, j)` that lies on the
  /// image: channel `c`, kernel row and column `u`, `v`, input row and column `iy`, `ix`.
  func forEach(_ i: Int, _ j: Int, _ body: (Int, Int, Int, Int, Int) -> Void) {
    for c in 0..<input.c {
      for u in 0..<kernel.h {
        let iy = i * stride.0 - padding.0 + u
        guard iy >= 0 && iy < input.h else { continue }
        for v in 0..<kernel.w {
          let ix = j * stride.1 - padding.1 + v
          guard ix >= 0 && ix < input.w else { continue }
          body(c, u, v, iy, ix)
        }
      }
    }
  }
}
