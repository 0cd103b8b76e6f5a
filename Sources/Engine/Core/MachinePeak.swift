import CMachinePeak
import Dispatch

/// The machine's measured arithmetic peak: fused multiply-adds on independent
/// registers, with the widest vectors the CPU has, on `threads` threads at
/// once. It is measured rather than computed from the CPU's clock because the
/// clock under load (turbo, a hypervisor's share, two hyperthreads on one core)
/// is what bounds a kernel, and /proc/cpuinfo does not know it.
public struct MachinePeak: Sendable, Equatable {
  /// Floating-point operations per second of all threads together, in GFLOP/s.
  public var gflops: Double
  /// Floats per vector in the measured loop: 16 with AVX-512, 8 with AVX2.
  public var vectorWidth: Int
  public var threads: Int

  /// Runs the FMA loop on `threads` threads together for about `seconds`. Each
  /// thread reports its own rate; their sum is the peak.
  public static func measure(threads: Int, seconds: Double = 0.25) -> MachinePeak {
    let n = max(threads, 1)
    let rates = UnsafeMutableBufferPointer<Double>.allocate(capacity: n)
    let widths = UnsafeMutableBufferPointer<Int32>.allocate(capacity: n)
    defer {
      rates.deallocate()
      widths.deallocate()
    }
    // A short run first, so that the cores have left their idle clocks.
    DispatchQueue.concurrentPerform(iterations: n) { i in
      var width: Int32 = 0
      _ = machine_peak_fma_flops(seconds / 5, &width)
    }
    DispatchQueue.concurrentPerform(iterations: n) { i in
      var width: Int32 = 0
      rates[i] = machine_peak_fma_flops(seconds, &width)
      widths[i] = width
    }
    return MachinePeak(
      gflops: rates.reduce(0, +) / 1e9, vectorWidth: Int(widths[0]), threads: n)
  }
}
