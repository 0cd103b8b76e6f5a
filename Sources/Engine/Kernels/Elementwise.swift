/// Element-wise kernels over broadcast operands. Each operation is a type so
/// that the inner loops are specialised and vectorised per operation.

protocol BinaryFunction {
  static func apply(_ a: Float, _ b: Float) -> Float
}

enum AddFunction: BinaryFunction {
  @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a + b }
}
enum SubtractFunction: BinaryFunction {
  @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a - b }
}
enum MultiplyFunction: BinaryFunction {
  @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a * b }
}
enum DivideFunction: BinaryFunction {
  @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a / b }
}

/// Below this many elements an element-wise loop stays on one thread.
let parallelElementThreshold = 1 << 15

/// `out = f(a, b)` with broadcasting; `out` has the broadcast shape.
func broadcastBinary<F: BinaryFunction>(
  _: F.Type, _ a: Tensor, _ b: Tensor, into out: Tensor
) {
  let loop = BroadcastLoop(shape: out.shape, operands: [out.shape, a.shape, b.shape])
  let n = loop.innerCount
  let sa = loop.strides[1].last!, sb = loop.strides[2].last!
  let pa = a.data, pb = b.data, po = out.data
  let captured = (pa, pb, po)
  let perOuter = max(1, parallelElementThreshold / max(n, 1))
  parallelRanges(loop.outerCount, minPerThread: perOuter) { range in
    let (pa, pb, po) = captured
    loop.forEachOuter(range) { off in
      let o = po + off[0], x = pa + off[1], y = pb + off[2]
      if sa == 1 && sb == 1 {
        for i in 0..<n { o[i] = F.apply(x[i], y[i]) }
      } else if sa == 1 {
        let v = y[0]
        for i in 0..<n { o[i] = F.apply(x[i], v) }
      } else if sb == 1 {
        let v = x[0]
        for i in 0..<n { o[i] = F.apply(v, y[i]) }
      } else {
        let v = F.apply(x[0], y[0])
        for i in 0..<n { o[i] = v }
      }
    }
  }
}

/// Sums `x` into `out`, whose shape is `x`'s with some dimensions reduced to
/// 1 (or fewer leading dimensions): `out += sum over broadcast dims of x`.
/// This is both `sum(axes, keepdims: true)` and the gradient of broadcasting.
func sumReduce(_ x: UnsafePointer<Float>, shape: [Int], into out: UnsafeMutablePointer<Float>, outShape: [Int]) {
  let loop = BroadcastLoop(shape: shape, operands: [outShape, shape])
  let n = loop.innerCount
  let so = loop.strides[0].last!
  loop.forEachOuter(0..<loop.outerCount) { off in
    let o = out + off[0], p = x + off[1]
    if so == 0 {
      o[0] += vectorSum(p, n)
    } else {
      for i in 0..<n { o[i] += p[i] }
    }
  }
}

/// Applies `f` to every element of `x` into `out` (same count), on all cores when large.
@inline(__always)
func mapElements(
  _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ count: Int,
  _ f: (Float) -> Float
) {
  let captured = (x, out)
  parallelRanges(count, minPerThread: parallelElementThreshold) { r in
    let (x, out) = captured
    for i in r { out[i] = f(x[i]) }
  }
}

/// `out[i] = f(a[i], b[i])` over `count` elements, on all cores when large.
@inline(__always)
func zipElements(
  _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
  _ count: Int, _ f: (Float, Float) -> Float
) {
  let captured = (a, b, out)
  parallelRanges(count, minPerThread: parallelElementThreshold) { r in
    let (a, b, out) = captured
    for i in r { out[i] = f(a[i], b[i]) }
  }
}

/// `out[i] += f(a[i], b[i])`: gradients accumulate.
@inline(__always)
func accumulateElements(
  _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
  _ count: Int, _ f: (Float, Float) -> Float
) {
  let captured = (a, b, out)
  parallelRanges(count, minPerThread: parallelElementThreshold) { r in
    let (a, b, out) = captured
    for i in r { out[i] += f(a[i], b[i]) }
  }
}
