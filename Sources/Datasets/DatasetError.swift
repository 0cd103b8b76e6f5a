import Foundation

/// A dataset file that is missing, unreadable or not what it should be. The description names
/// the file, says what is wrong and how to get a good copy; the command line exits with status 2.
public struct DatasetError: Error, CustomStringConvertible, Sendable, Equatable {
  /// What is wrong with the file.
  public enum Problem: Sendable, Equatable {
    /// No file at that path.
    case missing
    /// The file exists but could not be read (permissions, a folder, an I/O error).
    case unreadable(reason: String)
    /// Not a gzip file, truncated, or damaged compressed data.
    case corrupt(reason: String)
    /// The IDX magic number is not the one for this kind of file.
    case badMagic(expected: UInt32, actual: UInt32)
    /// The file holds another number of items than the dataset has.
    case wrongCount(expected: Int, actual: Int)
    /// Image dimensions or the amount of data do not match the header or the other file.
    case wrongSize(detail: String)
    /// A label outside the dataset's classes.
    case labelOutOfRange(index: Int, value: UInt8, classes: Int)
    /// The CRC-32 of the decompressed file is not the one of the official release.
    case checksumMismatch(expected: UInt32, actual: UInt32)
  }

  /// The path of the offending file.
  public let path: String
  /// What is wrong with it.
  public let problem: Problem

  public init(path: String, problem: Problem) {
    self.path = path
    self.problem = problem
  }

  /// The file at `path` could not be opened or examined, for the reason `code` (an `errno`):
  /// missing when it or a folder on its way does not exist, unreadable otherwise.
  init(path: String, errno code: Int32) {
    self.path = path
    problem = code == ENOENT || code == ENOTDIR
      ? .missing : .unreadable(reason: String(cString: strerror(code)))
  }

  /// The advice every message ends with; the lead's CLI tests look for its wording.
  public static let installHint =
    "install it with `apt-get install dataset-fashion-mnist` (as root) or set "
    + "FASHION_MNIST_DIR to a folder holding the four files ("
    + FashionMNIST.fileNames.joined(separator: ", ") + ")"

  public var description: String {
    "Fashion-MNIST file \(path) \(what). To fix it, \(DatasetError.installHint)."
  }

  private var what: String {
    switch problem {
    case .missing:
      return "is missing"
    case .unreadable(let reason):
      return "cannot be read: \(reason)"
    case .corrupt(let reason):
      return "is not a valid gzip file or is corrupt: \(reason)"
    case .badMagic(let expected, let actual):
      return "has a bad IDX magic number \(hex(actual)), expected \(hex(expected))"
    case .wrongCount(let expected, let actual):
      return "holds \(grouped(actual)) items, expected \(grouped(expected))"
    case .wrongSize(let detail):
      return "has the wrong size: \(detail)"
    case .labelOutOfRange(let index, let value, let classes):
      return "has label \(value) at index \(index), expected 0...\(classes - 1)"
    case .checksumMismatch(let expected, let actual):
      return "fails its checksum: the CRC-32 of the decompressed data is \(hex(actual)), "
        + "expected \(hex(expected)) (the official release)"
    }
  }
}

func hex(_ value: UInt32) -> String {
  let digits = String(value, radix: 16)
  return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

