import Engine
import Foundation

/// What a network costs, measured by running it once on an input of the given
/// shape (batch 1 by default): per top-level layer its output shape,
/// parameters and FLOPs; in total the parameters, the FLOPs per example, and
/// the activation memory the tape keeps for the backward pass per example.
///
/// The figures are exact counts (FLOPs of convolutions and dense layers, a
/// multiply-add counting two), so a chapter can check them in an
/// ```` ```output ```` block.
public struct ModelSummary: CustomStringConvertible {
  public struct Row {
    public var name: String
    public var outputShape: [Int]
    public var parameters: Int
    public var flops: Int
  }

  public var rows: [Row]
  public var parameters: Int
  public var flopsPerExample: Int
  public var activationBytesPerExample: Int

  public var description: String {
    var lines = [pad("layer", 14) + pad("output shape", 22) + lpad("parameters", 13) + lpad("FLOPs", 12)]
    for r in rows {
      lines.append(
        pad(r.name, 14) + pad("\(r.outputShape)", 22) + lpad(grouped(r.parameters), 13)
          + lpad(scaled(r.flops), 12))
    }
    lines.append(
      pad("total", 36) + lpad(grouped(parameters), 13) + lpad(scaled(flopsPerExample), 12))
    lines.append(
      "activation memory kept for the backward pass: "
        + String(format: "%.2f MiB", Double(activationBytesPerExample) / 1_048_576) + " per example")
    return lines.joined(separator: "\n")
  }
}

/// Measures `net` on an all-0.5 input of `inputShape` (training mode, so that
/// the tape holds what a training step keeps). Creates the parameters of
/// layers that infer their input size, as the first call would.
public func modelSummary(_ net: Module, inputShape: [Int]) -> ModelSummary {
  let batch = max(inputShape.first ?? 1, 1)
  let layers = (net as? Sequential)?.layers ?? [net]
  var rows: [ModelSummary.Row] = []
  var flopsTotal = 0
  var activationBytes = 0
  Autograd.clearTape()
  Autograd.record {
    var x = Tensor(repeating: 0.5, shape: inputShape)
    // What the recorded forward pass leaves alive: the tensors the backward closures keep,
    // measured as the growth of live tensor memory, less parameters created on the way.
    let bytesBefore = EngineMemory.liveTensorBytes
    let parametersBefore = net.parameterCount
    for layer in layers {
      let before = FLOPCounter.count
      x = layer(x)
      let flops = (FLOPCounter.count - before) / batch
      flopsTotal += flops
      rows.append(.init(name: layer.name, outputShape: x.shape, parameters: layer.parameterCount, flops: flops))
    }
    let newParameterBytes = (net.parameterCount - parametersBefore) * 4
    activationBytes = max(EngineMemory.liveTensorBytes - bytesBefore - newParameterBytes, 0) / batch
  }
  Autograd.clearTape()
  return ModelSummary(
    rows: rows, parameters: net.parameterCount, flopsPerExample: flopsTotal,
    activationBytesPerExample: activationBytes)
}

private func pad(_ s: String, _ n: Int) -> String {
  s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count)
}

private func lpad(_ s: String, _ n: Int) -> String {
  s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s
}

