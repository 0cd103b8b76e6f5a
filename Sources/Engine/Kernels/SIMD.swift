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

/// Sum of `(p[i] - shift)^2`, i.e. n times the variance about `shift`.
@inline(__always)
func vectorSumOfSquares(_ p: UnsafePointer<Float>, _ n: Int, shift: Float) -> Float {
  var a = SIMD16<Float>(), b = SIMD16<Float>()
  let m = SIMD16<Float>(repeating: shift)
  var i = 0
  while i + 32 <= n {
    let x = load16(p + i) - m
    let y = load16(p + i + 16) - m
    a.addProduct(x, x)
    b.addProduct(y, y)
    i += 32
  }
  if i + 16 <= n {
    let x = load16(p + i) - m
    a.addProduct(x, x)
    i += 16
  }
  var s = (a + b).sum()
  while i < n {
    let d = p[i] - shift
    s += d * d
    i += 1
  }
  return s
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
