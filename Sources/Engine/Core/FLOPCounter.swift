/// Counts the floating-point operations of convolutions and dense layers
/// (a multiply-add counts as two), for model summaries and GFLOP/s figures.
/// Other layers are memory-bound and left out, as is customary.
public enum FLOPCounter {
  nonisolated(unsafe) public static var count = 0

  @inline(__always)
  static func add(_ n: Int) { count &+= n }
}
