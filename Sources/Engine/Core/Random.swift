/// The engine's one source of randomness (weight initialisation, dropout,
/// random tensors): xoshiro256** seeded through SplitMix64, so that a seed
/// reproduces a run bit for bit.
public struct SeededGenerator: RandomNumberGenerator {
  private var s: (UInt64, UInt64, UInt64, UInt64)

  public init(seed: UInt64) {
    var x = seed
    func splitmix() -> UInt64 {
      x &+= 0x9E37_79B9_7F4A_7C15
      var z = x
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    s = (splitmix(), splitmix(), splitmix(), splitmix())
  }

  /// The generator's four words of state, for checkpoints: `init(state:)` continues the
  /// sequence exactly where it was.
  public var state: [UInt64] { [s.0, s.1, s.2, s.3] }

  /// A generator continuing from a saved `state` (four words, not all zero).
  public init?(state: [UInt64]) {
    guard state.count == 4, state.contains(where: { $0 != 0 }) else { return nil }
    s = (state[0], state[1], state[2], state[3])
  }

  public mutating func next() -> UInt64 {
    let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
    let t = s.1 << 17
    s.2 ^= s.0
    s.3 ^= s.1
    s.1 ^= s.2
    s.0 ^= s.3
    s.2 ^= t
    s.3 = (s.3 << 45) | (s.3 >> 19)
    return result
  }

  /// A Float uniform in [0, 1), from the top 24 bits.
  @inline(__always)
  public mutating func nextUnitFloat() -> Float {
    Float(next() >> 40) * (1.0 / 16_777_216.0)
  }
}

/// The process-wide generator the engine draws from.
public enum EngineRandom {
  // Safe: drawn from only on the thread that runs the network, never inside a parallel
  // region (kernels take their draws before they split the work).
  nonisolated(unsafe) public static var generator = SeededGenerator(seed: 0)

  public static func seed(_ seed: UInt64) {
    generator = SeededGenerator(seed: seed)
  }
}
