import Common
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
/// Saves a checkpoint (`TrainingCheckpoint`) at the end of every epoch; with the run's
/// `resume` setting it continues from one, and ends with the numbers an uninterrupted run
/// gives. SIGINT or SIGTERM stops it after the current batch, with a checkpoint.
///
/// Inside a run (unless `--no-cache`), a training whose key is in the training cache
/// (`TrainingCacheKey`, `CachedTraining`) is not run: the stored parameters, generator and
/// summary are loaded and shown as a fresh training's would be, with a note saying so; a
/// finished training is stored there.
///
/// - Throws: `NotEnoughMemory` before it starts, when its estimated peak is over what the
///   process can have (`MemoryPreflight`); `TrainingDiverged` at the first non-finite or
///   exploding loss; `RunInterrupted` after a signal.
@discardableResult
public func trainCh6(
  _ net: Module, _ trainIter: BatchLoader, _ testIter: BatchLoader, numEpochs: Int, lr: Double,
  network: String = "network"
) throws -> TrainingSummary {
  let session = NotebookSession.current
  if let session, let wanted = session.settings.captureNetwork, network.contains(wanted),
    session.capturedTraining == nil
  {
    session.capturedTraining = CapturedTraining(network: net, trainIter: trainIter, lr: lr)
  }
  if session?.settings.skipTraining == true || session?.capturedTraining != nil {
    return TrainingSummary(
      network: network, parameterCount: net.parameterCount, flopsPerExample: 0, epochs: 0,
      finalLoss: .nan, trainAccuracy: .nan, testAccuracy: .nan, examplesPerSecond: 0,
      wallSeconds: 0)
  }
  if Interruption.requested {
    throw RunInterrupted(signal: Interruption.signalName ?? "a signal", network: network)
  }
  // Buffers kept for the shapes of earlier cells (shape tables at 224 pixels) would only
  // add to this training's memory.
  EngineMemory.releaseCachedBuffers()
  net.initialize(.xavier, forceReinit: true)
  fuseBatchNormActivations(in: net)
  let progress = session?.makeProgressBar(label: network)
    ?? ProgressBar(label: network, quiet: true)
  let checkpoint = session?.nextCheckpointPath()
  var cacheEntry: (key: TrainingCacheKey, path: String)?
  if let session, session.settings.useCache {
    let key = session.trainingCacheKey(
      network: network, engine: CachedTraining.engineIdentity,
      data: CachedTraining.dataIdentity(train: trainIter, test: testIter))
    let path = session.trainingCachePath(key)
    cacheEntry = (key, path)
    if let summary = cachedSummary(net, trainIter, key: key, path: path, network: network) {
      return summary
    }
  }
  try trainIter.readImages()
  try testIter.readImages()
  try MemoryPreflight.checkTraining(net, trainIter, network: network)
  var p = TrainingProgress()
  if let checkpoint, session?.settings.resume == true {
    if let restored = resume(net, trainIter, lr: lr, network: network, from: checkpoint, progress) {
      p = restored
    }
  }
  var optimizer: SGD?
  let wallStart = ProgressBar.now() - p.wallSeconds

  /// Saves where training stands (when the run has a checkpoint file).
  func save() throws {
    guard let checkpoint else { return }
    p.wallSeconds = ProgressBar.now() - wallStart
    try TrainingCheckpoint.save(net, progress: p, lr: lr, network: network, to: checkpoint)
  }
  /// Saves and stops: SIGINT or SIGTERM arrived.
  func interrupted() throws -> RunInterrupted {
    progress.finish()
    try save()
    return RunInterrupted(
      signal: Interruption.signalName ?? "a signal", network: network, epoch: p.epoch + 1,
      batch: p.batch, checkpointPath: checkpoint)
  }

  while p.epoch < numEpochs {
    let epoch = p.epoch
    for batch in trainIter.epoch(epoch, from: p.batch) {
      let start = ProgressBar.now()
      let flopsBefore = FLOPCounter.count
      let (yHat, loss) = recordedLoss(net, batch)
      if p.flopsPerExample == 0 {
        p.flopsPerExample = (FLOPCounter.count - flopsBefore) / batch.count
      }
      let l = Double(loss.item)
      let runningMean = (p.lossSum + l * Double(batch.count)) / Double(p.seen + batch.count)
      let classes = yHat.shape.last ?? 1
      guard l.isFinite, !DivergenceRule.exploded(meanLoss: runningMean, classes: classes) else {
        progress.finish()
        throw TrainingDiverged(
          network: network, epoch: epoch + 1, batch: p.batch + 1, lr: lr,
          meanLoss: l.isFinite ? runningMean : nil, classes: classes)
      }
      loss.backward()
      sgdUpdate(net, &optimizer, lr: lr)
      p.steps += 1
      p.batch += 1
      p.lossSum += l * Double(batch.count)
      p.correct += zip(yHat.argmaxRows(), batch.labels).filter { $0 == Int($1) }.count
      p.seen += batch.count
      p.epochSeconds += ProgressBar.now() - start
      if let point = curvePoint(p, epoch: epoch, batches: trainIter.numberOfBatches) {
        p.curve.append(point)
        if let events = session?.events { emitPoint(point, network: network, to: events) }
      }
      if epoch == 0 && p.batch == warmupBatches && p.seen == warmupBatches * trainIter.batchSize {
        progress.note(estimate(
          network: network, flopsPerExample: p.flopsPerExample, seconds: p.epochSeconds,
          examples: p.seen, epochs: numEpochs, train: trainIter, test: testIter))
      }
      let rate = Double(p.seen) / max(p.epochSeconds, 1e-9)
      let meanLoss = p.lossSum / Double(p.seen)
      progress.update(
        epoch: epoch + 1, epochs: numEpochs, batch: p.batch, batches: trainIter.numberOfBatches,
        examplesPerSecond: rate, loss: meanLoss)
      if let events = session?.events {
        let now = ProgressBar.now()
        events.progress(
          network: network, epoch: epoch + 1, epochs: numEpochs, batch: p.batch,
          batches: trainIter.numberOfBatches, examplesPerSecond: rate, loss: meanLoss,
          etaSeconds: ProgressBar.eta(
            epoch: epoch + 1, epochs: numEpochs, batch: p.batch,
            batches: trainIter.numberOfBatches, elapsed: now - wallStart),
          now: now)
      }
      if Interruption.requested { throw try interrupted() }
    }
    guard let testAccuracy = evaluateAccuracy(net, testIter, stopOnInterruption: true) else {
      throw try interrupted()
    }
    p.trainSeconds += p.epochSeconds
    p.examplesSeen += p.seen
    p.losses.append(p.lossSum / Double(max(p.seen, 1)))
    p.trainAccuracies.append(Double(p.correct) / Double(max(p.seen, 1)))
    p.testAccuracies.append(testAccuracy)
    if let events = session?.events {
      emitTest(testAccuracy, epoch: epoch + 1, network: network, to: events)
    }
    progress.endEpoch(summary: String(
      format: "loss %.3f, train acc %.3f, test acc %.3f", p.losses.last!, p.trainAccuracies.last!,
      testAccuracy))
    p.epoch += 1
    p.batch = 0
    (p.lossSum, p.correct, p.seen, p.epochSeconds) = (0, 0, 0, 0)
    try save()
  }
  progress.finish()
  let (losses, trainAccs, testAccs) = (p.losses, p.trainAccuracies, p.testAccuracies)
  let (trainSeconds, examplesSeen, flopsPerExample) = (p.trainSeconds, p.examplesSeen, p.flopsPerExample)

  let summary = TrainingSummary(
    network: network, parameterCount: net.parameterCount, flopsPerExample: flopsPerExample,
    epochs: numEpochs, finalLoss: losses.last ?? .nan, trainAccuracy: trainAccs.last ?? .nan,
    testAccuracy: testAccs.last ?? .nan,
    examplesPerSecond: Double(examplesSeen) / max(trainSeconds, 1e-9),
    wallSeconds: ProgressBar.now() - wallStart, lossPerEpoch: losses,
    trainAccuracyPerEpoch: trainAccs, testAccuracyPerEpoch: testAccs, trainingCurve: p.curve)
  if let cacheEntry {
    do {
      try CachedTraining.save(net, summary: summary, key: cacheEntry.key, to: cacheEntry.path)
      TrainingCache.evict(
        output: session!.plan.options.outputDirectory, limit: TrainingCache.limitBytes(),
        keep: cacheEntry.path)
    } catch {
      // A cache that cannot be written costs the next run a training, not this run its result.
      progress.note("\(network): not cached (\(error))")
    }
  }
  report(summary, network: network)
  return summary
}

