import Foundation
import Testing
import Engine

/// A separable two-class image problem: class 1 has a bright bar in the left
/// half, class 0 in the right half, both under uniform noise.
func syntheticBars(count: Int, seed: UInt64) -> (Tensor, [Int32]) {
  var rng = TestRNG(seed)
  let x = rng.uniform([count, 1, 8, 8], 0, 0.6)
  var labels: [Int32] = []
  for i in 0..<count {
    let label = Int32(i % 2)
    labels.append(label)
    let col = label == 1 ? Int(rng.g.next() % 3) : 5 + Int(rng.g.next() % 3)
    for r in 0..<8 { x[i, 0, r, col] += 0.8 }
  }
  return (x, labels)
}

func makeSmallNet() -> Sequential {
  Sequential {
    Conv2D(4, kernel: 3, padding: 1)
    BatchNorm()
    Sigmoid()
    MaxPool2D(2)
    Dense(2)
  }
}

/// Trains `net` with SGD on full batches; returns the losses.
func train(_ net: Module, _ x: Tensor, _ labels: [Int32], steps: Int, lr: Float) -> [Float] {
  _ = Autograd.predict { net(x) }  // create the parameters
  let sgd = SGD(net.parameters(), learningRate: lr)
  var losses: [Float] = []
  for _ in 0..<steps {
    let loss = Autograd.record { softmaxCrossEntropy(net(x), labels: labels) }
    loss.backward()
    sgd.step()
    losses.append(loss.item)
  }
  return losses
}

func accuracy(_ net: Module, _ x: Tensor, _ labels: [Int32]) -> Double {
  let predicted = Autograd.predict { net(x) }.argmaxRows()
  return Double(zip(predicted, labels).filter { $0 == Int($1) }.count) / Double(labels.count)
}

extension EngineTests {
  @Suite struct Training {
    @Test func smallNetworkLearnsSeparableProblem() {
      EngineRandom.seed(2024)
      ModuleNames.reset()
      let (x, labels) = syntheticBars(count: 64, seed: 7)
      let net = makeSmallNet()
      net.initialize(.xavier)
      let before = accuracy(net, x, labels)
      let losses = train(net, x, labels, steps: 200, lr: 0.5)
      let after = accuracy(net, x, labels)
      #expect(after > 0.9, "train accuracy \(before) -> \(after); losses \(losses.first!) -> \(losses.last!)")
      #expect(losses.last! < losses.first! * 0.5)
      #expect(losses.allSatisfy { $0.isFinite })
      // It generalises to fresh samples of the same problem.
      let (xt, lt) = syntheticBars(count: 64, seed: 8)
      #expect(accuracy(net, xt, lt) > 0.85)
    }

    @Test func sameSeedSameUniformDraws() {
      EngineRandom.seed(77)
      let a = Tensor.uniform([1000], low: -2, high: 3), n1 = Tensor.normal([101])
      EngineRandom.seed(77)
      let b = Tensor.uniform([1000], low: -2, high: 3), n2 = Tensor.normal([101])
      #expect(a.scalars == b.scalars && n1.scalars == n2.scalars)
      #expect(a.scalars.allSatisfy { $0 >= -2 && $0 < 3 })
      EngineRandom.seed(78)
      #expect(Tensor.uniform([1000], low: -2, high: 3).scalars != a.scalars)
      let mean = n1.scalars.map(Double.init).reduce(0, +) / 101
      #expect(abs(mean) < 0.35)
    }

    @Test func sameSeedSameTrainingRun() {
      func run() -> ([Float], [[Float]]) {
        EngineRandom.seed(99)
        ModuleNames.reset()
        let (x, labels) = syntheticBars(count: 16, seed: 3)
        let net = Sequential {
          makeSmallNet()
          Dropout(0.2)
          Dense(2)
        }
        net.initialize(.xavier)
        let losses = train(net, x, labels, steps: 10, lr: 0.1)
        return (losses, net.parameters().map(\.scalars))
      }
      let (l1, p1) = run()
      let (l2, p2) = run()
      #expect(l1 == l2)
      #expect(p1 == p2)
      ComputeThreads.set(2)
      defer { ComputeThreads.set(1) }
      let (l3, _) = run()
      #expect(l3.count == l1.count)
    }
  }
}

