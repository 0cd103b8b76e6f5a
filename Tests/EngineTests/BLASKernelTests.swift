import Foundation
import Testing

@testable import Engine

extension EngineTests {
  /// When `chapter` overrides OpenBLAS's own choice of kernels: only a generic
  /// fallback on a CPU that has more, never a set the library chose knowingly.
  @Suite struct BLASKernelChoice {
    let sapphireRapids: Set<String> = [
      "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl",
      "avx512_fp16",
    ]
    let zen3: Set<String> = ["sse4_2", "avx", "avx2", "fma"]

    @Test func aFallbackOnAnAVX512CPUBecomesSkylakeX() {
      #expect(BLASKernel.correction(detected: "Prescott", cpuFlags: sapphireRapids) == "SkylakeX")
      #expect(BLASKernel.correction(detected: "Sandybridge", cpuFlags: sapphireRapids) == "SkylakeX")
    }

    @Test func aFallbackOnAnAVX2CPUBecomesHaswell() {
      #expect(BLASKernel.correction(detected: "Prescott", cpuFlags: zen3) == "Haswell")
      #expect(BLASKernel.correction(detected: "Nehalem", cpuFlags: zen3) == "Haswell")
    }

    @Test func aRecognisedCPUKeepsTheLibrarysChoice() {
      #expect(BLASKernel.correction(detected: "Zen", cpuFlags: zen3) == nil)
      #expect(BLASKernel.correction(detected: "Haswell", cpuFlags: sapphireRapids) == nil)
      #expect(BLASKernel.correction(detected: "SkylakeX", cpuFlags: sapphireRapids) == nil)
      #expect(BLASKernel.correction(detected: "Cooperlake", cpuFlags: sapphireRapids) == nil)
    }

    @Test func aCPUWithoutAVX2KeepsTheFallback() {
      #expect(BLASKernel.correction(detected: "Prescott", cpuFlags: ["sse4_2", "avx"]) == nil)
      // AVX-512 foundation alone (Knights Landing) is not what SkylakeX kernels need.
      #expect(BLASKernel.correction(detected: "Prescott", cpuFlags: ["avx512f", "sse3"]) == nil)
    }

    @Test func theFlagsAreReadFromTheCPU() {
      #if os(Linux) && arch(x86_64)
        #expect(BLASKernel.cpuFlags().contains("sse2"))
      #endif
    }
  }

  /// OpenBLAS's own worker threads spin after the library loads; the engine never uses them
  /// and ends them when it sets its thread count.
  @Test func theEngineEndsOpenBLASsIdleThreads() throws {
    ComputeThreads.set(ComputeThreads.count)
    #if os(Linux)
      // Debian's OpenBLAS (the pthread build) exports the flag its thread server keeps.
      let flag = try #require(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "blas_server_avail"))
      #expect(flag.load(as: Int32.self) == 0)
    #endif
  }
}