/// What a finished training shows, fresh or from the cache: the book's two log lines, the
/// curves' figure, and the summary in the report's header and the index.
private func report(_ summary: TrainingSummary, network: String) {
  print(String(
    format: "loss %.3f, train acc %.3f, test acc %.3f", summary.finalLoss, summary.trainAccuracy,
    summary.testAccuracy))
  print(String(format: "%.1f examples/sec on cpu", summary.examplesPerSecond))
  let session = NotebookSession.current
  session?.addFigure(
    svg: LinePlot.trainingCurves(summary).svg(),
    caption: "\(network): training loss and accuracy five times per epoch, test accuracy "
      + "after each epoch")
  session?.recordTraining(summary)
}

/// The cached result of this training, loaded into `net`, with the note saying where it comes
/// from; nil when there is no entry, or when it cannot be used (damaged, another key): then
/// the training runs and replaces it, and a note says why.
private func cachedSummary(
  _ net: Module, _ trainIter: BatchLoader, key: TrainingCacheKey, path: String, network: String
) -> TrainingSummary? {
  guard FileManager.default.fileExists(atPath: path) else { return nil }
  // The parameters a network creates at its first call must exist before they are loaded.
  // Their shapes follow from an image's, so one blank image makes them, without reading any.
  func createParameters() {
    let blank = Tensor(zeros: [1, 1, trainIter.imageHeight, trainIter.imageWidth])
    Autograd.predict { _ = net(blank) }
  }
  let entry: CachedTraining.Entry
  do {
    entry = try CachedTraining.read(key: key, from: path)
    // Checked on a network put back as it was afterwards, so that a refused entry leaves the
    // training exactly as an uncached run starts it.
    try net.restoringState {
      createParameters()
      try entry.validate(net)
    }
    createParameters()
    try entry.apply(to: net)
  } catch {
    print("\(network): the cached training cannot be used (\(error)); training again")
    return nil
  }
  TrainingCache.touch(path)
  var summary = entry.summary
  summary.cachedAt = entry.savedAt
  if let events = NotebookSession.current?.events {
    // A watcher draws the cached curve as it would a fresh one's.
    for point in summary.trainingCurve { emitPoint(point, network: network, to: events) }
    for (k, accuracy) in summary.testAccuracyPerEpoch.enumerated() {
      emitTest(accuracy, epoch: k + 1, network: network, to: events)
    }
  }
  print("\(network): cached from \(Provenance.format(entry.savedAt)), saved "
    + "\(ProgressBar.formatDuration(summary.wallSeconds)) of training; --no-cache retrains")
  report(summary, network: network)
  return summary
}

