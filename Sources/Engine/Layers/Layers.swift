/// 2-D convolution layer. Input `[N, C, H, W]` -> `[N, filters, outH, outW]`
/// with outH = (H + 2·padding - kernel) / stride + 1. The input channel count C
/// is inferred at the first call. Bias and activation are fused into the
/// convolution's output pass.
///
/// The math, forward and backward: `Reference.conv2d` (`Reference/ConvolutionReference.swift`);
/// the fast version: `conv2d` (`Ops/Convolution.swift`).
public final class Conv2D: Module {
  public let filters: Int
  public let kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)
  public let activation: Activation
  public let useBias: Bool
  public private(set) var weight: Tensor?
  public private(set) var bias: Tensor?

  public override var kind: String { "conv" }

  public init(
    _ filters: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
    activation: Activation = .none, useBias: Bool = true
  ) {
    self.filters = filters
    self.kernel = (kernel, kernel)
    self.stride = (stride, stride)
    self.padding = (padding, padding)
    self.activation = activation
    self.useBias = useBias
    super.init()
  }

  public override func forward(_ x: Tensor) -> Tensor {
    require(x.rank == 4, "\(name): expected input [N, C, H, W], got \(x.shape)")
    if weight == nil {
      let c = x.shape[1], k = kernel.0 * kernel.1
      weight = makeParameter([filters, c, kernel.0, kernel.1], .weight(fanIn: c * k, fanOut: filters * k))
      if useBias { bias = makeParameter([filters], .constant(0)) }
    }
    return conv2d(x, weight: weight!, bias: bias, stride: stride, padding: padding, activation: activation)
  }

  public override func discardInferredParameters() { (weight, bias) = (nil, nil) }
}

/// Fully connected layer. Input `[N, ...]` (flattened to `[N, inFeatures]`, as
/// Gluon's Dense does) -> `[N, units]`. inFeatures is inferred at the first call.
/// The math: `Reference.dense`; the fast version: `dense` (`Ops/Dense.swift`).
public final class Dense: Module {
  public let units: Int
  public let activation: Activation
  public let useBias: Bool
  public private(set) var weight: Tensor?
  public private(set) var bias: Tensor?

  public override var kind: String { "dense" }

  public init(_ units: Int, activation: Activation = .none, useBias: Bool = true) {
    self.units = units
    self.activation = activation
    self.useBias = useBias
    super.init()
  }

  public override func forward(_ x: Tensor) -> Tensor {
    let flat = x.rank == 2 ? x : x.flattened()
    if weight == nil {
      let inF = flat.shape[1]
      weight = makeParameter([units, inF], .weight(fanIn: inF, fanOut: units))
      if useBias { bias = makeParameter([units], .constant(0)) }
    }
    return dense(flat, weight: weight!, bias: bias, activation: activation)
  }

  public override func discardInferredParameters() { (weight, bias) = (nil, nil) }
}

/// What the pooling layers share: a square window of `size`, its stride (the window's size
/// unless given) and padding. Input `[N, C, H, W]` -> `[N, C, (H + 2p - k) / s + 1, ...]`.
public class Pooling2D: Module {
  public let size: Int, stride: Int, padding: Int
  public override var kind: String { "pool" }

  public init(_ size: Int, stride: Int? = nil, padding: Int = 0) {
    self.size = size
    self.stride = stride ?? size
    self.padding = padding
    super.init()
  }

  var window: (kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)) {
    ((size, size), (stride, stride), (padding, padding))
  }
}

/// Max pooling (a `Pooling2D`). The math: `Reference.maxPool2d`; the fast version:
/// `maxPool2d` (`Ops/Pooling.swift`).
public final class MaxPool2D: Pooling2D {
  public override func forward(_ x: Tensor) -> Tensor {
    maxPool2d(x, kernel: window.kernel, stride: window.stride, padding: window.padding)
  }
}

/// Average pooling, padding counted in the divisor (a `Pooling2D`). The math:
/// `Reference.avgPool2d`; the fast version: `avgPool2d` (`Ops/Pooling.swift`).
public final class AvgPool2D: Pooling2D {
  public override func forward(_ x: Tensor) -> Tensor {
    avgPool2d(x, kernel: window.kernel, stride: window.stride, padding: window.padding)
  }
}

/// Global average pooling: `[N, C, H, W]` -> `[N, C, 1, 1]`.
public final class GlobalAvgPool2D: Module {
  public override var kind: String { "pool" }
  public override init() { super.init() }

  public override func forward(_ x: Tensor) -> Tensor {
    require(x.rank == 4, "\(name): expected input [N, C, H, W], got \(x.shape)")
    return avgPool2d(x, kernel: (x.shape[2], x.shape[3]), stride: (1, 1))
  }
}

/// Batch normalisation over channels (axis 1) of `[N, C]` or `[N, C, H, W]`
/// input; output shaped like the input. Scale `gamma` starts at 1, shift `beta`
/// at 0, moving mean at 0 and moving variance at 1; momentum 0.9 and eps 1e-5
/// as in Gluon. C is inferred at the first call. The math: `Reference.batchNorm`; the fast
/// version: `batchNorm` (`Ops/BatchNormalization.swift`).
public final class BatchNorm: Module {
  public let momentum: Float, eps: Float
  public private(set) var gamma: Tensor?
  public private(set) var beta: Tensor?
  public private(set) var movingMean: Tensor?
  public private(set) var movingVar: Tensor?

  public override var kind: String { "batchnorm" }

