import Foundation
import Testing

@testable import Datasets

/// `FashionMNIST.sources`: files read and checked once are not read again while they stand as
/// recorded; any change to a file (its bytes, or its bytes with the old modification time put
/// back) reads and checks them again. The process-wide load cache is emptied before each
/// call, as a new process would start.
@Suite(.serialized) struct VerifiedFilesTests {
  static func sources(_ dir: TemporaryDirectory, record: String?) throws
    -> (train: ImageSource, test: ImageSource)
  {
    FashionMNIST.cache.removeAll()
    return try FashionMNIST.sources(directory: dir.path, checks: Fixture.tinyChecks, record: record)
  }

  @Test func unchangedFilesAreReadOnlyWhenABatchNeedsThem() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    let record = dir.file("cache/fashion-mnist.json")
    let first = try Self.sources(dir, record: record)
    #expect(first.train.isLoaded && first.test.isLoaded)
    #expect(FileManager.default.fileExists(atPath: record))

    let second = try Self.sources(dir, record: record)
    #expect(!second.train.isLoaded && !second.test.isLoaded)
    #expect(second.train.count == Fixture.trainCount && second.test.count == Fixture.testCount)
    #expect(second.train.fileChecksums == first.train.fileChecksums)
    #expect(second.test.fileChecksums == first.test.fileChecksums)
    // Reading it gives the same images.
    #expect(try second.train.images().pixels == first.train.images().pixels)
    #expect(second.train.isLoaded)

    // Without a record, nothing is deferred.
    #expect(try Self.sources(dir, record: nil).train.isLoaded)
  }

  @Test func aChangedFileIsReadAndCheckedAgain() throws {
    let dir = try TemporaryDirectory()
    Fixture.writeDataset(in: dir)
    let record = dir.file("fashion-mnist.json")
    let before = try Self.sources(dir, record: record)

    // Other pixels in the test images, with the old modification time put back.
    let path = dir.file("t10k-images-idx3-ubyte.gz")
    let modified = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate]
    var pixels = Fixture.pixels(count: Fixture.testCount)
    pixels[100] ^= 0xFF
    Fixture.writeGzip(
      Fixture.idx(magic: 0x803, dimensions: [Fixture.testCount, 28, 28], data: pixels), to: path)
    try FileManager.default.setAttributes([.modificationDate: modified!], ofItemAtPath: path)

    let after = try Self.sources(dir, record: record)
    #expect(after.test.isLoaded, "read again, not taken from the record")
    #expect(after.test.fileChecksums != before.test.fileChecksums)
    #expect(after.train.fileChecksums == before.train.fileChecksums)

    // A file that went bad is reported when the sources are made, not at the first batch.
    try Data("not gzip".utf8).write(to: URL(fileURLWithPath: path))
    let error = datasetError { _ = try Self.sources(dir, record: record) }
    #expect(error?.path == path, "\(String(describing: error))")
    // A missing file, likewise.
    try FileManager.default.removeItem(atPath: path)
    #expect(datasetError { _ = try Self.sources(dir, record: record) }?.problem == .missing)
  }

  @Test func aSourceRefusesFilesThatChangedUnderIt() throws {
    let images = Fixture.images(count: 3)
    let source = ImageSource(count: 3, rows: 28, cols: 28, fileChecksums: [1, 2], read: { images })
    #expect(datasetError { _ = try source.images() } != nil)
    #expect(!source.isLoaded)
  }
}
