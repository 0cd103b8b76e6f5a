import Engine
import Foundation
import Notebook

/// Where a `trainCh6` run stands: everything besides the network's tensors that it needs to
/// go on as if it had never stopped. Saved with the network in a safetensors checkpoint at the
/// end of every epoch and when SIGINT or SIGTERM stops training mid-epoch.
struct TrainingProgress: Equatable {
  /// Epochs completed (their test accuracy measured).
  var epoch = 0
  /// Batches of epoch `epoch` already trained on; 0 at an epoch boundary, the number of
  /// batches when only the epoch's test accuracy is missing.
  var batch = 0
  /// The running sums of the epoch in progress.
  var lossSum = 0.0
  var correct = 0
  var seen = 0
  var epochSeconds = 0.0
  /// Totals over the finished epochs.
  var trainSeconds = 0.0
  var examplesSeen = 0
  /// Wall time spent in this training before the checkpoint (all attempts together).
  var wallSeconds = 0.0
  var flopsPerExample = 0
  var losses: [Double] = []
  var trainAccuracies: [Double] = []
  var testAccuracies: [Double] = []
  /// The points of the training curve drawn so far, this epoch's included.
  var curve: [TrainingSummary.CurvePoint] = []
  /// SGD steps taken: the optimizer's only state besides its learning rate.
  var steps = 0
}

/// Saves and restores a training: the network's state tensors (`model.` + their property
/// path), the engine's random generator (dropout draws from it), the optimizer's learning
/// rate and step count, and the `TrainingProgress`.
enum TrainingCheckpoint {
  static let format = "d2l-swift-trainch6-2"

  static func save(
    _ net: Module, progress: TrainingProgress, lr: Double, network: String, to path: String
  ) throws {
    var file = SafeTensorsFile()
    for (name, tensor) in net.namedState() { file.add("model." + name, tensor) }
    file.add("rng.state", words: EngineRandom.generator.state)
    file.add("training.losses", doubles: progress.losses)
    file.add("training.train_accuracies", doubles: progress.trainAccuracies)
    file.add("training.test_accuracies", doubles: progress.testAccuracies)
    file.add("training.curve.epochs", doubles: progress.curve.map(\.epoch))
    file.add("training.curve.losses", doubles: progress.curve.map(\.loss))
    file.add("training.curve.train_accuracies", doubles: progress.curve.map(\.trainAccuracy))
    file.add(
      "training.seconds",
      doubles: [progress.lossSum, progress.epochSeconds, progress.trainSeconds, progress.wallSeconds])
    file.metadata = [
      "format": format, "network": network, "optimizer": "sgd", "optimizer.lr": "\(lr)",
      "optimizer.steps": "\(progress.steps)", "epoch": "\(progress.epoch)",
      "batch": "\(progress.batch)", "correct": "\(progress.correct)", "seen": "\(progress.seen)",
      "examples_seen": "\(progress.examplesSeen)", "flops_per_example": "\(progress.flopsPerExample)",
    ]
    try file.write(to: path)
  }

  /// Loads a checkpoint into `net` (whose parameters must all exist: call the network once
  /// first) and the engine's generator. Throws when the file is not this training's: another
  /// format, network, learning rate, or tensors that do not match the network's names and
  /// shapes.
  static func load(_ net: Module, lr: Double, network: String, from path: String) throws
    -> TrainingProgress
  {
    let file = try SafeTensorsFile(contentsOf: path)
    let meta = file.metadata
    guard meta["format"] == format, meta["network"] == network, meta["optimizer.lr"] == "\(lr)"
    else {
      throw SafeTensorsError("\(path) is not a checkpoint of this training")
    }
    let state = net.namedState()
    let expected = Set(state.map { "model." + $0.name })
    let stored = Set(file.names.filter { $0.hasPrefix("model.") })
    guard expected == stored else {
      throw SafeTensorsError("\(path) holds other tensors than the network has")
    }
    // Every shape is checked before anything is copied: a failed resume leaves the network
    // as it was.
    for (name, tensor) in state where file.entries["model." + name]?.shape != tensor.shape {
      throw SafeTensorsError("\(path): \(name) has another shape than the network's")
    }
    for (name, tensor) in state { try file.load("model." + name, into: tensor) }
    guard let generator = SeededGenerator(state: try file.words("rng.state")) else {
      throw SafeTensorsError("\(path): bad generator state")
    }
    func int(_ key: String) throws -> Int {
      guard let v = meta[key].flatMap({ Int($0) }), v >= 0 else {
        throw SafeTensorsError("\(path): metadata '\(key)' is missing or not a count")
      }
      return v
    }
    let curveEpochs = try file.doubles("training.curve.epochs")
    let curveLosses = try file.doubles("training.curve.losses")
    let curveAccuracies = try file.doubles("training.curve.train_accuracies")
    guard curveLosses.count == curveEpochs.count, curveAccuracies.count == curveEpochs.count else {
      throw SafeTensorsError("\(path): the training curve's series differ in length")
    }
    let seconds = try file.doubles("training.seconds")
    guard seconds.count == 4 else { throw SafeTensorsError("\(path): bad training.seconds") }
    let progress = TrainingProgress(
      epoch: try int("epoch"), batch: try int("batch"), lossSum: seconds[0],
      correct: try int("correct"), seen: try int("seen"), epochSeconds: seconds[1],
      trainSeconds: seconds[2], examplesSeen: try int("examples_seen"), wallSeconds: seconds[3],
      flopsPerExample: try int("flops_per_example"), losses: try file.doubles("training.losses"),
      trainAccuracies: try file.doubles("training.train_accuracies"),
      testAccuracies: try file.doubles("training.test_accuracies"),
      curve: zip(curveEpochs, zip(curveLosses, curveAccuracies)).map {
        TrainingSummary.CurvePoint(epoch: $0, loss: $1.0, trainAccuracy: $1.1)
      },
      steps: try int("optimizer.steps"))
    guard progress.losses.count == progress.epoch, progress.trainAccuracies.count == progress.epoch,
      progress.testAccuracies.count == progress.epoch
    else { throw SafeTensorsError("\(path): the history does not match epoch \(progress.epoch)") }
    EngineRandom.generator = generator
    return progress
  }
}
