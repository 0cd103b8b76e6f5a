import Foundation

// Differentiable element-wise arithmetic with NumPy broadcasting, and
// reductions over axes. Section 7.5 builds batch norm from these in a cell,
// so their gradients must compose correctly.

func broadcastResult(_ a: Tensor, _ b: Tensor, _ op: String) -> Tensor {
  guard let shape = BroadcastLoop.broadcastShape([a.shape, b.shape]) else {
    fatalError("cannot broadcast shapes \(a.shape) and \(b.shape) for \(op)")
  }
  return Tensor(uninitializedShape: shape)
}

extension Tensor {
  public static func + (a: Tensor, b: Tensor) -> Tensor {
    let out = broadcastResult(a, b, "+")
    broadcastBinary(AddFunction.self, a, b, into: out)
    let (da, db) = (a.gradientSlotIfRequired, b.gradientSlotIfRequired)
    return Autograd.record(out, [a, b]) { g in
      da?.accumulateBroadcast(g)
      db?.accumulateBroadcast(g)
    }
  }

  public static func - (a: Tensor, b: Tensor) -> Tensor {
    let out = broadcastResult(a, b, "-")
    broadcastBinary(SubtractFunction.self, a, b, into: out)
    let (da, db) = (a.gradientSlotIfRequired, b.gradientSlotIfRequired)
    return Autograd.record(out, [a, b]) { g in
      da?.accumulateBroadcast(g)
      if let db {
        let neg = Tensor(uninitializedShape: g.shape)
        mapElements(g.data, neg.data, g.count) { -$0 }
        db.accumulateBroadcast(neg)
      }
    }
  }

  public static func * (a: Tensor, b: Tensor) -> Tensor {
    let out = broadcastResult(a, b, "*")
    broadcastBinary(MultiplyFunction.self, a, b, into: out)
    let (da, db) = (a.gradientSlotIfRequired, b.gradientSlotIfRequired)
    return Autograd.record(out, [a, b]) { g in
      if let da {
        let t = Tensor(uninitializedShape: g.shape)
        broadcastBinary(MultiplyFunction.self, g, b, into: t)
        da.accumulateBroadcast(t)
      }
      if let db {
        let t = Tensor(uninitializedShape: g.shape)
        broadcastBinary(MultiplyFunction.self, g, a, into: t)
        db.accumulateBroadcast(t)
      }
    }
  }

  public static func / (a: Tensor, b: Tensor) -> Tensor {
    let out = broadcastResult(a, b, "/")
    broadcastBinary(DivideFunction.self, a, b, into: out)
    let (da, db) = (a.gradientSlotIfRequired, b.gradientSlotIfRequired)
    // d(a/b)/db = -(a/b)/b, and out = a/b: reuse it (and keep it only when needed).
    let quotient = db == nil ? nil : out
    return Autograd.record(out, [a, b]) { g in
      let gOverB = Tensor(uninitializedShape: g.shape)
      broadcastBinary(DivideFunction.self, g, b, into: gOverB)
      da?.accumulateBroadcast(gOverB)
      if let db, let quotient {
        let t = Tensor(uninitializedShape: g.shape)
        broadcastBinary(MultiplyFunction.self, gOverB, quotient, into: t)
        mapElements(t.data, t.data, t.count) { -$0 }
        db.accumulateBroadcast(t)
      }
    }
  }

  public static prefix func - (a: Tensor) -> Tensor { Tensor(scalar: 0) - a }

  public static func + (a: Tensor, s: Float) -> Tensor { a + Tensor(scalar: s) }
  public static func + (s: Float, a: Tensor) -> Tensor { Tensor(scalar: s) + a }
  public static func - (a: Tensor, s: Float) -> Tensor { a - Tensor(scalar: s) }
  public static func - (s: Float, a: Tensor) -> Tensor { Tensor(scalar: s) - a }
  public static func * (a: Tensor, s: Float) -> Tensor { a * Tensor(scalar: s) }
  public static func * (s: Float, a: Tensor) -> Tensor { Tensor(scalar: s) * a }
  public static func / (a: Tensor, s: Float) -> Tensor { a / Tensor(scalar: s) }
  public static func / (s: Float, a: Tensor) -> Tensor { Tensor(scalar: s) / a }

  /// Applies `F` element-wise. Generic rather than closure-based, so that the
  /// loops are specialised and the function inlined into them.
  func unary<F: UnaryFunction>(_: F.Type) -> Tensor {
    let out = Tensor(uninitializedShape: shape)
    mapElements(data, out.data, count) { F.value($0) }
    guard let slot = gradientSlotIfRequired else { return out }
    // Keep the input only for a derivative that reads it: ReLU's reads the output, so the
    // batch norm before it can free its result.
    let input = F.derivativeReadsInput ? self : nil
    let n = count
    return Autograd.record(out, [self]) { g in
      let p = (input?.data ?? out.data, out.data, g.data, slot.buffer())
      parallelRanges(n, minPerThread: parallelElementThreshold) { r in
        let (x, y, g, dx) = p
        for i in r { dx[i] += g[i] * F.derivative(x: x[i], y: y[i]) }
      }
    }
  }