/// The `point` event of one point of the training curve.
private func emitPoint(_ point: TrainingSummary.CurvePoint, network: String, to events: RunEventLog) {
  events.emit("point", [
    "network": network, "epoch": point.epoch, "loss": point.loss,
    "trainAccuracy": point.trainAccuracy,
  ])
}

/// The `test` event of epoch `epoch` (1-based).
private func emitTest(_ accuracy: Double, epoch: Int, network: String, to events: RunEventLog) {
  events.emit("test", ["network": network, "epoch": epoch, "testAccuracy": accuracy])
}

/// The forward half of a training step: the network's output for `batch` and the mean softmax
/// cross-entropy, recorded on a fresh tape for `backward()`.
func recordedLoss(_ net: Module, _ batch: Batch) -> (logits: Tensor, loss: Tensor) {
  let x = batch.tensor
  Autograd.clearTape()
  return Autograd.record {
    let logits = net(x)
    return (logits, softmaxCrossEntropy(logits, labels: batch.labels))
  }
}

/// The SGD update that ends a training step, once `backward()` has filled the gradients. The
/// optimizer is made at the first step, when the network's lazily shaped parameters exist;
/// from the second step on, dense layers' weights are updated by the backward pass itself
/// (`SGD.updatesInBackward`: the loop is one forward, one backward, one step).
func sgdUpdate(_ net: Module, _ optimizer: inout SGD?, lr: Double) {
  if optimizer == nil {
    optimizer = SGD(net.parameters(), learningRate: Float(lr), updatesInBackward: true)
  }
  optimizer!.step()
}

/// The point the training curve gets after batch `p.batch` of `epoch`, if any: as the book's
/// `train_ch6` draws it, every `batches / 5` batches and after the epoch's last, the running
/// loss and accuracy of the epoch so far, at epoch `epoch + p.batch / batches`. Epochs of
/// fewer than five batches get a point after every batch.
func curvePoint(_ p: TrainingProgress, epoch: Int, batches: Int) -> TrainingSummary.CurvePoint? {
  let every = max(batches / 5, 1)
  guard p.batch % every == 0 || p.batch == batches, p.seen > 0 else { return nil }
  return TrainingSummary.CurvePoint(
    epoch: Double(epoch) + Double(p.batch) / Double(batches),
    loss: p.lossSum / Double(p.seen), trainAccuracy: Double(p.correct) / Double(p.seen))
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
  evaluateAccuracy(net, iter, stopOnInterruption: false)!
}

