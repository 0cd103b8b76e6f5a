import Foundation

/// A `LabeledImages` that may still be on disk: its size and the checksums of its files are
/// known, its pixels are read the first time a batch needs them. A training that the training
/// cache answers never makes a batch, so a re-run does not decompress 55 MB it would not use.
///
/// Reading happens once (later calls share the arrays) and is thread-safe.
public final class ImageSource: @unchecked Sendable {
  /// The number of images, as the files' headers gave it.
  public let count: Int
  public let rows: Int
  public let cols: Int
  /// The CRC-32s of the decompressed files (`LabeledImages.fileChecksums`).
  public let fileChecksums: [UInt32]

  // `loaded` is only read and written under `lock`; the rest is immutable. Hence the
  // unchecked Sendable.
  private let lock = NSLock()
  private var loaded: LabeledImages?
  private let read: @Sendable () throws -> LabeledImages

  /// Images already in memory.
  public init(_ images: LabeledImages) {
    count = images.count
    rows = images.rows
    cols = images.cols
    fileChecksums = images.fileChecksums
    loaded = images
    read = { images }
  }

  /// Images that `read` produces when first asked for. `read` must give exactly `count`
  /// images of `rows`×`cols` from files with these checksums; `images()` checks that.
  public init(
    count: Int, rows: Int, cols: Int, fileChecksums: [UInt32],
    read: @escaping @Sendable () throws -> LabeledImages
  ) {
    self.count = count
    self.rows = rows
    self.cols = cols
    self.fileChecksums = fileChecksums
    self.read = read
  }

  /// Whether the pixels are in memory.
  public var isLoaded: Bool {
    lock.lock()
    defer { lock.unlock() }
    return loaded != nil
  }

  /// The images, read now if they were not yet.
  ///
  /// - Throws: what reading throws (`DatasetError` for Fashion-MNIST), or a `DatasetError`
  ///   when the files no longer hold what they held when this source was made.
  public func images() throws -> LabeledImages {
    lock.lock()
    defer { lock.unlock() }
    if let loaded { return loaded }
    let images = try read()
    guard images.count == count, images.rows == rows, images.cols == cols,
      images.fileChecksums == fileChecksums
    else {
      throw DatasetError(
        path: "(\(count) images of \(rows)x\(cols))",
        problem: .wrongSize(
          detail: "the files changed during the run: they now hold \(images.count) images "
            + "of \(images.rows)x\(images.cols) with other checksums"))
    }
    loaded = images
    return images
  }
}
