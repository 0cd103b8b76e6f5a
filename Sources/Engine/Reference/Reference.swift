import Foundation

/// The engine's operations written the plain way: nested loops straight from each
/// definition, sums in `Double`, one thread, no unfolding, no vectors, no fused steps.
///
/// Read these first. Each fast kernel in `Ops/` computes what its reference here computes,
/// forward and backward, and differs only in how: memory layout, blocking into GEMMs,
/// threads, and work it skips because it is known to be zero. `ForwardReferenceTests` and
/// `BackwardReferenceTests` hold every fast path to these functions; the finite-difference
/// checks in `GradientCheckTests` hold the fast backward passes to the forward math.
///
/// Shapes follow the fast ops: images are `[N, C, H, W]`, row-major. Results are new
/// tensors that record no history.
public enum Reference {}

extension Reference {
  /// `act(z)` element by element.
  public static func activate(_ z: Tensor, _ act: Activation) -> Tensor {
    map(z) { v in
      switch act {
      case .none: v
      case .relu: max(v, 0)
      case .sigmoid: 1 / (1 + Foundation.exp(-v))
      }
    }
  }

  /// The gradient before an activation, from the gradient after it and the activation's
  /// output `y`: `dz = dy * act'(z)`, with relu' = 1 where `y > 0` and sigmoid' = y (1 - y).
  public static func activationBackward(
    _ act: Activation, output y: Tensor, outputGradient dy: Tensor
  ) -> Tensor {
    let yv = y.scalars
    return Tensor(dy.scalars.indices.map { i in
      let g = dy.data[i]
      switch act {
      case .none: return g
      case .relu: return yv[i] > 0 ? g : 0
      case .sigmoid: return g * yv[i] * (1 - yv[i])
      }
    }, shape: dy.shape)
  }

  static func map(_ t: Tensor, _ f: (Double) -> Double) -> Tensor {
    Tensor(t.scalars.map { Float(f(Double($0))) }, shape: t.shape)
  }
}

/// Flat offsets into a row-major `[N, C, H, W]` array.
struct NCHW {
  let n, c, h, w: Int
  init(_ shape: [Int]) { (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3]) }
  init(_ n: Int, _ c: Int, _ h: Int, _ w: Int) { (self.n, self.c, self.h, self.w) = (n, c, h, w) }
  @inline(__always) func callAsFunction(_ b: Int, _ ch: Int, _ y: Int, _ x: Int) -> Int {
    ((b * c + ch) * h + y) * w + x
  }
  var shape: [Int] { [n, c, h, w] }
  var count: Int { n * c * h * w }
}
