/// A building block of a network: a layer, a block of layers, or a whole
/// network. Subclasses write only `forward`; parameters and child modules are
/// found by reflection over stored properties (`Tensor`, `Tensor?`,
/// `[Tensor]`, `Module`, `Module?`, `[Module]`), as in Gluon and MLX.
///
/// Each module gets a name from its kind and a per-run counter (`conv0`,
/// `pool1`, `dense2`, ...), used in shape printouts and summaries.
open class Module {
  /// The prefix of this module's name (`conv`, `pool`, `dense`, `batchnorm`, ...).
  open var kind: String { String(describing: type(of: self)).lowercased() }

  /// `kind` followed by how many modules of that kind were created before it in this run.
  public private(set) lazy var name: String = ModuleNames.next(kind)

  /// How weights are drawn when they are created or re-initialised.
  public internal(set) var initializer: Initializer = .gluonDefault

  public init() {
    _ = name
  }

  /// The computation of this module. Subclasses override it.
  open func forward(_ x: Tensor) -> Tensor {
    fatalError("\(type(of: self)) must override forward(_:)")
  }

  public func callAsFunction(_ x: Tensor) -> Tensor { forward(x) }

  /// Direct sub-modules, in declaration order.
  open var children: [Module] {
    reflectedProperties().compactMap { $0 as? Module }
  }

  /// This module's own trainable tensors (not its children's).
  open var ownParameters: [Tensor] {
    reflectedProperties().compactMap { $0 as? Tensor }.filter(\.isParameter)
  }

  /// Every trainable tensor of this module and its descendants, each once.
  public func parameters() -> [Tensor] {
    var seen = Set<ObjectIdentifier>()
    var result: [Tensor] = []
    func visit(_ m: Module) {
      for p in m.ownParameters where seen.insert(ObjectIdentifier(p)).inserted { result.append(p) }
      for c in m.children { visit(c) }
    }
    visit(self)
    return result
  }

  /// This module and all its descendants, depth first.
  public func modules() -> [Module] {
    [self] + children.flatMap { $0.modules() }
  }

  /// Every tensor that makes up the trained state, named by the path of stored properties
  /// that leads to it (`layers.0.weight`, `b3.p2.1.movingMean`): parameters and non-trainable
  /// state such as moving statistics, each once, in a fixed order. Checkpoints save and
  /// restore exactly these.
  public func namedState() -> [(name: String, tensor: Tensor)] {
    var seen = Set<ObjectIdentifier>()
    var result: [(name: String, tensor: Tensor)] = []
    func visit(_ value: Any, _ path: String) {
      switch value {
      case let t as Tensor:
        if seen.insert(ObjectIdentifier(t)).inserted { result.append((path, t)) }
      case let m as Module:
        for (label, child) in m.labelledProperties() {
          visit(child, path.isEmpty ? label : path + "." + label)
        }
      case let ts as [Tensor]:
        for (i, t) in ts.enumerated() { visit(t, path + ".\(i)") }
      case let ms as [Module]:
        for (i, m) in ms.enumerated() { visit(m, path + ".\(i)") }
      default:
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional, let wrapped = mirror.children.first {
          visit(wrapped.value, path)
        }
      }
    }
    visit(self, "")
    return result
  }

