import Foundation
import Testing

/// `chapter` replaces a generic OpenBLAS kernel set with the one the CPU can run, and
/// never overrides a set the user chose.
@Suite struct BLASKernelCLITests {
  static func kernel(environment: [String: String]) throws -> String {
    let result = try CLI.run(
      ["bench", "--model", "lenet-bn", "--resize", "28", "--batch", "4", "--steps", "1", "--json"],
      environment: environment)
    #expect(result.exitCode == 0, "\(result.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    return try #require((object as? [String: Any])?["blas_kernel"] as? String)
  }

  static var cpuFlags: Set<String> {
    let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let line = info.split(separator: "\n").first { $0.hasPrefix("flags") } ?? ""
    return Set(line.split(separator: " ").map(String.init))
  }

  @Test func aKernelSetTheUserChoseIsKept() throws {
    #expect(try Self.kernel(environment: ["OPENBLAS_CORETYPE": "Prescott"]) == "Prescott")
  }

  /// Without a choice of the user's (the test itself runs without one).
  @Test(.enabled(if: cpuFlags.isSuperset(of: ["avx2", "fma"])
    && ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil))
  func anAVX2CPUNeverRunsTheGenericKernels() throws {
    let kernel = try Self.kernel(environment: [:])
    let core = String(kernel.prefix { $0 != " " })
    #expect(!["Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Nano",
              "Opteron", "Barcelona", "Bobcat", "Sandybridge"].contains(core), "\(kernel)")
  }
}
