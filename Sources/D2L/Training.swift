import Datasets
import Engine
import Foundation
import Notebook

/// The book's `train_ch6`: Xavier initialisation, minibatch SGD on the mean
/// softmax cross-entropy, and after each epoch the training loss and accuracy
/// (measured on the training batches as they were seen, in training mode)
/// and the test accuracy (in prediction mode).
///
/// Prints the book's two log lines (`loss 0.243, train acc 0.909, test acc
/// 0.874` and `N examples/sec on cpu`, training time only), adds the
/// training curves to the report, and shows a progress bar on a terminal.
///
/// - Throws: `TrainingDiverged` at the first non-finite loss.
@discardableResult
public func trainCh6(
  _ net: Module, _ trainIter: BatchLoader, _ testIter: BatchLoader, numEpochs: Int, lr: Double,
  network: String = "network"
) throws -> TrainingSummary {
  if let wanted = captureNetworkNamed, network.contains(wanted) {
    throw NetworkCaptured(network: net)
  }
  let session = NotebookSession.current
  if session?.settings.skipTraining == true {
    return TrainingSummary(
      network: network, parameterCount: net.parameterCount, flopsPerExample: 0, epochs: 0,
      finalLoss: .nan, trainAccuracy: .nan, testAccuracy: .nan, examplesPerSecond: 0,
      wallSeconds: 0)
  }
  net.initialize(.xavier, forceReinit: true)
  let progress = session?.makeProgressBar(label: network)
    ?? ProgressBar(label: network, quiet: true)
  var optimizer: SGD?
  var losses: [Double] = [], trainAccs: [Double] = [], testAccs: [Double] = []
  var trainSeconds = 0.0, examplesSeen = 0
  var flopsPerExample = 0
  let wallStart = ProgressBar.now()

  for epoch in 0..<numEpochs {
    var lossSum = 0.0, correct = 0, seen = 0
    var epochSeconds = 0.0
    for (b, batch) in trainIter.epoch(epoch).enumerated() {
      let start = ProgressBar.now()
      let x = batch.tensor
      Autograd.clearTape()
      let flopsBefore = FLOPCounter.count
      let (yHat, loss) = Autograd.record {
        let yHat = net(x)
        return (yHat, softmaxCrossEntropy(yHat, labels: batch.labels))
      }
      if flopsPerExample == 0 { flopsPerExample = (FLOPCounter.count - flopsBefore) / batch.count }
      let l = Double(loss.item)
      guard l.isFinite else {
        progress.finish()
        throw TrainingDiverged(network: network, epoch: epoch + 1, batch: b + 1, lr: lr)
      }
      loss.backward()
      if optimizer == nil { optimizer = SGD(net.parameters(), learningRate: Float(lr)) }
      optimizer!.step()
      lossSum += l * Double(batch.count)
      correct += zip(yHat.argmaxRows(), batch.labels).filter { $0 == Int($1) }.count
      seen += batch.count
      epochSeconds += ProgressBar.now() - start
      if epoch == 0 && b == warmupBatches - 1 {
        progress.note(estimate(
          network: network, flopsPerExample: flopsPerExample, seconds: epochSeconds,
          examples: seen, epochs: numEpochs, train: trainIter, test: testIter))
      }
      progress.update(
        epoch: epoch + 1, epochs: numEpochs, batch: b + 1, batches: trainIter.numberOfBatches,
        examplesPerSecond: Double(seen) / max(epochSeconds, 1e-9), loss: lossSum / Double(seen))
    }
    trainSeconds += epochSeconds
    examplesSeen += seen
    losses.append(lossSum / Double(max(seen, 1)))
    trainAccs.append(Double(correct) / Double(max(seen, 1)))
    testAccs.append(evaluateAccuracy(net, testIter))
    progress.endEpoch(summary: String(
      format: "loss %.3f, train acc %.3f, test acc %.3f", losses.last!, trainAccs.last!,
      testAccs.last!))
  }
  progress.finish()

  let summary = TrainingSummary(
    network: network, parameterCount: net.parameterCount, flopsPerExample: flopsPerExample,
    epochs: numEpochs, finalLoss: losses.last ?? .nan, trainAccuracy: trainAccs.last ?? .nan,
    testAccuracy: testAccs.last ?? .nan,
    examplesPerSecond: Double(examplesSeen) / max(trainSeconds, 1e-9),
    wallSeconds: ProgressBar.now() - wallStart, lossPerEpoch: losses,
    trainAccuracyPerEpoch: trainAccs, testAccuracyPerEpoch: testAccs)
  print(String(
    format: "loss %.3f, train acc %.3f, test acc %.3f", summary.finalLoss, summary.trainAccuracy,
    summary.testAccuracy))
  print(String(format: "%.1f examples/sec on cpu", summary.examplesPerSecond))
  session?.addFigure(
    svg: LinePlot.trainingCurves(summary).svg(),
    caption: "\(network): training loss, training accuracy and test accuracy per epoch")
  session?.recordTraining(summary)
  return summary
}

/// Batches timed before the estimate of the whole run is printed.
let warmupBatches = 3

/// The time the whole training will take, from a timed warm-up: training
/// examples at the warm-up's rate, test examples (forward only) at about
/// three times that rate.
func estimate(
  network: String, flopsPerExample: Int, seconds: Double, examples: Int, epochs: Int,
  train: BatchLoader, test: BatchLoader
) -> String {
  let perExample = seconds / Double(max(examples, 1))
  let total = Double(epochs) * perExample
    * (Double(train.numberOfExamples) + Double(test.numberOfExamples) / 3)
  let gflop = Double(flopsPerExample) / 1e9
  return String(
    format: "%@: %@FLOPs per example forward; warm-up %.0f examples/s (%.1f GFLOP/s training); "
      + "estimated %@ for %d epochs of %d training images", network, scaled(flopsPerExample),
    1 / max(perExample, 1e-12), 3 * gflop / max(perExample, 1e-12),
    ProgressBar.formatDuration(total), epochs, train.numberOfExamples)
}

/// Fraction of the batches' examples whose highest-scoring class is the label,
/// computed in prediction mode.
public func evaluateAccuracy(_ net: Module, _ iter: BatchLoader) -> Double {
  var correct = 0, seen = 0
  Autograd.predict {
    for batch in iter.epoch(0) {
      let yHat = net(batch.tensor)
      correct += zip(yHat.argmaxRows(), batch.labels).filter { $0 == Int($1) }.count
      seen += batch.count
    }
  }
  return Double(correct) / Double(max(seen, 1))
}

/// Training stopped because the loss stopped being a finite number.
public struct TrainingDiverged: Error, CustomStringConvertible {
  public var network: String
  public var epoch: Int
  public var batch: Int
  public var lr: Double

  public var description: String {
    "training of \(network) diverged: the loss became NaN or infinite at epoch \(epoch), "
      + "batch \(batch), with learning rate \(lr). Try a lower learning rate, e.g. "
      + "--set lr=\(lr / 10)."
  }
}
