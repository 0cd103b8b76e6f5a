/// Fuses every `BatchNorm` that a `Sequential` directly follows with a ReLU or sigmoid
/// layer, anywhere in `net`: the norm then applies the activation in its own pass
/// (`BatchNorm.callAsFunction(_:activation:)`), and the activation layer passes its input on.
/// The network computes the same values, forward and backward, with one pass over those
/// activations instead of two and no tensor between them. Every layer of DenseNet's blocks
/// starts with such a pair, as do the stems of ResNet and DenseNet; LeNet-BN pairs batch norm
/// with sigmoid.
///
/// `trainCh6` and `chapter bench` apply it once before the first step. It changes the
/// modules in place: a fused norm called on its own, outside its `Sequential`, applies the
/// activation too. Running it again changes nothing.
///
/// - returns: how many pairs it fused.
@discardableResult
public func fuseBatchNormActivations(in net: Module) -> Int {
  var fused = 0
  for case let sequence as Sequential in net.modules() {
    for (norm, next) in zip(sequence.layers, sequence.layers.dropFirst()) {
      guard let norm = norm as? BatchNorm, let act = next as? ActivationLayer,
        act.function != .none, !act.appliedByPrecedingNorm, norm.fusedActivation == .none
      else { continue }
      norm.fusedActivation = act.function
      act.appliedByPrecedingNorm = true
      fused += 1
    }
  }
  return fused
}
