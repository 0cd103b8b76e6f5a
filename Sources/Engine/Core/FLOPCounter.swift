/// Counts the floating-point operations of convolutions and dense layers
/// (a multiply-add counts as two), for model summaries and GFLOP/s figures.
/// Other layers are memory-bound and left out, as is customary.
public enum FLOPCounter {
  // Safe: ops add to it on the thread that runs the network, before they split their work.
  nonisolated(unsafe) public static var count = 0

  @inline(__always)
  static func add(_ n: Int) { count &+= n }
}