  public init(momentum: Float = 0.9, eps: Float = 1e-5) {
    self.momentum = momentum
    self.eps = eps
    super.init()
  }

  /// The activation this layer applies after normalizing, in the same pass: set by
  /// `fuseBatchNormActivations(in:)` for a norm that a `Sequential` follows with a ReLU or
  /// sigmoid layer (that layer then passes its input on). `.none` otherwise.
  public internal(set) var fusedActivation: Activation = .none

  public override func forward(_ x: Tensor) -> Tensor { forward(x, activation: fusedActivation) }

  /// The normalized `x` with `activation` applied in the same pass: `norm(x, activation: .relu)`
  /// is `norm(x).relu()` with one pass over the activations instead of two and no
  /// intermediate tensor. This is the fused op for hand-written blocks (7.6's `Residual`);
  /// `fuseBatchNormActivations(in:)` gives it to the pairs inside a `Sequential`.
  public func callAsFunction(_ x: Tensor, activation: Activation) -> Tensor {
    forward(x, activation: activation)
  }

  func forward(_ x: Tensor, activation: Activation) -> Tensor {
    require(x.rank == 2 || x.rank == 4, "\(name): expected [N, C] or [N, C, H, W], got \(x.shape)")
    if gamma == nil {
      let c = x.shape[1]
      gamma = makeParameter([c], .constant(1))
      beta = makeParameter([c], .constant(0))
      movingMean = Tensor(zeros: [c])
      movingVar = Tensor(repeating: 1, shape: [c])
    }
    return batchNorm(x, gamma: gamma!, beta: beta!, movingMean: movingMean!, movingVar: movingVar!,
                     eps: eps, momentum: momentum, activation: activation)
  }

  public override func discardInferredParameters() {
    (gamma, beta, movingMean, movingVar) = (nil, nil, nil, nil)
  }

  public override func resetState() {
    if let m = movingMean { m.data.update(repeating: 0, count: m.count) }
    if let v = movingVar { v.data.update(repeating: 1, count: v.count) }
  }
}

/// An element-wise activation (`.relu`, `.sigmoid`); output shaped like the input.
public final class ActivationLayer: Module {
  public let function: Activation
  public override var kind: String { function == .relu ? "relu" : function == .sigmoid ? "sigmoid" : "activation" }
  /// Set by `fuseBatchNormActivations(in:)` when the `BatchNorm` before this layer applies
  /// the activation itself: this layer then passes its input on.
  public internal(set) var appliedByPrecedingNorm = false

  public init(_ function: Activation) {
    self.function = function
    super.init()
  }

  public override func forward(_ x: Tensor) -> Tensor {
    if appliedByPrecedingNorm { return x }
    return switch function {
    case .relu: x.relu()
    case .sigmoid: x.sigmoid()
    case .none: x
    }
  }
}

/// Sigmoid activation layer; output shaped like the input.
public func Sigmoid() -> ActivationLayer { ActivationLayer(.sigmoid) }
/// ReLU activation layer; output shaped like the input.
public func ReLU() -> ActivationLayer { ActivationLayer(.relu) }

/// Dropout with probability `p` in training mode, identity in prediction mode;
/// output shaped like the input.
public final class Dropout: Module {
  /// Settable so that a comparison with another framework can switch dropout off (0) and
  /// compare deterministic steps.
  public var probability: Float
  public override var kind: String { "dropout" }

  public init(_ probability: Float) {
    self.probability = probability
    super.init()
  }

  public override func forward(_ x: Tensor) -> Tensor { dropout(x, probability: probability) }
}

/// `[N, ...]` -> `[N, product of the rest]`.
public final class Flatten: Module {
  public override var kind: String { "flatten" }
  public override init() { super.init() }
  public override func forward(_ x: Tensor) -> Tensor { x.flattened() }
}

/// Modules applied one after the other; input and output shapes are those
/// of its first and last layers. Built with a result builder:
/// `Sequential { Conv2D(6, kernel: 5); Sigmoid(); MaxPool2D(2) }`.
public final class Sequential: Module {
  public private(set) var layers: [Module]
  public override var kind: String { "sequential" }

  public init(_ layers: [Module] = []) {
    self.layers = layers
    super.init()
  }

  public convenience init(@ModuleBuilder _ content: () -> [Module]) {
    self.init(content())
  }

  /// Appends layers (as Gluon's `net.add`).
  public func add(_ modules: Module...) { layers.append(contentsOf: modules) }
  public func add(_ modules: [Module]) { layers.append(contentsOf: modules) }

  public subscript(index: Int) -> Module { layers[index] }
  public var count: Int { layers.count }

  /// Runs the layers in order.
  public override func forward(_ x: Tensor) -> Tensor {
    layers.reduce(x) { h, layer in layer(h) }
  }
}

/// Builds `[Module]` from a list of modules, arrays of modules, loops and conditionals.
@resultBuilder
public enum ModuleBuilder {
  public static func buildExpression(_ m: Module) -> [Module] { [m] }
  public static func buildExpression(_ ms: [Module]) -> [Module] { ms }
  public static func buildBlock(_ parts: [Module]...) -> [Module] { parts.flatMap { $0 } }
  public static func buildArray(_ parts: [[Module]]) -> [Module] { parts.flatMap { $0 } }
  public static func buildOptional(_ part: [Module]?) -> [Module] { part ?? [] }
  public static func buildEither(first: [Module]) -> [Module] { first }
  public static func buildEither(second: [Module]) -> [Module] { second }
}
