import Datasets
import Engine
import Foundation
import Notebook

/// Training and inference throughput of a network on random data, as
/// `chapter bench` reports it: the median step time after a warm-up, peak
/// resident memory, and the achieved GFLOP/s (a training step counted as
/// three forward passes).
public struct BenchmarkResult: Codable {
  public var model: String
  public var resize: Int
  public var batch: Int
  public var threads: Int
  /// OpenBLAS's kernel set, e.g. `SkylakeX (OpenBLAS detected Prescott)` (see `BLASKernel`).
  public var blas_kernel: String
  public var steps: Int
  public var parameters: Int
  public var flopsPerExample: Int
  public var train_examples_per_s: Double
  public var infer_examples_per_s: Double
  public var train_gflops: Double
  public var infer_gflops: Double
  /// The machine's FMA peak on the same threads, measured just before the steps
  /// (`MachinePeak`), and the share of it the training and inference steps reached.
  public var peak_gflops: Double
  public var peak_vector_width: Int
  public var train_peak_share: Double
  public var infer_peak_share: Double
  /// The share of the cores' time that the timed steps spent inside the products:
  /// OpenBLAS's and the direct and Winograd convolution kernels' (`GEMMClock`:
  /// thread-seconds in products over threads × wall seconds).
  /// Dividing the throughput by it gives a ceiling: the examples/s if everything outside
  /// the products took no time and the products kept every core busy. Training's is nil
  /// with `--layers`, whose timing adds work outside the products.
  public var train_gemm_share: Double?
  public var infer_gemm_share: Double
  public var peak_rss_mib: Double
  /// The peak of tensor memory alive at once, and of that plus the buffers the pool kept
  /// for reuse: the engine's share of `peak_rss_mib`.
  public var peak_tensor_mib: Double
  public var peak_tensor_and_pool_mib: Double
  /// The memory pre-flight's estimate of a training step's peak (`TrainingMemoryEstimate`),
  /// to compare with the measured ones.
  public var estimated_training_mib: Double
  /// Memory the pool took from the system during the timed training steps, per step: zero
  /// in a steady state (every buffer reused), else page faults on every step.
  public var fresh_mib_per_train_step: Double
  /// Per top-level layer: forward and backward milliseconds of one training step (median).
  public var layers: [LayerTiming]?

  public struct LayerTiming: Codable {
    public var name: String
    public var forward_ms: Double
    public var backward_ms: Double
  }
}

/// Runs the benchmark on `net` with `[batch, 1, resize, resize]` inputs.
public func benchmark(
  _ net: Module, model: String, resize: Int, batch: Int, steps: Int, warmup: Int = 2,
  perLayer: Bool
) -> BenchmarkResult {
  // The peak covers the benchmark, not the cells that ran before it (7.2's full-size VGG-11
  // for its shape table, say): what they left is freed, and the kernel's peak reset.
  // The pre-flight's estimate measures the network first (and frees what that took).
  EngineMemory.releaseCachedBuffers()
  net.initialize(.xavier, forceReinit: true)
  fuseBatchNormActivations(in: net)
  let estimate = TrainingMemoryEstimate(net, side: resize, batchSize: batch, batchesHeld: 1)
  resetPeakResident()
  EngineMemory.resetPeaks()
  let peak = MachinePeak.measure(threads: ComputeThreads.count)
  let x = Tensor.uniform([batch, 1, resize, resize])
  let labels = (0..<batch).map { _ in Int32(EngineRandom.generator.next() % 10) }
  var optimizer: SGD?
  let layers = (net as? Sequential)?.layers ?? [net]
  var forwardTimes: [[Double]] = Array(repeating: [], count: layers.count)
  var backwardTimes: [[Double]] = Array(repeating: [], count: layers.count)

  func trainStep(timed: Bool) {
    Autograd.clearTape()
    Autograd.backwardSeconds = [:]
    let loss = Autograd.record { () -> Tensor in
      guard perLayer && timed else { return softmaxCrossEntropy(net(x), labels: labels) }
      var h = x
      for (i, layer) in layers.enumerated() {
        Autograd.profileLabel = "\(i)"
        let start = monotonicSeconds()
        h = layer(h)
        forwardTimes[i].append(monotonicSeconds() - start)
      }
      Autograd.profileLabel = nil
      return softmaxCrossEntropy(h, labels: labels)
    }
    loss.backward()
    if perLayer && timed {
      for i in layers.indices { backwardTimes[i].append(Autograd.backwardSeconds["\(i)"] ?? 0) }
    }
    sgdUpdate(net, &optimizer, lr: 0.01)
  }

  let flopsBefore = FLOPCounter.count
  trainStep(timed: false)
  let flopsPerExample = (FLOPCounter.count - flopsBefore) / batch
  for _ in 1..<max(warmup, 1) { trainStep(timed: false) }
  var trainTimes: [Double] = []
  let allocationsBefore = EngineMemory.systemAllocations
  if !perLayer { GEMMClock.start() }
  for _ in 0..<steps {
    let start = monotonicSeconds()
    trainStep(timed: true)
    trainTimes.append(monotonicSeconds() - start)
  }
  let trainGEMMSeconds = perLayer ? nil : GEMMClock.stop()
  let allocationsAfter = EngineMemory.systemAllocations
  var inferTimes: [Double] = []
  var inferGEMMSeconds = 0.0
  Autograd.predict {
    for i in 0..<(warmup + steps) {
      if i == warmup { GEMMClock.start() }
      let start = monotonicSeconds()
      _ = net(x)
      if i >= warmup { inferTimes.append(monotonicSeconds() - start) }
    }
    inferGEMMSeconds = GEMMClock.stop()
  }
  let coreSeconds = { (times: [Double]) in times.reduce(0, +) * Double(ComputeThreads.count) }
  Autograd.clearTape()

  let tensorPeaks = EngineMemory.peakTensorBytes
  let train = Double(batch) / median(trainTimes)
  let infer = Double(batch) / median(inferTimes)
  var timings: [BenchmarkResult.LayerTiming]?
  if perLayer {
    timings = layers.indices.map {
      .init(name: layers[$0].name, forward_ms: median(forwardTimes[$0]) * 1000,
            backward_ms: median(backwardTimes[$0]) * 1000)
    }
  }
  let trainGFLOPs = train * 3 * Double(flopsPerExample) / 1e9
  let inferGFLOPs = infer * Double(flopsPerExample) / 1e9
  return BenchmarkResult(
    model: model, resize: resize, batch: batch, threads: ComputeThreads.count,
    blas_kernel: BLASKernel.description, steps: steps,
    parameters: net.parameterCount, flopsPerExample: flopsPerExample,
    train_examples_per_s: train, infer_examples_per_s: infer,
    train_gflops: trainGFLOPs, infer_gflops: inferGFLOPs,
    peak_gflops: peak.gflops, peak_vector_width: peak.vectorWidth,
    train_peak_share: trainGFLOPs / peak.gflops, infer_peak_share: inferGFLOPs / peak.gflops,
    train_gemm_share: trainGEMMSeconds.map { $0 / coreSeconds(trainTimes) },
    infer_gemm_share: inferGEMMSeconds / coreSeconds(inferTimes),
    peak_rss_mib: peakResidentMiB(),
    peak_tensor_mib: Double(tensorPeaks.alive) / 1_048_576,
    peak_tensor_and_pool_mib: Double(tensorPeaks.withPool) / 1_048_576,
    estimated_training_mib: Double(estimate.total) / 1_048_576,
    fresh_mib_per_train_step: Double(allocationsAfter.bytes - allocationsBefore.bytes)
      / 1_048_576 / Double(max(steps, 1)),
    layers: timings)
}

