import Foundation
import Testing
import Engine

/// A user-defined block: its own parameters plus a child module.
final class ScaledBlock: Module {
  let scale = Tensor.ones([1, 3, 1, 1]).asParameter(.constant(1))
  let shift = Tensor.zeros([3]).asParameter(.constant(0.5))
  let notAParameter = Tensor.ones([2])
  let inner = Conv2D(3, kernel: 1)
  var extra: [Module] = [Dense(2), ReLU()]
  var optionalChild: Module? = BatchNorm()

  override func forward(_ x: Tensor) -> Tensor { inner(x) * scale }
}

extension EngineTests {
  @Suite struct Modules {
    @Test func sequentialBuilderWithLoopsAndConditionals() {
      ModuleNames.reset()
      let useDropout = true, useNorm = false
      let net = Sequential {
        for filters in [4, 8] {
          Conv2D(filters, kernel: 3, padding: 1)
          ReLU()
        }
        MaxPool2D(2)
        if useNorm { BatchNorm() }
        if useDropout { Dropout(0.5) } else { Flatten() }
        [Dense(10), Dense(5)]
      }
      #expect(net.count == 8)
      #expect(net.layers.map(\.name) == [
        "conv0", "relu0", "conv1", "relu1", "pool0", "dropout0", "dense0", "dense1",
      ])
      let y = net(Tensor.ones([2, 3, 6, 6]))
      #expect(y.shape == [2, 5])
      let conv1 = net[2] as! Conv2D
      #expect(conv1.weight!.shape == [8, 4, 3, 3])
      #expect((net[6] as! Dense).weight!.shape == [10, 8 * 3 * 3])
      net.add(Dense(1))
      #expect(net.count == 9)
    }

    @Test func namesCountPerKindAndReset() {
      ModuleNames.reset()
      let a = Conv2D(1, kernel: 1), b = Conv2D(1, kernel: 1), p = MaxPool2D(2), q = AvgPool2D(2)
      let g = GlobalAvgPool2D(), d = Dense(1), bn = BatchNorm(), s = Sigmoid(), r = ReLU()
      let f = Flatten(), seq = Sequential(), custom = ScaledBlock()
      #expect([a, b, p, q, g, d, bn, s, r, f, seq].map(\.name) == [
        "conv0", "conv1", "pool0", "pool1", "pool2", "dense0", "batchnorm0", "sigmoid0", "relu0",
        "flatten0", "sequential0",
      ])
      #expect(custom.name == "scaledblock0")
      ModuleNames.reset()
      #expect(Conv2D(1, kernel: 1).name == "conv0")
      #expect(MaxPool2D(2).name == "pool0")
    }

    @Test func shapeInferenceAtFirstCall() {
      let conv = Conv2D(6, kernel: 5, padding: 2)
      #expect(conv.weight == nil && conv.parameters().isEmpty)
      let y = conv(Tensor.zeros([2, 3, 8, 8]))
      #expect(y.shape == [2, 6, 8, 8])
      #expect(conv.weight!.shape == [6, 3, 5, 5] && conv.bias!.shape == [6])
      #expect(conv.parameterCount == 6 * 3 * 25 + 6)
      let dense = Dense(7, useBias: false)
      #expect(dense(Tensor.zeros([4, 2, 3, 5])).shape == [4, 7])
      #expect(dense.weight!.shape == [7, 30] && dense.bias == nil)
      let bn = BatchNorm()
      #expect(bn(Tensor.zeros([2, 5])).shape == [2, 5])
      #expect(bn.gamma!.shape == [5] && bn.movingVar!.scalars == [1, 1, 1, 1, 1])
      #expect(MaxPool2D(3, stride: 2, padding: 1)(Tensor.zeros([1, 2, 7, 8])).shape == [1, 2, 4, 4])
      #expect(AvgPool2D(2)(Tensor.zeros([1, 2, 7, 8])).shape == [1, 2, 3, 4])
      #expect(Flatten()(Tensor.zeros([3, 2, 2, 2])).shape == [3, 8])
    }

    @Test func parametersFindNestedAndUserDefined() {
      let block = ScaledBlock()
      let net = Sequential {
        Sequential { block; Conv2D(2, kernel: 3) }
        Dense(4)
      }
      _ = block.inner(Tensor.zeros([1, 3, 2, 2]))
      _ = (block.extra[0] as! Dense)(Tensor.zeros([1, 3]))
      _ = block.optionalChild!(Tensor.zeros([2, 3]))
      let own = block.ownParameters
      #expect(own.count == 2 && own[0] === block.scale && own[1] === block.shift)
      #expect(block.children.count == 4)  // inner, extra[0], extra[1], optionalChild
      let params = block.parameters()
      // scale, shift, conv weight + bias, dense weight + bias, gamma, beta
      #expect(params.count == 8)
      #expect(!params.contains { $0 === block.notAParameter })
      #expect(!params.contains { $0 === (block.optionalChild as! BatchNorm).movingMean! })
      #expect(net.parameters().count == 8)  // the others are not created yet
      _ = net(Tensor.zeros([1, 3, 4, 4]))
      #expect(net.parameters().count == 12)
      #expect(Set(net.parameters().map(ObjectIdentifier.init)).count == 12)
      #expect(net.modules().count == 9)  // net, inner sequential, block (+4 children), conv, dense
      // Shared modules count once.
      let shared = Dense(3)
      let twice = Sequential([shared, shared])
      _ = twice(Tensor.zeros([1, 3]))
      #expect(twice.parameters().count == 2)
    }

    @Test func xavierInitializationAndForceReinit() {
      EngineRandom.seed(5)
      let block = ScaledBlock()
      let body = Sequential {
        Conv2D(8, kernel: 5)
        BatchNorm()
        Dense(30)
      }
      let net = Sequential { body; block }
      Autograd.record { body(Tensor.uniform([2, 3, 9, 9])).sum() }.backward()
      _ = block(Tensor.zeros([1, 3, 2, 2]))
      _ = (block.extra[0] as! Dense)(Tensor.zeros([1, 3]))
      let conv = body[0] as! Conv2D, dense = body[2] as! Dense, bn = body[1] as! BatchNorm
      #expect(bn.movingMean!.scalars != [Float](repeating: 0, count: 8))
      block.scale.data[1] = 7
      bn.gamma!.data[0] = 3
      net.initialize(.xavier, forceReinit: true)
      let convBound = (6 / Float(3 * 25 + 8 * 25)).squareRoot()
      let denseBound = (6 / Float(8 * 5 * 5 + 30)).squareRoot()
      #expect(conv.weight!.scalars.allSatisfy { abs($0) <= convBound })
      #expect(conv.weight!.scalars.map(abs).max()! > 0.8 * convBound)  // spread over the range
      #expect(dense.weight!.scalars.allSatisfy { abs($0) <= denseBound })
      #expect(dense.weight!.scalars.map(abs).max()! > 0.8 * denseBound)
      #expect(conv.bias!.scalars.allSatisfy { $0 == 0 } && dense.bias!.scalars.allSatisfy { $0 == 0 })
      #expect(bn.gamma!.scalars.allSatisfy { $0 == 1 } && bn.beta!.scalars.allSatisfy { $0 == 0 })
      #expect(bn.movingMean!.scalars.allSatisfy { $0 == 0 } && bn.movingVar!.scalars.allSatisfy { $0 == 1 })
      #expect(block.scale.scalars == [1, 1, 1] && block.shift.scalars == [0.5, 0.5, 0.5])
      #expect(net.modules().allSatisfy { $0.initializer == .xavier })
      // Parameters created later use the network's initializer.
      let late = Dense(4)
      let net2 = Sequential([late])
      net2.initialize(.normal(std: 0.01))
      _ = net2(Tensor.zeros([1, 500]))
      let ws = late.weight!.scalars
      let std = (ws.map { Double($0 * $0) }.reduce(0, +) / Double(ws.count)).squareRoot()
      #expect(abs(std - 0.01) < 0.002)
      // The default is Gluon's uniform(0.07).
      let d = Dense(50)
      _ = d(Tensor.zeros([1, 50]))
      #expect(d.weight!.scalars.allSatisfy { abs($0) <= 0.07 })
      #expect(d.weight!.scalars.map(abs).max()! > 0.06)
    }

    @Test func sgdStepUpdatesAndZeroesGradients() {
      let w = Tensor([1, 2, 3], shape: [3]).asParameter()
      let b = Tensor([0.5], shape: [1]).asParameter()
      let unused = Tensor([9], shape: [1]).asParameter()
      let x = Tensor([2, -1, 4], shape: [3])
      let loss = Autograd.record { (w * x + b).sum() * 2 }
      loss.backward()
      expectClose(w.grad!.scalars, [4, -2, 8], tol: 0)
      expectClose(b.grad!.scalars, [6], tol: 0)
      let sgd = SGD([w, b, unused], learningRate: 0.1)
      sgd.step()
      expectClose(w.scalars, [1 - 0.4, 2 + 0.2, 3 - 0.8], tol: 1e-7)
      expectClose(b.scalars, [0.5 - 0.6], tol: 1e-7)
      #expect(unused.scalars == [9])
      #expect(w.grad!.scalars == [0, 0, 0] && b.grad!.scalars == [0])
      // Gradients accumulate across backward passes until the step.
      Autograd.record { (w * x).sum() }.backward()
      Autograd.record { (w * x).sum() }.backward()
      expectClose(w.grad!.scalars, [4, -2, 8], tol: 0)
      w.zeroGrad()
      #expect(w.grad!.scalars == [0, 0, 0])
    }

    @Test func autogradModesAndTape() {
      #expect(!Autograd.isRecording && !Autograd.isTraining)
      let w = Tensor([1, 2], shape: [2]).asParameter()
      let y = w * w  // not recording
      #expect(!y.requiresGrad)
      Autograd.record {
        #expect(Autograd.isRecording && Autograd.isTraining)
        Autograd.predict { #expect(!Autograd.isRecording && !Autograd.isTraining) }
        #expect(Autograd.isRecording)
        let z = w * Tensor([3, 4], shape: [2])
        #expect(z.requiresGrad && !z.isParameter)
        let c = Tensor([1], shape: [1]) * 2  // no input requires a gradient
        #expect(!c.requiresGrad)
      }
      Autograd.clearTape()
      Autograd.record(train: false) { #expect(Autograd.isRecording && !Autograd.isTraining) }
      #expect(!Autograd.isRecording && !Autograd.isTraining)
      // Intermediate results drop their gradients; leaves keep them.
      var mid: Tensor!
      let loss = Autograd.record { () -> Tensor in
        mid = w.squared()
        return mid.sum()
      }
      loss.backward()
      #expect(mid.grad == nil)
      expectClose(w.grad!.scalars, [2, 4], tol: 0)
      // A tensor used twice gets both contributions.
      w.zeroGrad()
      Autograd.record { (w.exp() + w.exp() * w).sum() }.backward()
      expectClose(w.grad!.scalars, [Float(1), 2].map { Double(Foundation.exp($0) * (2 + $0)) }, tol: 1e-6)
    }

    @Test func descriptionPrintsLikeNumPy() {
      #expect(Tensor([1, 2, 3, 4], shape: [2, 2]).description == "[[1.0, 2.0],\n [3.0, 4.0]]")
      #expect(Tensor(scalar: 2.5).description == "2.5")
    }
  }
}

