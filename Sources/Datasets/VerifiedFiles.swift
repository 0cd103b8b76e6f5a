import Foundation

extension FashionMNIST {
  /// Both splits as `ImageSource`s, read now or when first needed.
  ///
  /// Reading and checking the four files costs a few tenths of a second, which is most of a
  /// re-run whose trainings all come from the training cache. So, as git's index does, a
  /// successful read leaves a record at `record`: each file's size, times, inode and device,
  /// with the counts and checksums that reading found. When every file still stands as
  /// recorded, the sources start unread and take their checksums from the record; otherwise
  /// (no record, a file touched, replaced or moved) the files are read and checked now, and
  /// the record is rewritten. A record that cannot be written costs the next run a read,
  /// nothing else.
  ///
  /// - Parameter record: a file kept between runs (the output folder's `.cache/`); nil
  ///   reads now and records nothing.
  /// - Throws: `DatasetError` naming the first bad file, as `load` does.
  public static func sources(
    directory: String = defaultDirectory(), record: String?
  ) throws -> (train: ImageSource, test: ImageSource) {
    try sources(directory: directory, checks: .official, record: record)
  }

  static func sources(
    directory: String, checks: Checks, record: String?
  ) throws -> (train: ImageSource, test: ImageSource) {
    // Stamped before reading: a file that changes while it is read is read again next time.
    let stamps = try fileNames.map { try FileStamp(path(directory, $0)) }
    if let record, let known = VerifiedFiles.read(record),
      known.directory == directory, known.checks == checks, known.stamps == stamps
    {
      func deferred(_ split: VerifiedFiles.Split, _ pick: @escaping @Sendable (
        (train: LabeledImages, test: LabeledImages)) -> LabeledImages) -> ImageSource {
        ImageSource(
          count: split.count, rows: rows, cols: cols, fileChecksums: split.checksums,
          read: { pick(try load(directory: directory, checks: checks)) })
      }
      return (deferred(known.train, { $0.train }), deferred(known.test, { $0.test }))
    }
    let both = try load(directory: directory, checks: checks)
    if let record {
      let verified = VerifiedFiles(
        directory: directory, checks: checks, stamps: stamps,
        train: .init(count: both.train.count, checksums: both.train.fileChecksums),
        test: .init(count: both.test.count, checksums: both.test.fileChecksums))
      verified.write(record)
    }
    return (ImageSource(both.train), ImageSource(both.test))
  }

  /// A file as the file system describes it: what changes when its bytes do.
  struct FileStamp: Codable, Equatable, Sendable {
    var size: Int64
    /// Modification and status-change times, in nanoseconds since 1970. The status-change
    /// time also moves when a tool puts the modification time back.
    var modified: Int64
    var changed: Int64
    var inode: UInt64
    var device: UInt64

    /// - Throws: `DatasetError` (`.missing`, `.unreadable`) when `path` cannot be examined.
    init(_ path: String) throws {
      var info = stat()
      guard stat(path, &info) == 0 else { throw DatasetError(path: path, errno: errno) }
      size = Int64(info.st_size)
      modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
      changed = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
      inode = UInt64(info.st_ino)
      device = UInt64(info.st_dev)
    }
  }

  /// What a successful read of the four files found, and how the files stood before it.
  struct VerifiedFiles: Codable, Equatable {
    struct Split: Codable, Equatable {
      var count: Int
      var checksums: [UInt32]
    }
    static let currentFormat = "fashion-mnist-verified-1"
    var format = currentFormat
    var directory: String
    var checks: Checks
    /// In the order of `fileNames`.
    var stamps: [FileStamp]
    var train: Split
    var test: Split

    static func read(_ path: String) -> VerifiedFiles? {
      guard let data = FileManager.default.contents(atPath: path),
        let known = try? JSONDecoder().decode(VerifiedFiles.self, from: data),
        known.format == currentFormat
      else { return nil }
      return known
    }

    /// Writes atomically (a temporary file, then a rename); failures are ignored.
    func write(_ path: String) {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
      guard let data = try? encoder.encode(self) else { return }
      let url = URL(fileURLWithPath: path)
      try? FileManager.default.createDirectory(
        at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try? data.write(to: url, options: .atomic)
    }
  }
}
