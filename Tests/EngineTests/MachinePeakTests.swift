import Testing

@testable import Engine

extension EngineTests {
  /// The FMA loop that `chapter bench` divides its GFLOP/s by.
  @Suite struct MachinePeakMeasurement {
    @Test func usesTheWidestVectorsTheCPUHas() {
      let peak = MachinePeak.measure(threads: 1, seconds: 0.02)
      let flags = BLASKernel.cpuFlags()
      #if arch(x86_64)
        let expected = flags.contains("avx512f") ? 16 : flags.isSuperset(of: ["avx2", "fma"]) ? 8 : 1
        #expect(peak.vectorWidth == expected)
      #endif
      #expect(peak.threads == 1)
      // At least one FMA per nanosecond on one thread: any x86-64 server since 2013 does
      // several; a loop that failed to run or to count would not.
      #expect(peak.gflops > 2)
    }

    @Test func countsEveryThread() {
      let peak = MachinePeak.measure(threads: 2, seconds: 0.02)
      #expect(peak.threads == 2)
      #expect(peak.gflops > 2)
    }
  }
}