  public func sqrt() -> Tensor { unary(SquareRootFunction.self) }
  public func squared() -> Tensor { unary(SquareFunction.self) }
  public func exp() -> Tensor { unary(ExpFunction.self) }
  public func log() -> Tensor { unary(LogFunction.self) }
  public func relu() -> Tensor { unary(ReLUFunction.self) }
  public func sigmoid() -> Tensor {
    // The vector exponential makes this several times faster than `unary`'s scalar expf.
    let out = Tensor(uninitializedShape: shape)
    parallelSigmoid(data, out.data, count: count)
    let slot = gradientSlotIfRequired
    return Autograd.record(out, [self]) { g in
      guard let slot else { return }
      accumulateElements(g.data, out.data, into: slot.buffer(), g.count) { g, y in g * y * (1 - y) }
    }
  }
}

/// A differentiable scalar function; `derivative` gets the input and the output.
protocol UnaryFunction {
  static func value(_ x: Float) -> Float
  static func derivative(x: Float, y: Float) -> Float
  /// False when `derivative` reads only `y`; then the backward pass does not keep the input
  /// (and passes the output in its place).
  static var derivativeReadsInput: Bool { get }
}

extension UnaryFunction {
  static var derivativeReadsInput: Bool { true }
}

enum SquareRootFunction: UnaryFunction {
  @inline(__always) static func value(_ x: Float) -> Float { x.squareRoot() }
  @inline(__always) static func derivative(x: Float, y: Float) -> Float { 0.5 / y }
  static var derivativeReadsInput: Bool { false }
}
enum SquareFunction: UnaryFunction {
  @inline(__always) static func value(_ x: Float) -> Float { x * x }
  @inline(__always) static func derivative(x: Float, y: Float) -> Float { 2 * x }
}
enum ExpFunction: UnaryFunction {
  @inline(__always) static func value(_ x: Float) -> Float { Foundation.exp(x) }
  @inline(__always) static func derivative(x: Float, y: Float) -> Float { y }
  static var derivativeReadsInput: Bool { false }
}
enum LogFunction: UnaryFunction {
  @inline(__always) static func value(_ x: Float) -> Float { Foundation.log(x) }
  @inline(__always) static func derivative(x: Float, y: Float) -> Float { 1 / x }
}
enum ReLUFunction: UnaryFunction {
  @inline(__always) static func value(_ x: Float) -> Float { max(x, 0) }
  /// From the output: y > 0 exactly where x > 0.
  @inline(__always) static func derivative(x: Float, y: Float) -> Float { y > 0 ? 1 : 0 }
  static var derivativeReadsInput: Bool { false }
}

extension Tensor {
  /// Sum over `axes` (all axes when nil), keeping them as size 1 when `keepDims`.
  public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
    reduce(axes: axes, keepDims: keepDims, scale: 1)
  }

  /// Mean over `axes` (all axes when nil), keeping them as size 1 when `keepDims`.
  public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
    let axes = normalizedAxes(axes)
    let n = axes.reduce(1) { $0 * shape[$1] }
    return reduce(axes: axes, keepDims: keepDims, scale: 1 / Float(max(n, 1)))
  }

  /// Convenience for one axis.
  public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }
  public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

  func normalizedAxes(_ axes: [Int]?) -> [Int] {
    guard let axes else { return Array(0..<rank) }
    return Set(axes.map { a in
      let b = a < 0 ? a + rank : a
      require(b >= 0 && b < rank, "axis \(a) out of range for shape \(shape)")
      return b
    }).sorted()
  }

  func reduce(axes: [Int]?, keepDims: Bool, scale: Float) -> Tensor {
    let axes = normalizedAxes(axes)
    var kept = shape
    for a in axes { kept[a] = 1 }
    let outShape = keepDims ? kept : shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
    let out = Tensor(zeros: outShape)
    sumReduce(data, shape: shape, into: out.data, outShape: kept)
    if scale != 1 { mapElements(out.data, out.data, out.count) { $0 * scale } }
    let slot = gradientSlotIfRequired
    return Autograd.record(out, [self]) { g in
      guard let slot else { return }
      // Spread g back over the reduced axes: grad[i] += scale * g[reduced(i)].
      let gKept = Tensor(sharing: g, shape: kept)
      let scaled = scale == 1 ? gKept : gKept * scale
      _ = slot.buffer()
      broadcastBinary(AddFunction.self, slot.grad!, scaled, into: slot.grad!)
    }
  }

  /// The same elements with another shape; one dimension may be -1 (inferred).
  public func reshaped(_ newShape: [Int]) -> Tensor {
    var s = newShape
    if let i = s.firstIndex(of: -1) {
      let known = s.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
      require(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
      s[i] = count / known
    }
    require(s.reduce(1, *) == count, "cannot reshape \(shape) (\(count) elements) to \(newShape)")
    let out = Tensor(sharing: self, shape: s)
    let slot = gradientSlotIfRequired
    return Autograd.record(out, [self]) { g in
      guard let slot else { return }
      slot.accumulateBroadcast(Tensor(sharing: g, shape: slot.shape))
    }
  }

  /// Flattens all but the first dimension: `[N, ...] -> [N, rest]`.
  public func flattened() -> Tensor { reshaped([shape.first ?? 1, -1]) }
}