  /// Number of scalar parameters (those created so far: shapes are inferred at the first call).
  public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }

  /// Sets the initializer of this module and its descendants. With
  /// `forceReinit`, parameters that already exist are drawn again (weights
  /// from `initializer`, constants reset) and moving statistics are reset;
  /// parameters not yet created will use `initializer` at the first call.
  public func initialize(_ initializer: Initializer = .gluonDefault, forceReinit: Bool = false) {
    for m in modules() {
      m.initializer = initializer
      if forceReinit {
        for p in m.ownParameters { m.initializer.fill(p) }
        m.resetState()
      }
    }
  }

  /// Resets non-trainable state such as moving statistics. Called by `initialize(forceReinit:)`.
  open func resetState() {}

  /// Forgets the parameters and state whose shapes this module infers at its first call, so
  /// that the next call creates them again. Only `restoringState(after:)` uses it.
  open func discardInferredParameters() {}

  /// Runs `body` (calls of this module, typically) and then puts the module back as it was
  /// before: parameters that those calls created are dropped again, so that the next call
  /// creates them exactly as it would have; moving statistics get their values back; and the
  /// engine's random stream is rewound, so that dropout masks and weight draws after it are
  /// those of a run without `body`. The memory pre-flight measures a network this way before
  /// it trains, and the run's numbers stay what they were without it.
  ///
  /// Parameter values are not saved: `body` must not train.
  public func restoringState<R>(after body: () throws -> R) rethrows -> R {
    let random = EngineRandom.generator
    let uncreated = modules().filter { $0.ownParameters.isEmpty }
    let saved = namedState().filter { !$0.tensor.isParameter }.map { ($0.tensor, $0.tensor.scalars) }
    defer {
      for m in uncreated { m.discardInferredParameters() }
      for (tensor, values) in saved { tensor.data.update(from: values, count: tensor.count) }
      EngineRandom.generator = random
    }
    return try body()
  }

  /// Creates a parameter of `shape`, initialised now.
  public func makeParameter(_ shape: [Int], _ initialization: ParameterInit) -> Tensor {
    let t = Tensor(zeros: shape).asParameter(initialization)
    initializer.fill(t)
    return t
  }

  /// Stored properties with their labels, superclass properties first.
  private func labelledProperties() -> [(String, Any)] {
    var levels: [Mirror] = []
    var mirror: Mirror? = Mirror(reflecting: self)
    while let m = mirror {
      levels.append(m)
      mirror = m.superclassMirror
    }
    return levels.reversed().flatMap { level in
      level.children.enumerated().map { i, child in (child.label ?? "\(i)", child.value) }
    }
  }

  private func reflectedProperties() -> [Any] {
    var values: [Any] = []
    var mirror: Mirror? = Mirror(reflecting: self)
    var levels: [Mirror] = []
    while let m = mirror {
      levels.append(m)
      mirror = m.superclassMirror
    }
    for m in levels.reversed() {
      for child in m.children {
        flatten(child.value, into: &values)
      }
    }
    return values
  }

  private func flatten(_ value: Any, into values: inout [Any]) {
    switch value {
    case let t as Tensor: values.append(t)
    case let m as Module: values.append(m)
    case let ts as [Tensor]: values.append(contentsOf: ts)
    case let ms as [Module]: values.append(contentsOf: ms)
    default:
      let mirror = Mirror(reflecting: value)
      if mirror.displayStyle == .optional, let wrapped = mirror.children.first {
        flatten(wrapped.value, into: &values)
      }
    }
  }
}

/// Per-run counters behind module names.
public enum ModuleNames {
  // Safe: modules are built on the thread that runs the cells, one run at a time.
  nonisolated(unsafe) static var counters: [String: Int] = [:]

  static func next(_ kind: String) -> String {
    let n = counters[kind, default: 0]
    counters[kind] = n + 1
    return "\(kind)\(n)"
  }

  /// Starts numbering again from 0 (at the start of each section run).
  public static func reset() { counters = [:] }
}

/// How weights are drawn.
public enum Initializer: Sendable, Equatable {
  /// Uniform in [-scale, scale]: Gluon's default (scale 0.07).
  case uniform(scale: Float)
  /// Xavier/Glorot uniform: U(-a, a) with a = sqrt(6 / (fanIn + fanOut)), as the book's `train_ch6` uses.
  case xavier
  /// Normal with mean 0 and the given standard deviation.
  case normal(std: Float)

  public static let gluonDefault = Initializer.uniform(scale: 0.07)

  /// (Re)initialises a parameter according to its declared `parameterInit`.
  public func fill(_ t: Tensor) {
    switch t.parameterInit {
    case .constant(let v)?:
      t.data.update(repeating: v, count: t.count)
    case .weight(let fanIn, let fanOut)?:
      let draw: Tensor
      switch self {
      case .uniform(let s): draw = .uniform(t.shape, low: -s, high: s)
      case .xavier:
        let a = (6 / Float(fanIn + fanOut)).squareRoot()
        draw = .uniform(t.shape, low: -a, high: a)
      case .normal(let std): draw = .normal(t.shape, std: std)
      }
      t.data.update(from: draw.data, count: t.count)
    case nil:
      break
    }
  }
}