extension EngineTests {
  /// `SGD(updatesInBackward: true)` moves dense weights' steps into the backward pass; the
  /// training must be the plain one's.
  @Suite struct UpdatesInBackward {
    /// Two dense layers, the second applied twice when `shared` (its weight then has two
    /// uses in a step and must take the plain path).
    final class Net: Module {
      let first = Dense(8, activation: .relu)
      let second = Dense(8, activation: .relu)
      let last = Dense(3)
      let shared: Bool
      init(shared: Bool) {
        self.shared = shared
        super.init()
      }
      override func forward(_ x: Tensor) -> Tensor {
        let h = second(first(x))
        return last(shared ? second(h) : h)
      }
    }

    static func trained(shared: Bool, fused: Bool, steps: Int = 12) -> (weights: [[Float]], losses: [Float], grad: Tensor?) {
      EngineRandom.seed(11)
      let net = Net(shared: shared)
      net.initialize(.xavier)
      let x = Tensor.uniform([16, 8], low: -1, high: 1)
      let labels = (0..<16).map { Int32($0 % 3) }
      _ = Autograd.predict { net(x) }
      let sgd = SGD(net.parameters(), learningRate: 0.3, updatesInBackward: fused)
      var losses: [Float] = []
      for _ in 0..<steps {
        Autograd.clearTape()
        let loss = Autograd.record { softmaxCrossEntropy(net(x), labels: labels) }
        loss.backward()
        sgd.step()
        losses.append(loss.item)
      }
      return (net.parameters().map(\.scalars), losses, net.first.weight!.grad)
    }

    @Test func theSameTrainingAsThePlainStep() {
      let plain = Self.trained(shared: false, fused: false)
      let fused = Self.trained(shared: false, fused: true)
      expectClose(fused.losses, plain.losses.map(Double.init), tol: 1e-5)
      for (a, b) in zip(fused.weights, plain.weights) { expectClose(a, b.map(Double.init), tol: 1e-5) }
      #expect(plain.losses.last! < plain.losses.first! * 0.8, "\(plain.losses)")
      // The fused weight's gradient is not kept; the plain one's is (zeroed).
      #expect(fused.grad == nil)
      #expect(plain.grad != nil)
    }

    @Test func aWeightUsedTwiceTakesThePlainPath() {
      let plain = Self.trained(shared: true, fused: false)
      let fused = Self.trained(shared: true, fused: true)
      expectClose(fused.losses, plain.losses.map(Double.init), tol: 1e-5)
      for (a, b) in zip(fused.weights, plain.weights) { expectClose(a, b.map(Double.init), tol: 1e-5) }
    }

    /// An optimizer that goes away takes back only its own updates: a later optimizer over
    /// the same parameters keeps updating them in the backward pass.
    @Test func aLaterOptimizerKeepsItsUpdatesWhenAnEarlierOneGoes() {
      EngineRandom.seed(6)
      let layer = Dense(4)
      let x = Tensor.uniform([2, 3])
      _ = Autograd.predict { layer(x) }
      var first: SGD? = SGD(layer.parameters(), learningRate: 0.5, updatesInBackward: true)
      let second = SGD(layer.parameters(), learningRate: 0.25, updatesInBackward: true)
      #expect(first != nil)
      first = nil
      let before = layer.weight!.scalars
      Autograd.clearTape()
      Autograd.record { layer(x).sum() }.backward()
      second.step()
      #expect(layer.weight!.grad == nil, "the weight took the plain path")
      #expect(layer.weight!.scalars != before)
    }

    /// Once the optimizer is gone, backward passes compute gradients and change nothing.
    @Test func withoutItsOptimizerBackwardOnlyComputesGradients() {
      EngineRandom.seed(5)
      let layer = Dense(4)
      let x = Tensor.uniform([2, 3])
      _ = Autograd.predict { layer(x) }
      var sgd: SGD? = SGD(layer.parameters(), learningRate: 0.5, updatesInBackward: true)
      sgd!.step()
      sgd = nil
      let before = layer.weight!.scalars
      Autograd.record { layer(x).sum() }.backward()
      #expect(layer.weight!.scalars == before)
      #expect(layer.weight!.grad != nil)
    }
  }
}
