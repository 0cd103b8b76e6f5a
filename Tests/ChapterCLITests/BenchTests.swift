import Foundation
import Testing

/// `chapter bench --json`: throughput, GFLOP/s and the share of the measured peak.
@Suite struct BenchCLITests {
  @Test func reportsGFLOPsAsAShareOfTheMeasuredPeak() throws {
    let result = try CLI.run(
      ["bench", "--model", "lenet-bn", "--resize", "28", "--batch", "8", "--steps", "2", "--json"])
    #expect(result.exitCode == 0, "\(result.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    let json = try #require(object as? [String: Any])
    let peak = try #require(json["peak_gflops"] as? Double)
    let train = try #require(json["train_gflops"] as? Double)
    let infer = try #require(json["infer_gflops"] as? Double)
    let trainShare = try #require(json["train_peak_share"] as? Double)
    let inferShare = try #require(json["infer_peak_share"] as? Double)
    #expect(peak > 0)
    #expect(abs(trainShare - train / peak) < 1e-9)
    #expect(abs(inferShare - infer / peak) < 1e-9)
    #expect([1, 8, 16].contains(json["peak_vector_width"] as? Int ?? 0))
    // A training step at 3x a forward pass's FLOPs: GFLOP/s follows from examples/s.
    let flops = try #require(json["flopsPerExample"] as? Int)
    let trainRate = try #require(json["train_examples_per_s"] as? Double)
    #expect(abs(train - trainRate * 3 * Double(flops) / 1e9) < 1e-6 * max(train, 1))
    // LeNet-BN's dense layers and the convolutions' backward passes run on OpenBLAS: some of
    // every step is in its products, never more than all of the cores' time.
    for key in ["train_gemm_share", "infer_gemm_share"] {
      let share = try #require(json[key] as? Double, "\(key)")
      #expect(share > 0 && share <= 1.05, "\(key) \(share)")
    }
  }

  /// `--layers` times every layer, work outside the products that their share would count.
  @Test func perLayerTimingLeavesTrainingsProductShareOut() throws {
    let result = try CLI.run(
      ["bench", "--model", "lenet-bn", "--resize", "28", "--batch", "8", "--steps", "2", "--layers",
       "--json"])
    #expect(result.exitCode == 0, "\(result.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    let json = try #require(object as? [String: Any])
    #expect(json["train_gemm_share"] == nil, "per-layer timing leaves training's share out")
    #expect((json["infer_gemm_share"] as? Double ?? 0) > 0)
  }

  @Test func theTextNamesThePeakAndTheShares() throws {
    let result = try CLI.run(
      ["bench", "--model", "lenet-bn", "--resize", "28", "--batch", "8", "--steps", "2"])
    #expect(result.exitCode == 0, "\(result.stderr)")
    #expect(result.stdout.contains("machine peak: "))
    #expect(result.stdout.contains("% of peak)"))
    #expect(result.stdout.contains("cores' time in the products (OpenBLAS's, direct convolutions): training "))
  }
}
