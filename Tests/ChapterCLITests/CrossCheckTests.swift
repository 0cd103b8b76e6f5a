import Foundation
import Testing

/// `chapter crosscheck`, the engine's half of scripts/crosscheck-pytorch.py: what it writes
/// is what the PyTorch side reads.
@Suite(.serialized) struct CrossCheckTests {
  /// The header of a safetensors file: each tensor's dtype and shape, and the metadata.
  static func header(_ url: URL) throws -> [String: Any] {
    let data = try Data(contentsOf: url)
    let length = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    let json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length)))
    return try #require(json as? [String: Any])
  }

  static func shape(_ header: [String: Any], _ name: String) -> [Int]? {
    (header[name] as? [String: Any])?["shape"] as? [Int]
  }

  @Test func writesStateBatchesAndSteps() throws {
    let dir = try CLI.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let result = try CLI.run(
      ["crosscheck", "--model", "lenet-bn", "--steps", "3", "--batch", "8", "--output", dir.path])
    #expect(result.exitCode == 0, "\(result.stderr)")
    let initial = try Self.header(dir.appendingPathComponent("initial.safetensors"))
    let batches = try Self.header(dir.appendingPathComponent("batches.safetensors"))
    let after = try Self.header(dir.appendingPathComponent("after.safetensors"))
    let meta = try #require(initial["__metadata__"] as? [String: String])
    // The section's learning rate and the requested sizes; LeNet's 28x28 images.
    #expect(meta["lr"] == "1.0" && meta["batch"] == "8" && meta["steps"] == "3")
    #expect(meta["height"] == "28")
    #expect(Self.shape(batches, "images") == [24, 1, 28, 28])
    #expect(Self.shape(batches, "labels") == [24])
    #expect(Self.shape(after, "losses") == [3])
    #expect(Self.shape(after, "logits") == [8, 10])
    // Every parameter and moving statistic, named by property path, before and after; a
    // gradient of the first step for every parameter (not for the moving statistics).
    let names = initial.keys.filter { $0 != "__metadata__" }.sorted()
    #expect(names.contains("layers.0.weight") && names.contains("layers.1.movingVar"))
    #expect(Self.shape(initial, "layers.0.weight") == [6, 1, 5, 5])
    for name in names { #expect(Self.shape(after, name) == Self.shape(initial, name), "\(name)") }
    #expect(after["grad.layers.1.gamma"] != nil)
    #expect(after["grad.layers.1.movingMean"] == nil)
  }

  @Test func resizeIsRefusedWhereTheSectionHasNone() throws {
    let result = try CLI.run(
      ["crosscheck", "--model", "lenet-bn", "--resize", "32", "--output", "/tmp/unused"])
    #expect(result.exitCode == 2)
    #expect(result.stderr.contains("takes no --resize"), "\(result.stderr)")
  }
}
