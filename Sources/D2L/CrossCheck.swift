import Datasets
import Engine
import Foundation

/// The engine's half of the step-by-step comparison with PyTorch
/// (`scripts/crosscheck-pytorch.py`): a chapter's network, its initial state, real
/// Fashion-MNIST batches, and what `steps` SGD steps of `trainCh6` made of them.
///
/// It writes three safetensors files into `folder`:
/// - `initial.safetensors`: every tensor of `Module.namedState()` before the first step
///   (Xavier weights, zero biases, batch norm's unit scales and fresh moving statistics);
/// - `batches.safetensors`: `images` `[steps · batch, 1, H, W]` (float32) and `labels`
///   (u64), the batches in the order they were trained on;
/// - `after.safetensors`: the state after the last step, `losses` (float64, one per step),
///   and of the first step `logits` (the network's output for the first batch, in training
///   mode) and `grad.NAME`, every parameter's gradient.
///
/// Dropout is switched off in `net` (its probability set to 0), so that both sides compute
/// the same deterministic function; everything else is the training step `trainCh6` takes.
public func writeCrossCheck(
  _ net: Module, batches trainIter: BatchLoader, steps: Int, lr: Double, model: String,
  to folder: String
) throws {
  for case let dropout as Dropout in net.modules() { dropout.probability = 0 }
  let batches = Array(trainIter.epoch(0).prefix(steps))
  guard batches.count == steps, let first = batches.first else {
    throw CrossCheckError("the data gave \(batches.count) batches, \(steps) were asked for")
  }
  net.initialize(.xavier, forceReinit: true)
  fuseBatchNormActivations(in: net)  // the network as `trainCh6` trains it
  // Parameters are created at the first call, with the shapes it infers.
  Autograd.predict { _ = net(first.tensor) }
  try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)

  var initial = SafeTensorsFile()
  for (name, tensor) in net.namedState() { initial.add(name, tensor) }
  initial.metadata = [
    "model": model, "lr": "\(lr)", "steps": "\(steps)", "batch": "\(trainIter.batchSize)",
    "height": "\(first.height)", "width": "\(first.width)",
  ]
  try initial.write(to: folder + "/initial.safetensors")

  var data = SafeTensorsFile()
  data.add("images", Tensor(batches.flatMap(\.images), shape: [batches.map(\.count).reduce(0, +), 1, first.height, first.width]))
  data.add("labels", words: batches.flatMap(\.labels).map { UInt64($0) })
  data.metadata = ["batch_sizes": batches.map { "\($0.count)" }.joined(separator: ",")]
  try data.write(to: folder + "/batches.safetensors")

  var optimizer: SGD?
  var losses: [Double] = []
  var after = SafeTensorsFile()
  for (step, batch) in batches.enumerated() {
    let (logits, loss) = recordedLoss(net, batch)
    losses.append(Double(loss.item))
    loss.backward()
    if step == 0 {
      after.add("logits", logits)
      for (name, tensor) in net.namedState() {
        if let grad = tensor.grad { after.add("grad." + name, grad) }
      }
    }
    sgdUpdate(net, &optimizer, lr: lr)
  }
  for (name, tensor) in net.namedState() { after.add(name, tensor) }
  after.add("losses", doubles: losses)
  after.metadata = initial.metadata
  try after.write(to: folder + "/after.safetensors")
}

/// The cross-check could not be prepared.
public struct CrossCheckError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}
