import COpenBLAS
import Foundation

/// Row-major single-precision matrix product through OpenBLAS:
/// `C = alpha * op(A) * op(B) + beta * C`, with op(A) of shape m×k and op(B) k×n.
///
/// OpenBLAS runs single-threaded (see `ComputeThreads.set`); large products
/// are split here into one block of C per thread. OpenBLAS's own threads
/// spin in `sched_yield` between calls, which on two cores starved our
/// element-wise loops (a quarter of all cycles in a LeNet profile).
func gemm(
  transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
  alpha: Float = 1, _ a: UnsafePointer<Float>, lda: Int,
  _ b: UnsafePointer<Float>, ldb: Int,
  beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int
) {
  if m == 0 || n == 0 { return }
  let threads = ComputeThreads.count
  // Below ~1 M multiply-adds a second thread costs more than it brings.
  let splitColumns = n >= m
  let extent = splitColumns ? n : m
  let parts = insideParallelRegion || m * n * k < (1 << 20) ? 1 : min(threads, extent / 16)
  if parts <= 1 {
    sgemmCall(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    return
  }
  nonisolated(unsafe) let pointers = (a, b, c)
  DispatchQueue.concurrentPerform(iterations: parts) { t in
    let (a, b, c) = pointers
    // Block boundaries on multiples of 16 keep each block's stores aligned.
    let lo = (extent * t / parts) & ~15
    let hi = t == parts - 1 ? extent : (extent * (t + 1) / parts) & ~15
    if hi <= lo { return }
    if splitColumns {
      let bBlock = transB ? b + lo * ldb : b + lo
      sgemmCall(transA, transB, m, hi - lo, k, alpha, a, lda, bBlock, ldb, beta, c + lo, ldc)
    } else {
      let aBlock = transA ? a + lo : a + lo * lda
      sgemmCall(transA, transB, hi - lo, n, k, alpha, aBlock, lda, b, ldb, beta, c + lo * ldc, ldc)
    }
  }
}

/// `cblas_sgemm` such that equal columns of op(B) give bit-equal columns of C.
///
/// OpenBLAS computes the last `n mod 4` columns of a row-major C with another kernel than
/// the rest, whose sums round differently. In a convolution the columns are output positions:
/// windows that hold the same numbers (a uniform background) would come out a rounding apart,
/// and the max pooling after them would pick a winner by rounding instead of taking the first
/// of equal values, as exact arithmetic and PyTorch's oneDNN do. So those columns are computed
/// again with the last four, through the main kernel, and copied over.
private func sgemmCall(
  _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
  _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
  _ c: UnsafeMutablePointer<Float>, _ ldc: Int
) {
  let rest = n % 4
  guard rest != 0, n > 4 else {
    sgemmBLAS(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    return
  }
  sgemmBLAS(transA, transB, m, n - rest, k, alpha, a, lda, b, ldb, beta, c, ldc)
  let lastFour = transB ? b + (n - 4) * ldb : b + (n - 4)
  withUnsafeTemporaryAllocation(of: Float.self, capacity: m * 4) { buffer in
    let t = buffer.baseAddress!
    sgemmBLAS(transA, transB, m, 4, k, alpha, a, lda, lastFour, ldb, 0, t, 4)
    // OpenBLAS scales C by beta before it adds the product: the same two roundings.
    for i in 0..<m {
      for j in 0..<rest {
        let dst = c + i * ldc + n - rest + j, v = t[i * 4 + 4 - rest + j]
        dst.pointee = beta == 0 ? v : beta == 1 ? dst.pointee + v : beta * dst.pointee + v
      }
    }
  }
}

@inline(__always)
private func sgemmBLAS(
  _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
  _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
  _ c: UnsafeMutablePointer<Float>, _ ldc: Int
) {
  cblas_sgemm(
    CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c,
    blasint(ldc))
}
