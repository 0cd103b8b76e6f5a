import Foundation
import EngineTurn
import Testing
import Engine

/// Every engine test lives under this suite: the engine keeps global state
/// (the tape, training mode, the seeded generator, the workspace size, module
/// name counters, the thread count), so its tests must not run concurrently.
@Suite(.serialized, .engineTurn) struct EngineTests {}

/// A test-local random source, independent of `EngineRandom`.
struct TestRNG {
  var g: SeededGenerator
  init(_ seed: UInt64) { g = SeededGenerator(seed: seed) }

  mutating func float(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * g.nextUnitFloat() }

  mutating func uniform(_ shape: [Int], _ lo: Float = -1, _ hi: Float = 1) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor((0..<n).map { _ in float(lo, hi) }, shape: shape)
  }

  /// Magnitudes in [lo, hi] with random signs: away from the kinks of relu at 0.
  mutating func awayFromZero(_ shape: [Int], _ lo: Float = 0.1, _ hi: Float = 1) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor((0..<n).map { _ in (g.next() & 1 == 0 ? 1 : -1) * float(lo, hi) }, shape: shape)
  }

  /// Distinct values spaced `spacing` apart, shuffled: no ties within a max window.
  mutating func distinct(_ shape: [Int], spacing: Float = 0.05) -> Tensor {
    let n = shape.reduce(1, *)
    var v = (0..<n).map { Float($0) * spacing - Float(n) * spacing / 2 }
    v.shuffle(using: &g)
    return Tensor(v, shape: shape)
  }

  mutating func labels(_ n: Int, classes: Int) -> [Int32] {
    (0..<n).map { _ in Int32(g.next() % UInt64(classes)) }
  }
}

extension Tensor {
  func requiringGrad() -> Tensor {
    requiresGrad = true
    return self
  }
}

/// Finite-difference gradient check.
///
/// Builds L = sum(f() * R) with a fixed random R, takes analytic gradients with
/// `backward()` inside `Autograd.record(train:)`, and compares them to central
/// differences of L (accumulated in Double) for every element of every tensor
/// in `wrt`, within `absoluteTolerance + relativeTolerance * |numeric|`
/// (tighter than the usual 2e-2 * max(1, |n|), which let a 5% error in the
/// sigmoid derivative through). With `skipKinks`, elements whose ±h perturbation changes which
/// outputs are exactly zero (a relu crossing its kink) are skipped; at most a
/// quarter may be.
func checkGradients(
  _ name: String, wrt: [Tensor], train: Bool = true, h: Float = 1e-2,
  relativeTolerance: Float = 1e-2, absoluteTolerance: Float = 1e-3,
  skipKinks: Bool = false, seed: UInt64 = 12345,
  sourceLocation: SourceLocation = #_sourceLocation, _ f: () -> Tensor
) {
  for t in wrt { t.requiresGrad = true; t.zeroGrad() }
  var rng = TestRNG(seed)
  let probe = Autograd.record(train: train) { f() }
  Autograd.clearTape()
  let r = rng.uniform(probe.shape, -1, 1)
  let rv = r.scalars

  let loss = Autograd.record(train: train) { (f() * r).sum() }
  #expect(loss.shape == [], "\(name): loss shape", sourceLocation: sourceLocation)
  loss.backward()
  let analytic = wrt.map { $0.grad?.scalars ?? [Float](repeating: 0, count: $0.count) }

  func evaluate() -> (Double, [Bool]) {
    let y = Autograd.record(train: train) { f() }
    Autograd.clearTape()
    let v = y.scalars
    var s = 0.0
    for i in v.indices { s += Double(v[i]) * Double(rv[i]) }
    return (s, v.map { $0 == 0 })
  }
  let (_, basePattern) = evaluate()

  var failures: [String] = []
  var skipped = 0, checked = 0
  var worst: Float = 0
  for (k, t) in wrt.enumerated() {
    for i in 0..<t.count {
      let v = t.data[i]
      let up = v + h, down = v - h
      t.data[i] = up
      let (lp, pp) = evaluate()
      t.data[i] = down
      let (lm, pm) = evaluate()
      t.data[i] = v
      if skipKinks && (pp != basePattern || pm != basePattern) {
        skipped += 1
        continue
      }
      checked += 1
      let numeric = Float((lp - lm) / (Double(up) - Double(down)))
      let a = analytic[k][i]
      let err = abs(a - numeric)
      let allowed = absoluteTolerance + relativeTolerance * abs(numeric)
      worst = max(worst, err / allowed)
      if !(err <= allowed) {
        failures.append("input \(k)[\(i)]: analytic \(a) numeric \(numeric)")
      }
    }
  }
  #expect(failures.isEmpty,
    "\(name): \(failures.count) gradient mismatches (worst error \(worst) x the tolerance): \(failures.prefix(8))",
    sourceLocation: sourceLocation)
  #expect(checked > 0, "\(name): nothing checked", sourceLocation: sourceLocation)
  #expect(skipped * 4 <= skipped + checked,
    "\(name): \(skipped) of \(skipped + checked) elements skipped at kinks", sourceLocation: sourceLocation)
}

/// Expects `actual` to match `expected` element-wise within `tol * max(1, |expected|)`.
func expectClose(
  _ actual: [Float], _ expected: [Double], tol: Double = 1e-4, _ what: String = "",
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)",
    sourceLocation: sourceLocation)
  guard actual.count == expected.count else { return }
  var bad: [String] = []
  for i in actual.indices where !(abs(Double(actual[i]) - expected[i]) <= tol * max(1, abs(expected[i]))) {
    bad.append("[\(i)] \(actual[i]) vs \(expected[i])")
  }
  #expect(bad.isEmpty, "\(what): \(bad.count) mismatches: \(bad.prefix(8))", sourceLocation: sourceLocation)
}

// MARK: - Naive references (Double accumulation)

func sigmoidRef(_ z: Double) -> Double { 1 / (1 + Foundation.exp(-z)) }

/// The engine's reference convolution (`Reference.conv2d`) with its activation, as Doubles
/// for `expectClose`.
func conv2dRef(
  _ x: Tensor, _ w: Tensor, _ b: Tensor?, stride: (Int, Int), padding: (Int, Int),
  activation: Activation = .none
) -> (shape: [Int], values: [Double]) {
  let y = Reference.activate(
    Reference.conv2d(x, weight: w, bias: b, stride: stride, padding: padding), activation)
  return (y.shape, y.scalars.map(Double.init))
}

/// The engine's reference max or average pooling, as Doubles for `expectClose`.
func poolRef(
  _ x: Tensor, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), max isMax: Bool
) -> (shape: [Int], values: [Double]) {
  let y = isMax ? Reference.maxPool2d(x, kernel: kernel, stride: stride, padding: padding)
    : Reference.avgPool2d(x, kernel: kernel, stride: stride, padding: padding)
  return (y.shape, y.scalars.map(Double.init))
}