/// As above; with `stopOnInterruption`, nil as soon as SIGINT or SIGTERM has arrived (a
/// test set at 224 pixels takes minutes).
func evaluateAccuracy(_ net: Module, _ iter: BatchLoader, stopOnInterruption: Bool) -> Double? {
  var correct = 0, seen = 0
  var stopped = false
  Autograd.predict {
    for batch in iter.epoch(0) {
      if stopOnInterruption && Interruption.requested {
        stopped = true
        break
      }
      let yHat = net(batch.tensor)
      correct += zip(yHat.argmaxRows(), batch.labels).filter { $0 == Int($1) }.count
      seen += batch.count
    }
  }
  return stopped ? nil : Double(correct) / Double(max(seen, 1))
}

/// Restores a training from its checkpoint, or returns nil (with a note saying why) so that
/// it starts from the beginning. The network is first called once on a training batch in
/// prediction mode, so that the parameters it creates at its first call exist.
func resume(
  _ net: Module, _ trainIter: BatchLoader, lr: Double, network: String, from path: String,
  _ progress: ProgressBar
) -> TrainingProgress? {
  guard FileManager.default.fileExists(atPath: path) else {
    progress.note("\(network): no checkpoint to resume from; training from the start")
    return nil
  }
  if let batch = trainIter.epoch(0).makeIterator().next() {
    Autograd.predict { _ = net(batch.tensor) }
  }
  do {
    let p = try TrainingCheckpoint.load(net, lr: lr, network: network, from: path)
    let place = p.epoch == 0 && p.batch == 0 ? "the start"
      : p.batch == 0 ? "the end of epoch \(p.epoch)" : "epoch \(p.epoch + 1), batch \(p.batch)"
    progress.note("\(network): resuming from \(place) (\(path))")
    return p
  } catch {
    // `load` changed nothing: the network keeps the weights it was just given.
    progress.note("\(network): cannot resume (\(error)); training from the start")
    return nil
  }
}

/// When a finite loss counts as diverged: the epoch's running mean cross-entropy above
/// `factor` times ln(classes). ln(classes) is the loss of a uniform guess, where every
/// network here starts (2.30 for Fashion-MNIST's ten classes), and training lowers it from
/// there: no point of the committed `reproduce` reports' training curves (running means
/// over fifths of an epoch, each section at its own rate) is above 2.31, and the smoke
/// profiles, which the CLI tests run, start at the same place. A mean a hundred times a
/// guess's (230 for ten classes) is a network whose outputs have run away, as
/// `--set lr=1e9` makes them: it would otherwise train on at a loss of billions and report
/// success.
public enum DivergenceRule {
  public static let factor = 100.0

  /// The cross-entropy of a uniform guess over `classes` classes: ln(classes).
  public static func uniformGuessLoss(classes: Int) -> Double {
    Foundation.log(Double(max(classes, 2)))
  }

  /// The largest running mean loss that still counts as training.
  public static func limit(classes: Int) -> Double { factor * uniformGuessLoss(classes: classes) }

  public static func exploded(meanLoss: Double, classes: Int) -> Bool {
    meanLoss > limit(classes: classes)
  }
}

/// Training stopped because the loss stopped being a finite number, or its running mean
/// exploded (`DivergenceRule`).
public struct TrainingDiverged: Error, CustomStringConvertible {
  public var network: String
  public var epoch: Int
  public var batch: Int
  public var lr: Double
  /// The epoch's running mean loss when it exploded; nil when the loss was NaN or infinite.
  public var meanLoss: Double?
  public var classes: Int = 10

  public var description: String {
    let what: String
    if let meanLoss {
      what = String(
        format: "the running mean loss reached %.4g, over %.0f times a uniform guess's "
          + "(ln %ld = %.2f)", meanLoss, DivergenceRule.factor, classes,
        DivergenceRule.uniformGuessLoss(classes: classes))
    } else {
      what = "the loss became NaN or infinite"
    }
    return "training of \(network) diverged: \(what) at epoch \(epoch), "
      + "batch \(batch), with learning rate \(lr). Try a lower learning rate, e.g. "
      + "--set lr=\(lr / 10)."
  }
}
