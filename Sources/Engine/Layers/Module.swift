import Synchronization

/// A building block of a network: a layer, a block of layers, or a whole
/// network. Subclasses write only `forward`; parameters and child modules are
/// found by reflection over stored properties declared as tensors or modules
/// (`Tensor`, `Tensor?`, `[Tensor]`, `Conv2D`, `Module?`, `[Module]`, and other
/// optionals and arrays of them), as in Gluon and MLX.
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
  public var children: [Module] {
    stateItems().compactMap(\.item.module)
  }

  /// This module's own trainable tensors (not its children's).
  public var ownParameters: [Tensor] {
    stateItems().compactMap(\.item.parameter)
  }

  /// Every trainable tensor of this module and its descendants, each once.
  public func parameters() -> [Tensor] {
    var seen = Set<ObjectIdentifier>()
    var result: [Tensor] = []
    visitModules { _, items in
      for p in items.lazy.compactMap(\.item.parameter) where seen.insert(ObjectIdentifier(p)).inserted {
        result.append(p)
      }
    }
    return result
  }

  /// Calls `body` with this module and each descendant, depth first, and its state items:
  /// one reflection per module, where `ownParameters` and `children` would take two.
  private func visitModules(_ body: (Module, [(path: String, item: StateItem)]) -> Void) {
    let items = stateItems()
    body(self, items)
    for child in items.lazy.compactMap(\.item.module) { child.visitModules(body) }
  }

  /// This module and all its descendants, depth first.
  public func modules() -> [Module] {
    var result: [Module] = []
    visitModules { m, _ in result.append(m) }
    return result
  }

  /// Every tensor that makes up the trained state, named by the path of stored properties
  /// that leads to it (`layers.0.weight`, `b3.p2.1.movingMean`): parameters and non-trainable
  /// state such as moving statistics, each once, in a fixed order. Checkpoints save and
  /// restore exactly these.
  public func namedState() -> [(name: String, tensor: Tensor)] {
    var seen = Set<ObjectIdentifier>()
    var result: [(name: String, tensor: Tensor)] = []
    func visit(_ module: Module, _ prefix: String) {
      for (path, item) in module.stateItems() {
        switch item {
        case .tensor(let t):
          if seen.insert(ObjectIdentifier(t)).inserted { result.append((prefix + path, t)) }
        case .module(let m):
          visit(m, prefix + path + ".")
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
    if forceReinit { PredictionCache.clear() }
    visitModules { m, items in
      m.initializer = initializer
      if forceReinit {
        for p in items.lazy.compactMap(\.item.parameter) { m.initializer.fill(p) }
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
    var uncreated: [Module] = []
    visitModules { m, items in
      if !items.contains(where: { $0.item.parameter != nil }) { uncreated.append(m) }
    }
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

  /// The tensors and modules this module's stored properties hold, superclass properties
  /// first, each with its path: the property's label, then `.0`, `.1`, … into arrays.
  ///
  /// A `Mirror` finds a property's type by decoding its mangled name each time the property
  /// is read, and a cast from `Any` looks up conformances: done for every property of every
  /// module on each traversal, reflection was the larger part of a re-run that the training
  /// cache answers. Which properties can hold state depends only on the class, so each
  /// class's are found once (`StateFieldIndex`), only those are read, and each is asked for
  /// its items (`StateHolder`) instead of being cast to every type it might be.
  func stateItems() -> [(path: String, item: StateItem)] {
    var levels: [Mirror] = []
    var mirror: Mirror? = Mirror(reflecting: self)
    while let m = mirror {
      levels.append(m)
      mirror = m.superclassMirror
    }
    var result: [(path: String, item: StateItem)] = []
    for level in levels.reversed() {
      let children = level.children
      for i in StateFieldIndex.fields(of: level) {
        let child = children[children.index(children.startIndex, offsetBy: i)]
        (child.value as? any StateHolder)?.appendItems(path: child.label ?? "\(i)", to: &result)
      }
    }
    return result
  }
}

/// A tensor or a module found in a module's stored properties.
enum StateItem {
  case tensor(Tensor)
  case module(Module)

  /// The tensor, when it is a trainable one.
  var parameter: Tensor? { if case .tensor(let t) = self, t.isParameter { t } else { nil } }

  /// The module, when it is one.
  var module: Module? { if case .module(let m) = self { m } else { nil } }
}

/// The types whose stored properties module reflection reads: tensors, modules, and
/// optionals and arrays of them. A property must be declared with such a type; one declared
/// `Any` is not searched, whatever it holds.
protocol StateHolder {
  /// Appends the tensors and modules this value holds, `path` naming where it is.
  func appendItems(path: String, to items: inout [(path: String, item: StateItem)])
}

extension Tensor: StateHolder {
  func appendItems(path: String, to items: inout [(path: String, item: StateItem)]) {
    items.append((path, .tensor(self)))
  }
}

extension Module: StateHolder {
  func appendItems(path: String, to items: inout [(path: String, item: StateItem)]) {
    items.append((path, .module(self)))
  }
}

extension Optional: StateHolder where Wrapped: StateHolder {
  func appendItems(path: String, to items: inout [(path: String, item: StateItem)]) {
    self?.appendItems(path: path, to: &items)
  }
}

extension Array: StateHolder where Element: StateHolder {
  func appendItems(path: String, to items: inout [(path: String, item: StateItem)]) {
    for (i, element) in enumerated() { element.appendItems(path: path + ".\(i)", to: &items) }
  }
}

/// For each class (one level of a module's class hierarchy), the positions among its stored
/// properties of those whose type is a `StateHolder`, found the first time the class is
/// reflected.
enum StateFieldIndex {
  // A lock, not an actor: modules are reflected from any thread, tests run in parallel.
  private static let known = Mutex<[ObjectIdentifier: [Int]]>([:])

  static func fields(of level: Mirror) -> [Int] {
    let key = ObjectIdentifier(level.subjectType)
    if let fields = known.withLock({ $0[key] }) { return fields }
    let fields = level.children.enumerated().compactMap { i, child in
      type(of: child.value) is any StateHolder.Type ? i : nil
    }
    known.withLock { $0[key] = fields }
    return fields
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
