/// A set of single-channel 8-bit images with one class label each, as read from a pair of IDX
/// files: image `i` is `pixels[i * rows * cols ..< (i + 1) * rows * cols]`, row-major, and its
/// label is `labels[i]`.
public struct LabeledImages: Sendable {
  /// The number of images (and labels).
  public let count: Int
  /// The height of every image in pixels.
  public let rows: Int
  /// The width of every image in pixels.
  public let cols: Int
  /// `count * rows * cols` grey levels, 0 (background) to 255, image after image.
  public let pixels: [UInt8]
  /// `count` class indices.
  public let labels: [UInt8]
  /// The CRC-32s of the decompressed files the images and labels were read from (empty when
  /// they come from elsewhere): what the training cache's key records of the data.
  public let fileChecksums: [UInt32]

  /// Wraps pixels and labels that already agree in size.
  public init(
    count: Int, rows: Int, cols: Int, pixels: [UInt8], labels: [UInt8],
    fileChecksums: [UInt32] = []
  ) {
    require(count >= 0 && rows > 0 && cols > 0, "bad image set shape")
    require(pixels.count == count * rows * cols, "pixels do not match count x rows x cols")
    require(labels.count == count, "labels do not match count")
    self.count = count
    self.rows = rows
    self.cols = cols
    self.pixels = pixels
    self.labels = labels
    self.fileChecksums = fileChecksums
  }

  /// The number of pixels in one image.
  public var pixelsPerImage: Int { rows * cols }
}
