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

/// `dz = dy * act'(y)` over `count` elements; returns `dy` itself when there is no activation.
func activationGrad(_ act: Activation, output y: Tensor, grad dy: Tensor) -> Tensor {
  if act == .none { return dy }
  let dz = Tensor(uninitializedShape: dy.shape)
  switch act {
  case .relu: zipElements(dy.data, y.data, dz.data, dy.count) { g, y in y > 0 ? g : 0 }
  case .sigmoid: zipElements(dy.data, y.data, dz.data, dy.count) { g, y in g * y * (1 - y) }
  case .none: break
  }
  return dz
}
