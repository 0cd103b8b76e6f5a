/// Vector helpers for reductions: the compiler keeps the order of Float
/// additions, so a scalar sum loop is never vectorised (platform-notes.md).

@inline(__always)
func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
  UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
  UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// Copies `V.scalarCount` floats with one vector load and store (SIMD8, SIMD4).
@inline(__always)
func copyVector<V: SIMD>(_ type: V.Type, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>)
where V.Scalar == Float {
  UnsafeMutableRawPointer(dst).storeBytes(of: UnsafeRawPointer(src).loadUnaligned(as: V.self), as: V.self)
}

/// Sum of `n` contiguous floats.
@inline(__always)
func vectorSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
  var a = SIMD16<Float>(), b = SIMD16<Float>()
  var i = 0
  while i + 32 <= n {
    a += load16(p + i)
    b += load16(p + i + 16)
    i += 32
  }
  if i + 16 <= n {
    a += load16(p + i)
    i += 16
  }
  var s = (a + b).sum()
  while i < n {
    s += p[i]
    i += 1
  }
  return s
}

/// Sums of `p[i] - shift` and of `(p[i] - shift)^2`, in one pass.
@inline(__always)
func vectorShiftedMoments(_ p: UnsafePointer<Float>, _ n: Int, shift: Float) -> (Float, Float) {
  var s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), q1 = SIMD16<Float>(), q2 = SIMD16<Float>()
  let m = SIMD16<Float>(repeating: shift)
  var i = 0
  while i + 32 <= n {
    let x = load16(p + i) - m
    let y = load16(p + i + 16) - m
    s1 += x
    s2 += y
    q1.addProduct(x, x)
    q2.addProduct(y, y)
    i += 32
  }
  if i + 16 <= n {
    let x = load16(p + i) - m
    s1 += x
    q1.addProduct(x, x)
    i += 16
  }
  var s = (s1 + s2).sum(), q = (q1 + q2).sum()
  while i < n {
    let d = p[i] - shift
    s += d
    q += d * d
    i += 1
  }
  return (s, q)
}

/// Sum of `p[i] * q[i]`.
@inline(__always)
func vectorDot(_ p: UnsafePointer<Float>, _ q: UnsafePointer<Float>, _ n: Int) -> Float {
  var a = SIMD16<Float>(), b = SIMD16<Float>()
  var i = 0
  while i + 32 <= n {
    a.addProduct(load16(p + i), load16(q + i))
    b.addProduct(load16(p + i + 16), load16(q + i + 16))
    i += 32
  }
  if i + 16 <= n {
    a.addProduct(load16(p + i), load16(q + i))
    i += 16
  }
  var s = (a + b).sum()
  while i < n {
    s += p[i] * q[i]
    i += 1
  }
  return s
}

/// e^x for 16 lanes: x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-6
/// polynomial, 2^n by building the exponent bits. Relative error below 2e-7;
/// inputs are clamped to [-87, 88] (no infinities, no denormals), which
/// saturates sigmoid as float32 does anyway.
///
/// n is found with the "magic number" trick (adding 1.5·2^23 + 127 leaves
/// n + 127 in the low mantissa bits) because the generic SIMD float-to-int
/// conversion is not vectorised.
@inline(__always)
func vectorExp(_ v: SIMD16<Float>) -> SIMD16<Float> {
  let x = pointwiseMax(pointwiseMin(v, SIMD16(repeating: 88)), SIMD16(repeating: -87))
  let magic = SIMD16<Float>(repeating: 12_582_912 + 127)
  let t = x * 1.442_695_04 + magic
  let n = t - magic
  // ln 2 split in two so that x - n·ln2 keeps its low bits.
  var r = x - n * 0.693_145_75
  r = r - n * 1.428_606_8e-6
  var p = SIMD16<Float>(repeating: 1.0 / 720)
  p = p * r + 1.0 / 120
  p = p * r + 1.0 / 24
  p = p * r + 1.0 / 6
  p = p * r + 0.5
  p = p * r + 1
  p = p * r + 1
  let exponent = unsafeBitCast(t, to: SIMD16<UInt32>.self) &<< 23
  return p * unsafeBitCast(exponent, to: SIMD16<Float>.self)
}

/// `out[i] = 1 / (1 + e^-x[i])` over `count` elements.
func vectorSigmoid(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ count: Int) {
  var i = 0
  while i + 16 <= count {
    store16(1 / (1 + vectorExp(-load16(x + i))), out + i)
    i += 16
  }
  if i < count {
    var tail = SIMD16<Float>(repeating: 0)
    for j in 0..<(count - i) { tail[j] = x[i + j] }
    let y = 1 / (1 + vectorExp(-tail))
    for j in 0..<(count - i) { out[i + j] = y[j] }
  }
}

/// `vectorSigmoid` over `count` elements, split across threads in blocks of 16.
func parallelSigmoid(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
  let p = (x, out)
  parallelRanges(count / 16, minPerThread: parallelElementThreshold / 16) { r in
    let (x, y) = p
    let end = r.upperBound == count / 16 ? count : r.upperBound * 16
    vectorSigmoid(x + r.lowerBound * 16, y + r.lowerBound * 16, end - r.lowerBound * 16)
  }
  if count < 16 { vectorSigmoid(x, out, count) }
}

/// `Σ g[i]` and `Σ g[i] * x[i]`, where `g[i] = dy[i]` if `x[i] * scale + shift > 0` and 0
/// otherwise: the sums a batch norm's backward pass needs when a ReLU follows it, with the
/// ReLU's derivative taken from the batch norm's input (the same expression as its forward
/// pass), so that neither its output nor a masked copy of the gradient has to be read.
@inline(__always)
func reluMaskedSums(
  _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, scale: Float, shift: Float
) -> (Float, Float) {
  var s = SIMD16<Float>(), d = SIMD16<Float>()
  let zero = SIMD16<Float>()
  var i = 0
  while i + 16 <= n {
    let v = load16(x + i)
    let g = zero.replacing(with: load16(dy + i), where: v * scale + shift .> zero)
    s += g
    d.addProduct(g, v)
    i += 16
  }
  var sum = s.sum(), dot = d.sum()
  while i < n {
    if x[i] * scale + shift > 0 {
      sum += dy[i]
      dot += dy[i] * x[i]
    }
    i += 1
  }
  return (sum, dot)
}
