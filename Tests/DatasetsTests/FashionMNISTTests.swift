import Foundation
import Testing

@testable import Datasets

@Suite struct FashionMNISTTests {
  @Test func goodFilesLoad() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    let (train, test) = try FashionMNIST.load(directory: dir.path, checks: Fixture.tinyChecks)
    #expect(train.count == Fixture.trainCount && test.count == Fixture.testCount)
    #expect(train.rows == 28 && train.cols == 28 && test.rows == 28 && test.cols == 28)
    #expect(train.pixels == Fixture.pixels(count: Fixture.trainCount))
    #expect(train.labels == Fixture.labels(count: Fixture.trainCount))
    #expect(test.pixels == Fixture.pixels(count: Fixture.testCount))
    #expect(test.labels == Fixture.labels(count: Fixture.testCount))
  }

  @Test func anyCountIsAcceptedWhenNotRequired() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    let checks = FashionMNIST.Checks(trainCount: nil, testCount: nil, checksums: false)
    let (train, _) = try FashionMNIST.load(directory: dir.path, checks: checks)
    #expect(train.count == Fixture.trainCount)
  }

  @Test func secondLoadComesFromTheCache() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    let first = try FashionMNIST.load(directory: dir.path, checks: Fixture.tinyChecks)
    // Removing the files proves the second load reads nothing.
    for name in FashionMNIST.fileNames {
      try FileManager.default.removeItem(atPath: dir.file(name))
    }
    let second = try FashionMNIST.load(directory: dir.path, checks: Fixture.tinyChecks)
    let same = first.train.pixels.withUnsafeBufferPointer { a in
      second.train.pixels.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress }
    }
    #expect(same)
  }

  @Test func concatenatedGzipMembersAreOneFile() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    // `cat a.gz b.gz` is a valid gzip file holding a's bytes then b's.
    let bytes = Fixture.idx(
      magic: 0x803, dimensions: [Fixture.trainCount, 28, 28],
      data: Fixture.pixels(count: Fixture.trainCount))
    let half = bytes.count / 2
    Fixture.writeGzip(Array(bytes[..<half]), to: dir.file("a.gz"))
    Fixture.writeGzip(Array(bytes[half...]), to: dir.file("b.gz"))
    let joined = try Data(contentsOf: URL(fileURLWithPath: dir.file("a.gz")))
      + Data(contentsOf: URL(fileURLWithPath: dir.file("b.gz")))
    try joined.write(to: URL(fileURLWithPath: dir.file("train-images-idx3-ubyte.gz")))
    let (train, _) = try FashionMNIST.load(directory: dir.path, checks: Fixture.tinyChecks)
    #expect(train.pixels == Fixture.pixels(count: Fixture.trainCount))
  }

  @Test func defaultDirectoryFollowsTheEnvironment() {
    let expected = ProcessInfo.processInfo.environment["FASHION_MNIST_DIR"].flatMap {
      $0.isEmpty ? nil : $0
    } ?? "/usr/share/datasets/fashion-mnist"
    #expect(FashionMNIST.defaultDirectory() == expected)
  }

  @Test func classNames() {
    #expect(FashionMNIST.classNames.count == 10)
    #expect(FashionMNIST.classNames[0] == "t-shirt")
    #expect(FashionMNIST.classNames[9] == "ankle boot")
  }

  // MARK: - Bad files

  @Test func missingFileIsNamedWithTheFix() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    try FileManager.default.removeItem(atPath: dir.file("t10k-labels-idx1-ubyte.gz"))
    let error = try #require(datasetError {
      _ = try FashionMNIST.load(directory: dir.path, checks: Fixture.tinyChecks)
    })
    #expect(error.problem == .missing)
    #expect(error.path == dir.file("t10k-labels-idx1-ubyte.gz"))
    let message = error.description
    #expect(message.contains(dir.file("t10k-labels-idx1-ubyte.gz")))
    #expect(message.contains("is missing"))
    #expect(message.contains("`apt-get install dataset-fashion-mnist` (as root)"))
    #expect(message.contains("set FASHION_MNIST_DIR to a folder holding the four files"))
  }

  @Test func missingDirectoryNamesTheFirstFile() throws {
    let dir = try TemporaryDirectory()
    let error = try #require(datasetError {
      _ = try FashionMNIST.load(directory: dir.file("nowhere"))
    })
    #expect(error.problem == .missing)
    #expect(error.path.hasSuffix("nowhere/train-images-idx3-ubyte.gz"))
  }

  @Test func truncatedGzipIsCorrupt() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    let path = dir.file("train-images-idx3-ubyte.gz")
    let whole = try Data(contentsOf: URL(fileURLWithPath: path))
    try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: path))
    let error = try #require(datasetError {
      _ = try FashionMNIST.load(directory: dir.path, checks: Fixture.tinyChecks)
    })
    guard case .corrupt = error.problem else {
      Issue.record("expected .corrupt, got \(error.problem)")
      return
    }
    #expect(error.path == path)
    #expect(error.description.contains("truncated"))
    #expect(error.description.contains("apt-get install dataset-fashion-mnist"))
  }

  @Test func notGzipIsCorrupt() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    let path = dir.file("train-labels-idx1-ubyte.gz")
    // An uncompressed IDX file under the .gz name.
    let plain = Fixture.idx(
      magic: 0x801, dimensions: [Fixture.trainCount], data: Fixture.labels(count: 25))
    try Data(plain).write(to: URL(fileURLWithPath: path))
    let error = try #require(datasetError {
      _ = try FashionMNIST.load(directory: dir.path, checks: Fixture.tinyChecks)
    })
    #expect(error.path == path)
    guard case .corrupt(let reason) = error.problem else {
      Issue.record("expected .corrupt, got \(error.problem)")
      return
    }
    #expect(reason.contains("gzip signature"))
    #expect(error.description.contains("not a valid gzip file"))
  }

  @Test func damagedCompressedDataIsCorrupt() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    let path = dir.file("train-images-idx3-ubyte.gz")
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    for i in stride(from: bytes.count / 3, to: bytes.count / 3 + 40, by: 1) { bytes[i] ^= 0x5a }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let error = try #require(datasetError {
      _ = try FashionMNIST.load(directory: dir.path, checks: Fixture.tinyChecks)
    })
    #expect(error.path == path)
    guard case .corrupt(let reason) = error.problem else {
      Issue.record("expected .corrupt, got \(error.problem)")
      return
    }
    #expect(reason.contains("zlib reports"))
  }

  @Test func emptyFileIsCorrupt() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    let path = dir.file("train-images-idx3-ubyte.gz")
    try Data().write(to: URL(fileURLWithPath: path))
    let error = try #require(datasetError {
      _ = try FashionMNIST.load(directory: dir.path, checks: Fixture.tinyChecks)
    })
    #expect(error.problem == .corrupt(reason: "the file is empty"))
  }

  @Test func directoryInPlaceOfAFileIsUnreadable() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    let path = dir.file("train-images-idx3-ubyte.gz")
    try FileManager.default.removeItem(atPath: path)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    let error = try #require(datasetError {
      _ = try FashionMNIST.load(directory: dir.path, checks: Fixture.tinyChecks)
    })
    #expect(error.path == path)
    guard case .unreadable = error.problem else {
      Issue.record("expected .unreadable, got \(error.problem)")
      return
    }
  }

  @Test func badMagicIsReported() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    let path = dir.file("train-images-idx3-ubyte.gz")
    // A labels file where the images should be.
    Fixture.writeGzip(
      Fixture.idx(magic: 0x801, dimensions: [25], data: Fixture.labels(count: 25)), to: path)
    let error = try #require(datasetError {
      _ = try FashionMNIST.load(directory: dir.path, checks: Fixture.tinyChecks)
    })
    #expect(error.path == path)
    #expect(error.problem == .badMagic(expected: 0x803, actual: 0x801))
    #expect(error.description.contains("0x00000801"))
    #expect(error.description.contains("expected 0x00000803"))
  }

  @Test func wrongCountIsReported() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    var checks = Fixture.tinyChecks
    checks.testCount = 10_000
    let error = try #require(datasetError {
      _ = try FashionMNIST.load(directory: dir.path, checks: checks)
    })
    #expect(error.path == dir.file("t10k-images-idx3-ubyte.gz"))
    #expect(error.problem == .wrongCount(expected: 10_000, actual: 7))
    #expect(error.description.contains("holds 7 items, expected 10,000"))
  }

  @Test func labelCountMustMatchImageCount() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    let path = dir.file("train-labels-idx1-ubyte.gz")
    Fixture.writeGzip(
      Fixture.idx(magic: 0x801, dimensions: [24], data: Fixture.labels(count: 24)), to: path)
    let checks = FashionMNIST.Checks(trainCount: nil, testCount: nil, checksums: false)
    let error = try #require(datasetError {
      _ = try FashionMNIST.load(directory: dir.path, checks: checks)
    })
    #expect(error.path == path)
    #expect(error.description.contains("holds 24 labels but train-images-idx3-ubyte.gz holds 25"))
  }

  @Test func imagesMustBe28x28() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    let path = dir.file("t10k-images-idx3-ubyte.gz")
    Fixture.writeGzip(
      Fixture.idx(magic: 0x803, dimensions: [7, 32, 32],
                  data: Fixture.pixels(count: 7, rows: 32, cols: 32)),
      to: path)
    let error = try #require(datasetError {
      _ = try FashionMNIST.load(directory: dir.path, checks: Fixture.tinyChecks)
    })
    #expect(error.path == path)
    #expect(error.problem == .wrongSize(detail: "images are 32x32, expected 28x28"))
  }

  @Test func dataShorterThanTheHeaderSays() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    let path = dir.file("train-images-idx3-ubyte.gz")
    Fixture.writeGzip(
      Fixture.idx(magic: 0x803, dimensions: [25, 28, 28], data: Fixture.pixels(count: 24)),
      to: path)
    let error = try #require(datasetError {
      _ = try FashionMNIST.load(directory: dir.path, checks: Fixture.tinyChecks)
    })
    #expect(error.path == path)
    #expect(error.description.contains("announces 19,600 bytes of data (25 x 28 x 28)"))
    #expect(error.description.contains("holds only 18,816"))
  }

  @Test func dataLongerThanTheHeaderSays() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    let path = dir.file("train-labels-idx1-ubyte.gz")
    Fixture.writeGzip(
      Fixture.idx(magic: 0x801, dimensions: [25], data: Fixture.labels(count: 26)), to: path)
    let error = try #require(datasetError {
      _ = try FashionMNIST.load(directory: dir.path, checks: Fixture.tinyChecks)
    })
    #expect(error.path == path)
    #expect(error.description.contains("holds more than the 33 bytes its header announces"))
  }

  @Test func headerCutShort() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    let path = dir.file("train-images-idx3-ubyte.gz")
    Fixture.writeGzip([0, 0, 8, 3, 0, 0], to: path)
    let error = try #require(datasetError {
      _ = try FashionMNIST.load(directory: dir.path, checks: Fixture.tinyChecks)
    })
    #expect(error.path == path)
    #expect(error.description.contains("too short for an IDX header"))
  }

  @Test func labelOutOfRangeIsReported() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    let path = dir.file("t10k-labels-idx1-ubyte.gz")
    var labels = Fixture.labels(count: 7)
    labels[4] = 10
    Fixture.writeGzip(Fixture.idx(magic: 0x801, dimensions: [7], data: labels), to: path)
    let error = try #require(datasetError {
      _ = try FashionMNIST.load(directory: dir.path, checks: Fixture.tinyChecks)
    })
    #expect(error.path == path)
    #expect(error.problem == .labelOutOfRange(index: 4, value: 10, classes: 10))
    #expect(error.description.contains("label 10 at index 4, expected 0...9"))
  }

  @Test func checksumMismatchGivesExpectedAndActual() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    var checks = Fixture.tinyChecks
    checks.checksums = true
    let error = try #require(datasetError {
      _ = try FashionMNIST.load(directory: dir.path, checks: checks)
    })
    let actual = Fixture.crc32(of: Fixture.idx(
      magic: 0x803, dimensions: [25, 28, 28], data: Fixture.pixels(count: 25)))
    #expect(error.path == dir.file("train-images-idx3-ubyte.gz"))
    #expect(error.problem == .checksumMismatch(expected: 0xb4f2_9f28, actual: actual))
    #expect(error.description.contains("is \(hex(actual)), expected 0xb4f29f28"))
    #expect(error.description.contains("apt-get install dataset-fashion-mnist"))
  }

  @Test func errorsAreNotCached() throws {
    let dir = try TemporaryDirectory()
    #expect(throws: DatasetError.self) {
      _ = try FashionMNIST.load(directory: dir.path, checks: Fixture.tinyChecks)
    }
    Fixture.writeDataset(in: dir)
    let (train, _) = try FashionMNIST.load(directory: dir.path, checks: Fixture.tinyChecks)
    #expect(train.count == Fixture.trainCount)
  }

  @Test func numbersAreGrouped() {
    #expect(grouped(0) == "0")
    #expect(grouped(999) == "999")
    #expect(grouped(1000) == "1,000")
    #expect(grouped(47_040_016) == "47,040,016")
    #expect(grouped(-60_000) == "-60,000")
    #expect(hex(0x801) == "0x00000801")
  }
}
