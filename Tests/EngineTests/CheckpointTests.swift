import Foundation
import Testing
import Engine

extension EngineTests {
  /// The safetensors checkpoint format, a module's named state and the generator's state.
  @Suite struct Checkpoints {
    /// The bytes follow the format's definition, read here independently of the reader:
    /// little-endian header length, JSON header with dtype/shape/data_offsets and
    /// `__metadata__`, a header padded to 8 bytes, raw little-endian data.
    @Test func fileLayoutIsSafetensors() throws {
      var file = SafeTensorsFile()
      file.add("w", Tensor([1, -2, 3.5, 0.25, 5, 6], shape: [2, 3]))
      file.add("h", doubles: [0.1, 2])
      file.add("r", words: [7, UInt64.max])
      file.metadata["epoch"] = "3"
      let bytes = file.encoded()
      let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
      #expect((8 + Int(length)) % 8 == 0)
      let header = try #require(
        JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + Int(length))])) as? [String: Any])
      let w = try #require(header["w"] as? [String: Any])
      #expect(w["dtype"] as? String == "F32")
      #expect(w["shape"] as? [Int] == [2, 3])
      #expect(w["data_offsets"] as? [Int] == [0, 24])
      #expect((header["h"] as? [String: Any])?["data_offsets"] as? [Int] == [24, 40])
      #expect((header["r"] as? [String: Any])?["dtype"] as? String == "U64")
      #expect(header["__metadata__"] as? [String: String] == ["epoch": "3"])
      let data = Array(bytes[(8 + Int(length))...])
      #expect(data.count == 24 + 16 + 16)
      // 1.0f little-endian, then -2.0f.
      #expect(Array(data[0..<8]) == [0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0])
      #expect(Array(data[40..<48]) == [7, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func roundTripThroughAFile() throws {
      var file = SafeTensorsFile()
      let t = Tensor([1, 2, 3, 4], shape: [2, 2])
      file.add("layers.0.weight", t)
      file.add("history", doubles: [0.5, .pi])
      file.add("rng", words: [1, 2, 3, 4])
      file.metadata = ["format": "x", "lr": "0.1"]
      let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("ckpt-\(UUID().uuidString)/a.safetensors").path
      try file.write(to: path)
      let back = try SafeTensorsFile(contentsOf: path)
      #expect(back == file)
      #expect(try SafeTensorsFile.metadata(contentsOf: path) == file.metadata)
      let into = Tensor(zeros: [2, 2])
      try back.load("layers.0.weight", into: into)
      #expect(into.scalars == [1, 2, 3, 4])
      #expect(try back.doubles("history") == [0.5, .pi])
      #expect(try back.words("rng") == [1, 2, 3, 4])
      #expect(throws: SafeTensorsError.self) { try back.load("layers.0.weight", into: Tensor(zeros: [4])) }
      #expect(throws: SafeTensorsError.self) { try back.doubles("rng") }
      #expect(throws: SafeTensorsError.self) { try back.words("missing") }
    }

    /// Truncated, lying or garbled files are errors, never a crash.
    @Test func malformedFilesAreErrors() throws {
      var file = SafeTensorsFile()
      file.add("w", Tensor([1, 2, 3], shape: [3]))
      let good = file.encoded()
      var cases: [[UInt8]] = [[], [1, 2, 3], Array(good.prefix(20)), Array(good.dropLast(4))]
      var huge = good
      huge[7] = 0x7F  // a header length far past the end
      cases.append(huge)
      var notJSON = good
      notJSON[8] = UInt8(ascii: "[")
      cases.append(notJSON)
      let header = #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}}"#
      cases.append(Self.file(header: header, data: 12))
      let overlap = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
      cases.append(Self.file(header: overlap, data: 12))
      let badType = #"{"w":{"dtype":"Q8","shape":[1],"data_offsets":[0,1]}}"#
      cases.append(Self.file(header: badType, data: 1))
      let negative = #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#
      cases.append(Self.file(header: negative, data: 4))
      for bytes in cases {
        #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(bytes: bytes) }
      }
    }

    static func file(header: String, data: Int) -> [UInt8] {
      let json = [UInt8](header.utf8)
      let length = UInt64(json.count)
      return (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) } + json
        + [UInt8](repeating: 0, count: data)
    }

    /// Parameters and moving statistics, named by property path, each once.
    @Test func namedStateCoversParametersAndBuffers() {
      ModuleNames.reset()
      let block = ScaledBlock()
      _ = block(Tensor.ones([1, 3, 2, 2]))
      _ = block.optionalChild!(Tensor.ones([2, 3, 2, 2]))
      let names = block.namedState().map(\.name)
      #expect(names.contains("scale"))
      #expect(names.contains("shift"))
      #expect(names.contains("notAParameter"))
      #expect(names.contains("inner.weight"))
      #expect(names.contains("inner.bias"))
      #expect(names.contains("optionalChild.movingMean"))
      #expect(names.contains("optionalChild.movingVar"))
      #expect(names.contains("optionalChild.gamma"))
      #expect(Set(names).count == names.count)

      let net = Sequential { Conv2D(2, kernel: 1); BatchNorm(); Dense(3) }
      _ = net(Tensor.ones([2, 1, 2, 2]))
      #expect(net.namedState().map(\.name) == [
        "layers.0.weight", "layers.0.bias", "layers.1.gamma", "layers.1.beta",
        "layers.1.movingMean", "layers.1.movingVar", "layers.2.weight", "layers.2.bias",
      ])
    }

    /// A generator rebuilt from its state continues the same sequence.
    @Test func generatorStateContinuesTheSequence() throws {
      var a = SeededGenerator(seed: 42)
      for _ in 0..<5 { _ = a.next() }
      var b = try #require(SeededGenerator(state: a.state))
      #expect((0..<10).map { _ in a.next() } == (0..<10).map { _ in b.next() })
      #expect(SeededGenerator(state: [0, 0, 0, 0]) == nil)
      #expect(SeededGenerator(state: [1, 2]) == nil)
    }
  }
}
