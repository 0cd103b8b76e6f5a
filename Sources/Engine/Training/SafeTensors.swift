import Foundation

/// A file in the safetensors format (https://github.com/huggingface/safetensors), the
/// checkpoint format: an unsigned 64-bit little-endian header length, a JSON header mapping
/// each tensor's name to its `dtype`, `shape` and `data_offsets` (begin and end, in bytes,
/// relative to the end of the header), an optional `__metadata__` object of string values,
/// then the raw little-endian tensor bytes. NumPy, PyTorch and the `safetensors` package read
/// it as they read any other.
///
/// ```swift
/// var file = SafeTensorsFile()
/// file.add("conv0.weight", tensor)
/// file.metadata["epoch"] = "3"
/// try file.write(to: path)
/// let back = try SafeTensorsFile(contentsOf: path)
/// ```
public struct SafeTensorsFile: Equatable, Sendable {
  /// The element types this engine writes and reads.
  public enum DType: String, Sendable {
    case f32 = "F32", f64 = "F64", u64 = "U64"

    var size: Int { self == .f32 ? 4 : 8 }
  }

  /// One named tensor: its element type, shape and little-endian bytes.
  public struct Entry: Equatable, Sendable {
    public var dtype: DType
    public var shape: [Int]
    public var bytes: [UInt8]
  }

  /// The tensors, in the order they are written.
  public private(set) var names: [String] = []
  public private(set) var entries: [String: Entry] = [:]
  /// Free-form string pairs, stored as the header's `__metadata__`.
  public var metadata: [String: String] = [:]

  public init() {}

  // MARK: Adding and reading tensors

  /// Adds (or replaces) a float32 tensor with the tensor's shape and values.
  public mutating func add(_ name: String, _ tensor: Tensor) {
    let bytes = [UInt8](UnsafeRawBufferPointer(start: tensor.data, count: tensor.count * 4))
    put(name, Entry(dtype: .f32, shape: tensor.shape, bytes: bytes))
  }

  /// Adds a one-dimensional float64 array.
  public mutating func add(_ name: String, doubles: [Double]) {
    put(name, Entry(dtype: .f64, shape: [doubles.count], bytes: littleEndianBytes(doubles)))
  }

  /// Adds a one-dimensional unsigned 64-bit array.
  public mutating func add(_ name: String, words: [UInt64]) {
    put(name, Entry(dtype: .u64, shape: [words.count], bytes: littleEndianBytes(words)))
  }

  /// Copies the float32 values of `name` into `tensor`; throws when the file lacks the name
  /// or the type or shape differ.
  public func load(_ name: String, into tensor: Tensor) throws {
    let entry = try self.entry(name, .f32)
    guard entry.shape == tensor.shape else {
      throw SafeTensorsError("\(name): the file has shape \(entry.shape), the network \(tensor.shape)")
    }
    PredictionCache.clear()
    entry.bytes.withUnsafeBytes { raw in
      UnsafeMutableRawPointer(tensor.data).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
    }
  }

  /// The float64 values of `name`.
  public func doubles(_ name: String) throws -> [Double] {
    try values(entry(name, .f64)) { Double(bitPattern: $0) }
  }

  /// The unsigned 64-bit values of `name`.
  public func words(_ name: String) throws -> [UInt64] {
    try values(entry(name, .u64)) { $0 }
  }

  private mutating func put(_ name: String, _ entry: Entry) {
    if entries.updateValue(entry, forKey: name) == nil { names.append(name) }
  }

  private func entry(_ name: String, _ dtype: DType) throws -> Entry {
    guard let entry = entries[name] else { throw SafeTensorsError("no tensor named \(name)") }
    guard entry.dtype == dtype else {
      throw SafeTensorsError("\(name) is \(entry.dtype.rawValue), expected \(dtype.rawValue)")
    }
    return entry
  }

  private func values<T>(_ entry: Entry, _ make: (UInt64) -> T) -> [T] {
    stride(from: 0, to: entry.bytes.count, by: 8).map { start in
      var word: UInt64 = 0
      for i in 0..<8 { word |= UInt64(entry.bytes[start + i]) << (8 * UInt64(i)) }
      return make(word)
    }
  }