extension EngineTests {
  /// The memory pre-flight measures a network before it trains; `restoringState(after:)`
  /// must leave no trace of that, or a seed would give other numbers with the pre-flight
  /// than without it.
  @Suite struct RestoringState {
    static func network() -> Sequential {
      Sequential {
        Conv2D(4, kernel: 3, padding: 1)
        BatchNorm()
        ReLU()
        Dropout(0.5)
        Dense(10)
      }
    }

    /// Output of a recorded (training-mode) forward and the moving mean after it.
    static func trainingStep(_ net: Sequential, _ x: Tensor) -> ([Float], [Float]) {
      let y = Autograd.record { net(x) }
      Autograd.clearTape()
      let norm = net[1] as! BatchNorm
      return (y.scalars, norm.movingMean!.scalars)
    }

    @Test func aMeasuredNetworkTrainsAsAnUnmeasuredOne() {
      let x = Tensor((0..<(2 * 1 * 6 * 6)).map { Float($0 % 7) / 7 }, shape: [2, 1, 6, 6])
      EngineRandom.seed(7)
      let plain = Self.network()
      plain.initialize(.xavier, forceReinit: true)
      let expected = Self.trainingStep(plain, x)

      EngineRandom.seed(7)
      let measured = Self.network()
      measured.initialize(.xavier, forceReinit: true)
      measured.restoringState {
        _ = Autograd.record { measured(Tensor(repeating: 0.5, shape: [1, 1, 9, 9])) }
        Autograd.clearTape()
      }
      #expect(measured.parameterCount == 0, "the probe's parameters (for 9x9 inputs) were kept")
      let got = Self.trainingStep(measured, x)
      #expect(got.0 == expected.0)
      #expect(got.1 == expected.1)
    }

    /// Parameters that existed before keep their values, and moving statistics get theirs back.
    @Test func existingStateComesBack() {
      EngineRandom.seed(3)
      let net = Self.network()
      let x = Tensor(repeating: 0.25, shape: [2, 1, 6, 6])
      _ = Self.trainingStep(net, x)
      let before = net.namedState().map(\.tensor.scalars)
      let generator = EngineRandom.generator.state
      net.restoringState { _ = Self.trainingStep(net, Tensor(repeating: 2, shape: [2, 1, 6, 6])) }
      #expect(net.namedState().map(\.tensor.scalars) == before)
      #expect(EngineRandom.generator.state == generator)
    }
  }
}
