import Foundation

/// An activation fused into the output pass of a convolution or dense layer.
public enum Activation: String, Sendable {
  case none, relu, sigmoid

  @inline(__always)
  func apply(_ z: Float) -> Float {
    switch self {
    case .none: z
    case .relu: max(z, 0)
    case .sigmoid: 1 / (1 + Foundation.exp(-z))
    }
  }
}

/// `dz = dy * act'(y)`, written over `dy` and returned.
///
/// In place: `dy` is the gradient a tape entry hands its own backward closure, which nothing
/// else reads afterwards (`backward()` drops it), so the backward pass needs no second
/// buffer the size of the output.
func activationGrad(_ act: Activation, output y: Tensor, grad dy: Tensor) -> Tensor {
  switch act {
  case .none: break
  case .relu: zipElements(dy.data, y.data, dy.data, dy.count) { g, y in y > 0 ? g : 0 }
  case .sigmoid: zipElements(dy.data, y.data, dy.data, dy.count) { g, y in g * y * (1 - y) }
  }
  return dy
}
