/// The IDX format of the MNIST family: a big-endian magic number `0x0000TTDD` (type `TT`,
/// 0x08 for unsigned bytes, and `DD` dimensions), one big-endian 32-bit size per dimension,
/// then the data, row-major.
enum IDX {
  static let imagesMagic: UInt32 = 0x0000_0803
  static let labelsMagic: UInt32 = 0x0000_0801

  /// One decompressed IDX file.
  struct File {
    var dimensions: [Int]
    var data: [UInt8]
    /// CRC-32 of the whole decompressed file, header included.
    var crc: UInt32
  }

  /// Reads the gzip-compressed IDX file at `path`. `checkDimensions` sees the header before
  /// the data is decompressed, so a wrong count is reported without inflating 47 MB.
  static func read(
    path: String, magic: UInt32, checkDimensions: ([Int]) throws -> Void
  ) throws -> File {
    let reader = try GzipReader(path: path)
    func tooShort(_ what: String) -> DatasetError {
      DatasetError(
        path: path,
        problem: .wrongSize(
          detail: "the decompressed data is \(grouped(reader.produced)) bytes long, "
            + "too short for \(what)"))
    }

    guard let foundMagic = try readBigEndianWords(1, from: reader)?[0] else {
      throw tooShort("an IDX header")
    }
    guard foundMagic == magic else {
      throw DatasetError(path: path, problem: .badMagic(expected: magic, actual: foundMagic))
    }
    guard let words = try readBigEndianWords(Int(magic & 0xff), from: reader) else {
      throw tooShort("an IDX header")
    }
    let dimensions = words.map { Int($0) }
    try checkDimensions(dimensions)

    // Explicit overflow checks: release builds of this module use -Ounchecked.
    var size = 1
    for d in dimensions {
      let (product, overflow) = size.multipliedReportingOverflow(by: d)
      guard !overflow, product <= Int(Int32.max) else {
        throw DatasetError(
          path: path,
          problem: .wrongSize(detail: "the header announces an impossible size \(dimensions)"))
      }
      size = product
    }

    let headerBytes = reader.produced
    let data = try [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
      let got = try reader.read(into: UnsafeMutableRawBufferPointer(buffer))
      initialized = got
      guard got == size else {
        throw DatasetError(
          path: path,
          problem: .wrongSize(
            detail: "the header announces \(grouped(size)) bytes of data "
              + "(\(dimensions.map(String.init).joined(separator: " x "))) "
              + "but the file holds only \(grouped(got))"))
      }
    }
    var probe: UInt8 = 0
    if try withUnsafeMutableBytes(of: &probe, { try reader.read(into: $0) }) > 0 {
      throw DatasetError(
        path: path,
        problem: .wrongSize(
          detail: "the file holds more than the \(grouped(headerBytes + size)) bytes "
            + "its header announces"))
    }
    return File(dimensions: dimensions, data: data, crc: reader.crc)
  }

  /// Reads `n` big-endian 32-bit words, or nil if the data ends first.
  private static func readBigEndianWords(_ n: Int, from reader: GzipReader) throws -> [UInt32]? {
    var bytes = [UInt8](repeating: 0, count: 4 * n)
    let got = try bytes.withUnsafeMutableBytes { try reader.read(into: $0) }
    guard got == bytes.count else { return nil }
    return (0..<n).map { i in
      bytes[4 * i ..< 4 * i + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }
  }
}
