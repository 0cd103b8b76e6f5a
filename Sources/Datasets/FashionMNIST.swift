import Foundation

/// Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 28x28 grey images of clothing in ten
/// classes, 60,000 for training and 10,000 for testing, read from the four gzip-compressed IDX
/// files of the official release and checked against the release's checksums.
public enum FashionMNIST {
  /// The names of the ten classes, indexed by label (as the book's `get_fashion_mnist_labels`).
  public static let classNames = [
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
  ]

  /// The number of classes.
  public static let numberOfClasses = 10

  /// The four file names of the official release, in the order they are read.
  public static let fileNames = [
    trainImages.name, trainLabels.name, testImages.name, testLabels.name,
  ]

  /// `$FASHION_MNIST_DIR` if set and not empty, else where Debian's `dataset-fashion-mnist`
  /// package installs the files.
  public static func defaultDirectory() -> String {
    if let dir = ProcessInfo.processInfo.environment["FASHION_MNIST_DIR"], !dir.isEmpty {
      return dir
    }
    return "/usr/share/datasets/fashion-mnist"
  }

  /// Reads, checks and returns both splits. The result is cached for the life of the process
  /// (per directory), so a second call costs nothing and shares the same arrays.
  ///
  /// - Throws: `DatasetError` naming the first bad file, checked in the order of `fileNames`.
  public static func load(
    directory: String = defaultDirectory()
  ) throws -> (train: LabeledImages, test: LabeledImages) {
    try load(directory: directory, checks: .official)
  }

  // MARK: - Internals (tests reach these through @testable import)

  /// One file of the release and the CRC-32 of its decompressed bytes.
  struct FileSpec: Sendable {
    var name: String
    var crc32: UInt32
  }

  // CRC-32 (zlib's crc32, as Python's zlib.crc32 and `gzip -lv` print) of the DECOMPRESSED
  // files, computed on 2026-11-29 from Debian's dataset-fashion-mnist package, whose
  // decompressed bytes equal the official release (github.com/zalandoresearch/fashion-mnist);
  // its gzip headers differ, so the .gz files themselves are not compared. Cross-check: the
  // MD5s of the decompressed files are, in this order, f4a8712d7a061bf5bd6d2ca38dc4d50a,
  // 9018921c3c673c538a1fc5bad174d6f9, 8181f5470baa50b63fa0f6fddb340f0a and
  // 15d484375f8d13e6eb1aabb0c3f46965.
  static let trainImages = FileSpec(name: "train-images-idx3-ubyte.gz", crc32: 0xb4f2_9f28)
  static let trainLabels = FileSpec(name: "train-labels-idx1-ubyte.gz", crc32: 0x741a_4657)
  static let testImages = FileSpec(name: "t10k-images-idx3-ubyte.gz", crc32: 0x678f_e0b1)
  static let testLabels = FileSpec(name: "t10k-labels-idx1-ubyte.gz", crc32: 0x8014_2c1f)

  static let rows = 28
  static let cols = 28

  /// What `load` insists on. Tests relax it for small synthetic files.
  struct Checks: Hashable, Sendable, Codable {
    /// Required image counts; nil accepts any.
    var trainCount: Int?
    var testCount: Int?
    /// Compare CRC-32s with the release's.
    var checksums: Bool

    static let official = Checks(trainCount: 60_000, testCount: 10_000, checksums: true)
  }

  static func load(
    directory: String, checks: Checks
  ) throws -> (train: LabeledImages, test: LabeledImages) {
    try cache.value(for: CacheKey(directory: directory, checks: checks)) {
      let train = try readSplit(
        directory: directory, images: trainImages, labels: trainLabels,
        count: checks.trainCount, checksums: checks.checksums)
      let test = try readSplit(
        directory: directory, images: testImages, labels: testLabels,
        count: checks.testCount, checksums: checks.checksums)
      return (train, test)
    }
  }

  static func readSplit(
    directory: String, images: FileSpec, labels: FileSpec, count: Int?, checksums: Bool
  ) throws -> LabeledImages {
    let imagePath = path(directory, images.name)
    let labelPath = path(directory, labels.name)

    let imageFile = try IDX.read(path: imagePath, magic: IDX.imagesMagic) { dims in
      if let count, dims[0] != count {
        throw DatasetError(path: imagePath, problem: .wrongCount(expected: count, actual: dims[0]))
      }
      guard dims[1] == rows && dims[2] == cols else {
        throw DatasetError(
          path: imagePath,
          problem: .wrongSize(detail: "images are \(dims[1])x\(dims[2]), expected \(rows)x\(cols)"))
      }
    }
    try verify(imageFile, spec: images, path: imagePath, enabled: checksums)
    let imageCount = imageFile.dimensions[0]

    let labelFile = try IDX.read(path: labelPath, magic: IDX.labelsMagic) { dims in
      if let count, dims[0] != count {
        throw DatasetError(path: labelPath, problem: .wrongCount(expected: count, actual: dims[0]))
      }
      guard dims[0] == imageCount else {
        throw DatasetError(
          path: labelPath,
          problem: .wrongSize(
            detail: "it holds \(grouped(dims[0])) labels but \(images.name) holds "
              + "\(grouped(imageCount)) images"))
      }
    }
    if let bad = labelFile.data.firstIndex(where: { Int($0) >= numberOfClasses }) {
      throw DatasetError(
        path: labelPath,
        problem: .labelOutOfRange(index: bad, value: labelFile.data[bad], classes: numberOfClasses))
    }
    try verify(labelFile, spec: labels, path: labelPath, enabled: checksums)

    return LabeledImages(
      count: imageCount, rows: rows, cols: cols, pixels: imageFile.data, labels: labelFile.data,
      fileChecksums: [imageFile.crc, labelFile.crc])
  }

  private static func verify(_ file: IDX.File, spec: FileSpec, path: String, enabled: Bool) throws {
    guard enabled, file.crc != spec.crc32 else { return }
    throw DatasetError(
      path: path, problem: .checksumMismatch(expected: spec.crc32, actual: file.crc))
  }

  static func path(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
  }

  // MARK: - Cache

  struct CacheKey: Hashable, Sendable {
    var directory: String
    var checks: Checks
  }

  static let cache = LoadCache()

  /// Loaded splits by directory. One lock around the whole load: a second thread asking for
  /// the same data waits for the first instead of decompressing it again.
  final class LoadCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [CacheKey: (train: LabeledImages, test: LabeledImages)] = [:]

    func value(
      for key: CacheKey, load: () throws -> (train: LabeledImages, test: LabeledImages)
    ) throws -> (train: LabeledImages, test: LabeledImages) {
      lock.lock()
      defer { lock.unlock() }
      if let hit = entries[key] { return hit }
      // Failures are not cached: the user may install the files and try again.
      let value = try load()
      entries[key] = value
      return value
    }

    /// Forgets everything (tests that rewrite files in place).
    func removeAll() {
      lock.lock()
      entries.removeAll()
      lock.unlock()
    }
  }
}
