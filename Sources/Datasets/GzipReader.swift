import CZlib
import Foundation

/// Streams the decompressed bytes of a gzip file and keeps a running CRC-32 of them. The
/// compressed file is read in chunks so that a 26 MB archive never sits whole in memory beside
/// its 47 MB of pixels. Errors are `DatasetError`s that name the file.
final class GzipReader {
  let path: String
  private let file: UnsafeMutablePointer<FILE>
  private let input: UnsafeMutablePointer<UInt8>
  private let inputCapacity = 1 << 18
  private var stream = z_stream()
  private var memberEnded = false
  private var finished = false
  private var compressedBytesRead = 0
  private var runningCRC: uLong = crc32(0, nil, 0)
  /// The number of decompressed bytes handed out so far.
  private(set) var produced = 0

  /// The CRC-32 (zlib's `crc32`) of every byte handed out so far.
  var crc: UInt32 { UInt32(truncatingIfNeeded: runningCRC) }

  init(path: String) throws {
    self.path = path
    guard let file = fopen(path, "rb") else { throw DatasetError(path: path, errno: errno) }
    self.file = file
    input = .allocate(capacity: inputCapacity)
    // 15 + 32: a 32 KB window, and let zlib detect the gzip (or zlib) header itself.
    let status = inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    guard status == Z_OK else {
      fclose(file)
      input.deallocate()
      throw DatasetError(path: path, problem: .corrupt(reason: "zlib failed to start (\(status))"))
    }
  }

  deinit {
    inflateEnd(&stream)
    fclose(file)
    input.deallocate()
  }

  /// Fills `buffer` with decompressed bytes and returns how many it wrote: fewer than
  /// `buffer.count` only at the end of the data.
  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return 0 }
    var filled = 0
    while filled < buffer.count && !finished {
      if stream.avail_in == 0 {
        let n = fread(input, 1, inputCapacity, file)
        if n == 0 {
          if ferror(file) != 0 {
            let reason = String(cString: strerror(errno))
            throw DatasetError(path: path, problem: .unreadable(reason: reason))
          }
          if memberEnded {
            finished = true
            break
          }
          throw corrupt(
            compressedBytesRead == 0
              ? "the file is empty"
              : "the compressed data ends early (truncated download or copy?) after "
                + "\(grouped(produced + filled)) decompressed bytes")
        }
        // zlib would call a plain file "unknown compression method" or the like; say what
        // is actually wrong.
        if compressedBytesRead == 0 && (input[0] != 0x1f || (n > 1 && input[1] != 0x8b)) {
          throw corrupt("it does not start with the gzip signature 1f 8b (an uncompressed copy?)")
        }
        compressedBytesRead += n
        stream.next_in = input
        stream.avail_in = uInt(n)
      }
      if memberEnded {
        // More bytes after a complete gzip member: another member (as `cat a.gz b.gz` makes)
        // or padding, which gzip(1) ignores; do the same.
        guard stream.next_in.pointee == 0x1f else {
          finished = true
          break
        }
        inflateReset(&stream)
        memberEnded = false
      }
      let room = uInt(min(buffer.count - filled, Int(uInt.max)))
      stream.next_out = base + filled
      stream.avail_out = room
      let status = inflate(&stream, Z_NO_FLUSH)
      let got = Int(room - stream.avail_out)
      if got > 0 {
        runningCRC = crc32(runningCRC, base + filled, uInt(got))
        filled += got
      }
      switch status {
      case Z_OK, Z_BUF_ERROR:
        // Z_BUF_ERROR only means "no progress without more input"; the loop refills.
        continue
      case Z_STREAM_END:
        memberEnded = true
      default:
        let message = stream.msg.map { String(cString: $0) } ?? String(cString: zError(status))
        throw corrupt("zlib reports \"\(message)\" after \(grouped(produced + filled)) bytes")
      }
    }
    produced += filled
    return filled
  }

  private func corrupt(_ reason: String) -> DatasetError {
    DatasetError(path: path, problem: .corrupt(reason: reason))
  }
}
