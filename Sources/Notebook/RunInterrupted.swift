import Foundation

/// A run stopped by SIGINT or SIGTERM. Training throws it after saving a checkpoint; the
/// runner then writes no report (those already written stay as they were) and exits 1.
public struct RunInterrupted: Error, CustomStringConvertible {
  /// The signal, as `Interruption.signalName` gives it.
  public var signal: String
  /// Where training stood and where its state was saved, if training was running.
  public var network: String?
  public var epoch: Int?
  public var batch: Int?
  public var checkpointPath: String?

  public init(
    signal: String, network: String? = nil, epoch: Int? = nil, batch: Int? = nil,
    checkpointPath: String? = nil
  ) {
    self.signal = signal
    self.network = network
    self.epoch = epoch
    self.batch = batch
    self.checkpointPath = checkpointPath
  }

  public var description: String {
    var text = "interrupted by \(signal)"
    if let network, let epoch, let batch {
      text += " while training \(network) (epoch \(epoch), after batch \(batch))"
    }
    if let checkpointPath { text += "; its state is saved in \(checkpointPath)" }
    return text
  }
}
