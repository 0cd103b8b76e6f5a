import CZlib
import Foundation

@testable import Datasets

/// A fresh folder under the system's temporary directory, removed when the value goes away.
final class TemporaryDirectory {
  let path: String

  init() throws {
    path = NSTemporaryDirectory() + "/datasets-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(atPath: path) }

  func file(_ name: String) -> String { path + "/" + name }
}

/// Small synthetic Fashion-MNIST-shaped files, written with zlib's own gzip writer.
enum Fixture {
  /// Writes `bytes` gzip-compressed to `path`.
  static func writeGzip(_ bytes: [UInt8], to path: String) {
    guard let file = gzopen(path, "wb") else { fatalError("gzopen failed for \(path)") }
    let written = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
    precondition(bytes.isEmpty || written == Int32(bytes.count), "gzwrite failed")
    precondition(gzclose(file) == Z_OK, "gzclose failed")
  }

  static func bigEndian(_ value: UInt32) -> [UInt8] {
    [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> UInt32($0)) }
  }

  /// An IDX file: magic, the dimensions, then the data.
  static func idx(magic: UInt32, dimensions: [Int], data: [UInt8]) -> [UInt8] {
    bigEndian(magic) + dimensions.flatMap { bigEndian(UInt32($0)) } + data
  }

  /// Image `i` is recognisable by its first two pixels (i's low and high byte); the rest is a
  /// pattern so that images are not flat.
  static func pixels(count: Int, rows: Int = 28, cols: Int = 28) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count * rows * cols)
    for i in 0..<count {
      for j in 0..<rows * cols {
        out[i * rows * cols + j] = UInt8(truncatingIfNeeded: i &* 31 &+ j &* 7)
      }
      out[i * rows * cols] = UInt8(i & 0xff)
      out[i * rows * cols + 1] = UInt8(i >> 8)
    }
    return out
  }

  static func labels(count: Int) -> [UInt8] { (0..<count).map { UInt8($0 % 10) } }

  static func images(count: Int) -> LabeledImages {
    LabeledImages(
      count: count, rows: 28, cols: 28, pixels: pixels(count: count), labels: labels(count: count))
  }

  static let trainCount = 25
  static let testCount = 7

  /// Writes the four files of a tiny dataset (25 training and 7 test images) into `dir`.
  static func writeDataset(in dir: TemporaryDirectory) {
    for (name, count) in [("train", trainCount), ("t10k", testCount)] {
      writeGzip(
        idx(magic: 0x803, dimensions: [count, 28, 28], data: pixels(count: count)),
        to: dir.file("\(name)-images-idx3-ubyte.gz"))
      writeGzip(
        idx(magic: 0x801, dimensions: [count], data: labels(count: count)),
        to: dir.file("\(name)-labels-idx1-ubyte.gz"))
    }
  }

  /// Checks for the tiny dataset: its counts, no checksums.
  static let tinyChecks = FashionMNIST.Checks(
    trainCount: trainCount, testCount: testCount, checksums: false)

  static func crc32(of bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBufferPointer {
      UInt32(CZlib.crc32(0, $0.baseAddress, UInt32($0.count)))
    }
  }
}

/// Runs `body` and returns the `DatasetError` it throws, or nil if it throws none.
func datasetError(_ body: () throws -> Void) -> DatasetError? {
  do {
    try body()
    return nil
  } catch let error as DatasetError {
    return error
  } catch {
    return nil
  }
}