  private func littleEndianBytes<T: FixedWidthInteger>(_ words: [T]) -> [UInt8] {
    words.flatMap { word in (0..<T.bitWidth / 8).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) } }
  }

  private func littleEndianBytes(_ doubles: [Double]) -> [UInt8] {
    littleEndianBytes(doubles.map(\.bitPattern))
  }

  // MARK: The file format

  /// The whole file: header length, JSON header (padded with spaces to a multiple of 8
  /// bytes, as the reference writer does, so the data starts aligned), data.
  public func encoded() -> [UInt8] {
    var header: [String: Any] = [:]
    var offset = 0
    for name in names {
      let e = entries[name]!
      header[name] = [
        "dtype": e.dtype.rawValue, "shape": e.shape, "data_offsets": [offset, offset + e.bytes.count],
      ] as [String: Any]
      offset += e.bytes.count
    }
    if !metadata.isEmpty { header["__metadata__"] = metadata }
    var json = [UInt8](
      (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data("{}".utf8))
    while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
    var out = littleEndianBytes([UInt64(json.count)])
    out.reserveCapacity(8 + json.count + offset)
    out += json
    for name in names { out += entries[name]!.bytes }
    return out
  }

  /// Parses a whole file; throws `SafeTensorsError` on anything malformed (short file,
  /// header that is not JSON, offsets out of the data or overlapping, unknown dtype).
  public init(bytes: [UInt8]) throws {
    guard bytes.count >= 8 else { throw SafeTensorsError("the file is shorter than its 8-byte header length") }
    var length: UInt64 = 0
    for i in 0..<8 { length |= UInt64(bytes[i]) << (8 * UInt64(i)) }
    guard length <= UInt64(bytes.count - 8) else {
      throw SafeTensorsError("the header length \(length) runs past the end of the file")
    }
    let dataStart = 8 + Int(length)
    let headerObject = try? JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart]))
    guard let header = headerObject as? [String: Any] else {
      throw SafeTensorsError("the header is not a JSON object")
    }
    let dataCount = bytes.count - dataStart
    var spans: [(name: String, begin: Int, entry: Entry)] = []
    for (name, value) in header {
      if name == "__metadata__" {
        guard let pairs = value as? [String: String] else {
          throw SafeTensorsError("__metadata__ must map strings to strings")
        }
        metadata = pairs
        continue
      }
      guard let info = value as? [String: Any], let type = info["dtype"] as? String,
        let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int],
        offsets.count == 2
      else { throw SafeTensorsError("\(name): expected dtype, shape and data_offsets") }
      guard let dtype = DType(rawValue: type) else {
        throw SafeTensorsError("\(name): unsupported dtype \(type)")
      }
      let (begin, end) = (offsets[0], offsets[1])
      guard shape.allSatisfy({ $0 >= 0 }), 0 <= begin, begin <= end, end <= dataCount else {
        throw SafeTensorsError("\(name): data_offsets \(offsets) outside the \(dataCount) data bytes")
      }
      let (elements, overflow) = shape.reduce((1, false)) { acc, d in
        let (p, o) = acc.0.multipliedReportingOverflow(by: d)
        return (p, acc.1 || o)
      }
      guard !overflow, elements.multipliedReportingOverflow(by: dtype.size).partialValue == end - begin
      else { throw SafeTensorsError("\(name): \(end - begin) bytes do not hold shape \(shape) of \(type)") }
      let entry = Entry(
        dtype: dtype, shape: shape, bytes: Array(bytes[(dataStart + begin)..<(dataStart + end)]))
      spans.append((name, begin, entry))
    }
    spans.sort { ($0.begin, $0.name) < ($1.begin, $1.name) }
    for (i, span) in spans.enumerated() where i > 0 {
      let previous = spans[i - 1]
      guard previous.begin + previous.entry.bytes.count <= span.begin else {
        throw SafeTensorsError("\(span.name) overlaps \(previous.name)")
      }
    }
    for span in spans { put(span.name, span.entry) }
  }

  /// Reads and parses a file.
  public init(contentsOf path: String) throws {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw SafeTensorsError("cannot read \(path)")
    }
    try self.init(bytes: [UInt8](data))
  }

  /// The `__metadata__` of the file at `path`, reading only its header (a checkpoint's
  /// tensors may be tens of megabytes); empty when the header has none.
  public static func metadata(contentsOf path: String) throws -> [String: String] {
    guard let handle = FileHandle(forReadingAtPath: path) else {
      throw SafeTensorsError("cannot read \(path)")
    }
    defer { try? handle.close() }
    let prefix = try handle.read(upToCount: 8) ?? Data()
    guard prefix.count == 8 else { throw SafeTensorsError("the file is shorter than its 8-byte header length") }
    let length = prefix.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    guard length < 1 << 30, let header = try handle.read(upToCount: Int(length)),
      header.count == Int(length),
      let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any]
    else { throw SafeTensorsError("\(path): the header is not a JSON object") }
    guard let metadata = object["__metadata__"] else { return [:] }
    guard let pairs = metadata as? [String: String] else {
      throw SafeTensorsError("__metadata__ must map strings to strings")
    }
    return pairs
  }

  /// Writes the file atomically: a temporary file beside it, then a rename, so that an
  /// interruption leaves either the old checkpoint or the new one, never half of one.
  public func write(to path: String) throws {
    let url = URL(fileURLWithPath: path)
    try FileManager.default.createDirectory(
      at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(encoded()).write(to: url, options: .atomic)
  }
}

/// A malformed or mismatched safetensors file.
public struct SafeTensorsError: Error, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { "safetensors: \(message)" }
}
