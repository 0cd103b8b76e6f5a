import Foundation

/// An N-dimensional array of Float32 in row-major (NCHW for images) order,
/// with an optional gradient for reverse-mode autograd.
///
/// Storage is always contiguous; `reshaped` shares it. A tensor produced by a
/// recorded operation from inputs that require gradients requires one itself.
public final class Tensor {
  public let shape: [Int]
  public let count: Int
  let storage: TensorStorage

  /// Whether gradients flow to this tensor (parameters and results computed from them).
  public var requiresGrad: Bool
  /// The accumulated gradient, allocated by the first backward pass that reaches it.
  public internal(set) var grad: Tensor? {
    get { slot?.grad }
    set { gradientSlot.grad = newValue }
  }
  private var slot: GradientSlot?
  /// How `Module.initialize` (re)initialises this tensor when it is a parameter.
  public var parameterInit: ParameterInit?
  /// False for results of recorded operations.
  public internal(set) var isLeaf = true

  /// An uninitialised tensor (for kernels that overwrite every element).
  init(uninitializedShape shape: [Int]) {
    require(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
    self.shape = shape
    var count = 1
    for d in shape {
      let (product, overflow) = count.multipliedReportingOverflow(by: d)
      require(!overflow, "out of memory: a tensor of shape \(shape) has more elements than a 64-bit size holds")
      count = product
    }
    self.count = count
    self.storage = TensorStorage(capacity: count, purpose: "a tensor of shape \(shape)")
    self.requiresGrad = false
  }

  /// A tensor that views `other`'s storage with another shape of the same size.
  init(sharing other: Tensor, shape: [Int]) {
    self.shape = shape
    self.count = other.count
    self.storage = other.storage
    self.requiresGrad = false
  }

  /// A tensor of zeros.
  public convenience init(zeros shape: [Int]) {
    self.init(uninitializedShape: shape)
    storage.pointer.update(repeating: 0, count: count)
  }

  /// A tensor filled with `value`.
  public convenience init(repeating value: Float, shape: [Int]) {
    self.init(uninitializedShape: shape)
    storage.pointer.update(repeating: value, count: count)
  }

  /// A tensor holding `values` (row-major) with the given shape.
  public convenience init(_ values: [Float], shape: [Int]) {
    self.init(uninitializedShape: shape)
    require(values.count == count, "\(values.count) values for shape \(shape)")
    values.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: count) }
  }

  /// A scalar (shape `[]`).
  public convenience init(scalar: Float) {
    self.init([scalar], shape: [])
  }

  public static func zeros(_ shape: [Int]) -> Tensor { Tensor(zeros: shape) }
  public static func ones(_ shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }

  /// Uniform in [low, high) from the engine's seeded generator.
  public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1) -> Tensor {
    let t = Tensor(uninitializedShape: shape)
    let p = t.storage.pointer
    for i in 0..<t.count {
      p[i] = low + (high - low) * EngineRandom.generator.nextUnitFloat()
    }
    return t
  }

  /// Normal with the given mean and standard deviation (Box–Muller).
  public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1) -> Tensor {
    let t = Tensor(uninitializedShape: shape)
    let p = t.storage.pointer
    var i = 0
    while i < t.count {
      let u1 = max(EngineRandom.generator.nextUnitFloat(), 1e-7)
      let u2 = EngineRandom.generator.nextUnitFloat()
      let r = (-2 * Foundation.log(u1)).squareRoot()
      p[i] = mean + std * r * Foundation.cos(2 * .pi * u2)
      if i + 1 < t.count { p[i + 1] = mean + std * r * Foundation.sin(2 * .pi * u2) }
      i += 2
    }
    return t
  }

  /// Raw access to the elements, for kernels.
  public var data: UnsafeMutablePointer<Float> { storage.pointer }

  public var rank: Int { shape.count }

  /// The elements as an array (row-major).
  public var scalars: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

  /// The single element of a one-element tensor.
  public var item: Float {
    require(count == 1, "item needs a one-element tensor, got shape \(shape)")
    return data[0]
  }

  /// A copy that records no history and requires no gradient.
  public func detached() -> Tensor {
    let t = Tensor(uninitializedShape: shape)
    t.data.update(from: data, count: count)
    return t
  }

  /// The gradient buffer, allocated and zeroed on first use; backward kernels
  /// accumulate into it.
  func gradBuffer() -> UnsafeMutablePointer<Float> { gradientSlot.buffer() }

  /// Where this tensor's gradient accumulates (created on first use).
  var gradientSlot: GradientSlot {
    if let slot { return slot }
    let s = GradientSlot(shape: shape)
    slot = s
    return s
  }

  /// The gradient slot when operations are being recorded and this tensor requires a
  /// gradient. A backward closure that needs only to pass a gradient on captures this
  /// instead of the tensor, so that it does not keep the tensor's values alive.
  var gradientSlotIfRequired: GradientSlot? {
    Autograd.isRecording && requiresGrad ? gradientSlot : nil
  }

  /// The SGD step this parameter's backward pass applies itself, when its optimizer asked
  /// for that (`SGD.updatesInBackward`).
  var fusedUpdate: FusedUpdate?

  /// Frees the gradient buffer (the next backward pass that reaches it makes a zeroed one).
  func dropGradient() { slot?.grad = nil }

  /// Drops the gradient (the optimizer's zero_grad).
  public func zeroGrad() {
    if let g = grad { g.data.update(repeating: 0, count: count) }
  }

  /// Element at a multi-index (for tests and printing; not for hot loops).
  public subscript(_ index: Int...) -> Float {
    get { data[flatIndex(index)] }
    set { data[flatIndex(index)] = newValue }
  }

  func flatIndex(_ index: [Int]) -> Int {
    require(index.count == shape.count, "index \(index) for shape \(shape)")
    var flat = 0
    for (i, d) in zip(index, shape) {
      require(i >= 0 && i < d, "index \(index) out of range for shape \(shape)")
      flat = flat * d + i
    }
    return flat
  }
}

