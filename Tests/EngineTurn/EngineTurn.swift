import Testing

/// One test suite at a time on the engine, across test targets. The engine's mode (recording
/// or predicting), its tape, seed and thread count are process-wide, and Swift Testing runs
/// the suites of different targets side by side in one process: `TrainCh6Tests` (D2LTests)
/// predicting while an `EngineTests` suite recorded left that test's operations off the tape.
/// Each target serializes its own suites; this trait, on the top suite of each, makes them
/// take turns with each other too.
public struct EngineTurn: SuiteTrait, TestScoping {
  public init() {}

  public func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    await Turns.shared.take()
    do {
      try await function()
    } catch {
      await Turns.shared.give()
      throw error
    }
    await Turns.shared.give()
  }
}

extension Trait where Self == EngineTurn {
  /// The suite uses the engine: it waits until no other suite with this trait runs.
  public static var engineTurn: Self { EngineTurn() }
}

/// A first-come, first-served lock that waits without holding a thread (the cooperative pool
/// has as few threads as cores, so a blocking lock could leave the holder nowhere to run).
actor Turns {
  static let shared = Turns()
  private var busy = false
  private var waiting: [CheckedContinuation<Void, Never>] = []

  func take() async {
    guard busy else {
      busy = true
      return
    }
    await withCheckedContinuation { waiting.append($0) }
  }

  func give() {
    if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
  }
}
