import Engine

/// Sets the engine up for a run: the seed of every random draw (weights,
/// shuffling, dropout) and the number of cores used by our loops and OpenBLAS.
public func prepareEngine(seed: UInt64, threads: Int) {
  EngineRandom.seed(seed)
  ComputeThreads.set(threads)
  // Layer names (conv0, pool1, ...) count from zero in every run, so that
  // printouts are the same in `chapter run` and `chapter check`.
  ModuleNames.reset()
}