/// How a parameter is (re)initialised by `Module.initialize`.
public enum ParameterInit: Sendable {
  /// Every element set to this value (biases, batch-norm scale and shift).
  case constant(Float)
  /// A weight: drawn by the network's initialiser from its fan-in and fan-out.
  case weight(fanIn: Int, fanOut: Int)
}

extension Tensor {
  /// Marks this tensor as a trainable parameter with the given initialisation.
  /// Returns `self`, so that `Tensor.ones([1, c, 1, 1]).asParameter()` reads well.
  @discardableResult
  public func asParameter(_ initialization: ParameterInit? = nil) -> Tensor {
    requiresGrad = true
    parameterInit = initialization ?? parameterInit
    return self
  }

  /// A trainable leaf: it requires a gradient and no recorded operation produced it.
  public var isParameter: Bool { requiresGrad && isLeaf }
}

extension Tensor: CustomStringConvertible {
  /// Prints like NumPy: nested brackets, at most 6 elements per row shown.
  public var description: String {
    func format(_ v: Float) -> String {
      if v == v.rounded() && abs(v) < 1e7 { return String(format: "%.1f", v) }
      return "\(v)"
    }
    if shape.isEmpty { return format(data[0]) }
    func render(_ dim: Int, _ offset: Int, _ indent: String) -> String {
      let n = shape[dim]
      let stride = shape[(dim + 1)...].reduce(1, *)
      let items: [Int] = n <= 10 ? Array(0..<n) : [0, 1, 2, -1, n - 3, n - 2, n - 1]
      let parts = items.map { i -> String in
        if i < 0 { return "..." }
        if dim == shape.count - 1 { return format(data[offset + i]) }
        return render(dim + 1, offset + i * stride, indent + " ")
      }
      let separator = dim == shape.count - 1 ? ", " : ",\n" + indent + " "
      return "[" + parts.joined(separator: separator) + "]"
    }
    return render(0, 0, "")
  }
}