func median(_ values: [Double]) -> Double {
  guard !values.isEmpty else { return .nan }
  let s = values.sorted()
  return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Peak resident set size of this process since the last `resetPeakResident()`, in MiB:
/// `VmHWM` of /proc/self/status (KiB), or the whole life's `ru_maxrss` where there is none.
func peakResidentMiB() -> Double {
  if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
    let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
    let kib = Double(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "")
  {
    return kib / 1024
  }
  var usage = rusage()
  getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
  return Double(usage.ru_maxrss) / 1024
}

/// Resets the kernel's peak of resident memory to the current size (Linux: `5` written to
/// /proc/self/clear_refs); elsewhere nothing happens and the peak covers the whole run.
func resetPeakResident() {
  guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return }
  handle.write(Data("5".utf8))
  try? handle.close()
}

extension BenchmarkResult: CustomStringConvertible {
  /// The products' share of the cores' time, and the ceiling it implies.
  var gemmShareLine: String {
    let infer = String(format: "inference %.0f%% (ceiling %.1f examples/s)",
      100 * infer_gemm_share, infer_examples_per_s / infer_gemm_share)
    guard let train = train_gemm_share else {
      return "cores' time in the products (OpenBLAS's, direct convolutions): training not measured with --layers, " + infer
    }
    return String(format: "cores' time in the products (OpenBLAS's, direct convolutions): training %.0f%% (ceiling %.1f examples/s), ",
      100 * train, train_examples_per_s / train) + infer
  }

  public var description: String {
    var lines = [
      String(format: "%@ at %dx%d, batch %d, %d threads: %@ parameters, %@FLOPs per example",
        model, resize, resize, batch, threads, grouped(parameters), scaled(flopsPerExample)),
      "OpenBLAS kernels: " + blas_kernel,
      String(format: "machine peak: %.1f GFLOP/s (FMA loop on %d threads, %d floats per vector)",
        peak_gflops, threads, peak_vector_width),
      String(format: "training:  %10.1f examples/s  (%6.1f GFLOP/s, %4.1f%% of peak)",
        train_examples_per_s, train_gflops, 100 * train_peak_share),
      String(format: "inference: %10.1f examples/s  (%6.1f GFLOP/s, %4.1f%% of peak)",
        infer_examples_per_s, infer_gflops, 100 * infer_peak_share),
      gemmShareLine,
      String(format: "peak resident memory: %.0f MiB (tensors alive at once: %.0f MiB; with the pool's spare buffers: %.0f MiB)",
        peak_rss_mib, peak_tensor_mib, peak_tensor_and_pool_mib),
      String(format: "memory pre-flight's estimate of a training step: %.0f MiB", estimated_training_mib),
      String(format: "fresh memory per training step: %.1f MiB", fresh_mib_per_train_step),
    ]
    if let layers {
      lines.append("per layer (one training step, median): forward ms, backward ms")
      for l in layers {
        let name = l.name.padding(toLength: max(l.name.count, 14), withPad: " ", startingAt: 0)
        lines.append("  " + name + String(format: " %9.2f %9.2f", l.forward_ms, l.backward_ms))
      }
    }
    return lines.joined(separator: "\n")
  }
}

/// A network that a section built for training and handed over instead
/// (`RunSettings.captureNetwork`), with the training data and learning rate it would have had.
public struct CapturedTraining {
  public let network: Module
  public let trainIter: BatchLoader
  public let lr: Double

  /// Runs `plan`'s cells (its trainings skipped) and returns the network of the first training
  /// whose name contains `network`, or nil when none does.
  public static func capture(network: String, _ plan: RunPlan) throws -> CapturedTraining? {
    var plan = plan
    plan.settings.captureNetwork = network
    return try SectionRunner.runCellsUnreported(plan).capturedTraining as? CapturedTraining
  }
}
