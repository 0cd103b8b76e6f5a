/// Matrices derived from a weight alone (a convolution's live kernel window, its plane
/// matrix, the direct and Winograd convolutions' packed kernels), kept for the length of one
/// `Autograd.predict` block, so that an evaluation loop derives them once instead of at every
/// batch. On the last stages of ResNet-18, DenseNet and GoogLeNet at 32 px, deriving them
/// read or wrote megabytes per layer and batch: in a training step they are derived once per
/// weight value anyway, but a test set of 10,000 images at batch 64 derived them 157 times
/// over the same weights.
///
/// An entry is valid while its weight's values stay as they were, which the cache cannot
/// see; so it lives only inside `predict` and is emptied when the outermost block ends, when
/// recording starts, and when an optimizer steps, an initializer draws or a checkpoint loads
/// (the engine's own ways of changing parameters). Code that writes a weight's values by hand
/// inside a `predict` block and calls the network again there would see the old ones.
///
/// Entries keep their weight alive (so its identity is not reused) and stop being added once
/// they hold `capacityBytes`: beyond that a derivation is simply done again, as outside
/// `predict`.
enum PredictionCache {
  struct Key: Hashable {
    let weight: ObjectIdentifier
    let kind: Kind
    let geometry: ConvGeometry
  }

  enum Kind: Hashable {
    case liveKernelWindow, planeMatrix, packedDirectKernel, packedWinogradKernel
  }

  private struct Entry {
    let weight: Tensor
    let value: Tensor
  }

  /// The most bytes the entries hold together: ResNet-18's plane matrices at 32 px take about
  /// 20 MiB, far under the peak of a training step they would share the memory with.
  static let capacityBytes = 64 << 20

  // Safe, as Autograd's mode: one network runs at a time, on one thread, and the kernels'
  // worker threads never reach the cache (it is read and filled before they start).
  nonisolated(unsafe) private static var entries: [Key: Entry] = [:]
  nonisolated(unsafe) private static var bytes = 0
  /// How many `predict` blocks are open; entries are kept only while one is.
  nonisolated(unsafe) static var depth = 0
  /// Derivations the cache has stored since the process started (for tests).
  nonisolated(unsafe) private(set) static var stores = 0

  /// Whether derivations may be looked up and kept now: inside `predict`, not recording.
  static var isOpen: Bool { depth > 0 && !Autograd.isRecording }

  /// The value cached for `weight` under `kind` and `geometry`, or, made by `make` now,
  /// that value kept for the rest of the block when the cache is open and has room.
  static func value(
    of weight: Tensor, _ kind: Kind, _ geometry: ConvGeometry, make: () -> Tensor
  ) -> Tensor {
    guard isOpen else { return make() }
    let key = Key(weight: ObjectIdentifier(weight), kind: kind, geometry: geometry)
    if let entry = entries[key] { return entry.value }
    let value = make()
    let size = value.count * MemoryLayout<Float>.stride
    if bytes + size <= capacityBytes {
      entries[key] = Entry(weight: weight, value: value)
      bytes += size
      stores += 1
    }
    return value
  }

  /// A convolution's packed kernel of `floats` floats, written by `pack`, kept for the rest
  /// of the block; nil when the cache is closed, where the caller packs into its scratch
  /// for the one call.
  static func packedKernel(
    of weight: Tensor, _ kind: Kind, _ geometry: ConvGeometry, floats: Int,
    pack: (UnsafeMutablePointer<Float>) -> Void
  ) -> Tensor? {
    guard isOpen else { return nil }
    return value(of: weight, kind, geometry) {
      let packed = Tensor(uninitializedShape: [floats])
      pack(packed.data)
      return packed
    }
  }

  /// Forgets every entry.
  static func clear() {
    guard !entries.isEmpty else { return }
    entries.removeAll()
    bytes = 0
  }

  /// Entries held now (for tests).
  static var count: Int { entries.count }
}
