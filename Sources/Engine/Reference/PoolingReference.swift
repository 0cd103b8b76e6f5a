/// Max and average pooling: the references for `maxPool2d` and `avgPool2d`.
///
/// Window `(i, j)` of a plane covers rows `i·sh - ph ..< i·sh - ph + kh` and the matching
/// columns. Max pooling takes the largest element of the window that lies on the image
/// (padding never wins), the first in row order on a tie, and its backward pass hands each
/// output's gradient to that one element. Average pooling divides the window's sum by
/// `kh · kw` (padding counts as zeros, PyTorch's default), and hands each output's gradient,
/// divided likewise, to every element of its window.
///
/// The fast versions (`Ops/Pooling.swift`) keep the winners' offsets from the forward pass,
/// and take small planes sixteen at a time in vector lanes.
extension Reference {
  /// - input `[N, C, H, W]`; returns `[N, C, outH, outW]`, `outH = (H + 2 ph - kh) / sh + 1`.
  public static func maxPool2d(
    _ x: Tensor, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int) = (0, 0)
  ) -> Tensor {
    let windows = PoolWindows(x, kernel, stride, padding)
    return windows.reduce { elements in Double(x.data[windows.winner(x, elements)]) }
  }

  /// The input's gradient, given the output's (`dy`, `[N, C, outH, outW]`).
  public static func maxPool2dBackward(
    _ x: Tensor, outputGradient dy: Tensor, kernel: (Int, Int), stride: (Int, Int),
    padding: (Int, Int) = (0, 0)
  ) -> Tensor {
    let windows = PoolWindows(x, kernel, stride, padding)
    return windows.spread(dy) { elements, g, dx in dx[windows.winner(x, elements)] += g }
  }

  /// - input `[N, C, H, W]`; returns `[N, C, outH, outW]`.
  public static func avgPool2d(
    _ x: Tensor, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int) = (0, 0)
  ) -> Tensor {
    let size = Double(kernel.0 * kernel.1)
    return PoolWindows(x, kernel, stride, padding).reduce { elements in
      elements.reduce(0.0) { $0 + Double(x.data[$1]) } / size
    }
  }

  /// The input's gradient, given the output's (`dy`, `[N, C, outH, outW]`).
  public static func avgPool2dBackward(
    _ x: Tensor, outputGradient dy: Tensor, kernel: (Int, Int), stride: (Int, Int),
    padding: (Int, Int) = (0, 0)
  ) -> Tensor {
    let size = Double(kernel.0 * kernel.1)
    return PoolWindows(x, kernel, stride, padding).spread(dy) { elements, g, dx in
      for e in elements { dx[e] += g / size }
    }
  }
}

/// The elements each pooling window covers, for one input's shape.
struct PoolWindows {
  let input, output: NCHW
  let kernel, stride, padding: (Int, Int)

  init(_ x: Tensor, _ kernel: (Int, Int), _ stride: (Int, Int), _ padding: (Int, Int)) {
    precondition(x.rank == 4, "pooling expects [N, C, H, W], got \(x.shape)")
    input = NCHW(x.shape)
    output = NCHW(
      input.n, input.c, (input.h + 2 * padding.0 - kernel.0) / stride.0 + 1,
      (input.w + 2 * padding.1 - kernel.1) / stride.1 + 1)
    (self.kernel, self.stride, self.padding) = (kernel, stride, padding)
  }

  /// Calls `body(output offset, input offsets)` for every window, its elements on the image
  /// in row order.
  func forEachWindow(_ body: (Int, [Int]) -> Void) {
    for b in 0..<output.n {
      for c in 0..<output.c {
        for i in 0..<output.h {
          for j in 0..<output.w {
            var elements: [Int] = []
            for u in 0..<kernel.0 {
              let iy = i * stride.0 - padding.0 + u
              guard iy >= 0 && iy < input.h else { continue }
              for v in 0..<kernel.1 {
                let ix = j * stride.1 - padding.1 + v
                if ix >= 0 && ix < input.w { elements.append(input(b, c, iy, ix)) }
              }
            }
            body(output(b, c, i, j), elements)
          }
        }
      }
    }
  }

  /// The output: `value(elements)` for every window.
  func reduce(_ value: ([Int]) -> Double) -> Tensor {
    var y = [Float](repeating: 0, count: output.count)
    forEachWindow { out, elements in y[out] = Float(value(elements)) }
    return Tensor(y, shape: output.shape)
  }

  /// The input's gradient: `share(elements, dy[window], &dx)` hands each window's gradient
  /// to the elements it covers.
  func spread(_ dy: Tensor, _ share: ([Int], Double, inout [Double]) -> Void) -> Tensor {
    var dx = [Double](repeating: 0, count: input.count)
    forEachWindow { out, elements in share(elements, Double(dy.data[out]), &dx) }
    return Tensor(dx.map { Float($0) }, shape: input.shape)
  }

  /// The window's largest element, the first in row order on a tie.
  func winner(_ x: Tensor, _ elements: [Int]) -> Int {
    var best = elements[0]
    for e in elements.dropFirst() where x.data[e] > x.data[best] { best = e }
    return best
  }
}
