/// The loop structure of an element-wise operation over broadcast operands:
/// dimensions are padded to a common rank, and adjacent dimensions that are
/// laid out alike in every operand are merged, so that the innermost loop is
/// as long as possible and each operand's inner stride is 0 (broadcast) or 1.
struct BroadcastLoop {
  /// Sizes of the merged dimensions, outermost first; the last is the inner loop.
  var sizes: [Int]
  /// For each operand, its element stride along each merged dimension.
  var strides: [[Int]]

  /// The output shape of broadcasting `shapes` together, or nil if they do not broadcast.
  static func broadcastShape(_ shapes: [[Int]]) -> [Int]? {
    let rank = shapes.map(\.count).max() ?? 0
    var out = [Int](repeating: 1, count: rank)
    for s in shapes {
      let pad = rank - s.count
      for (i, d) in s.enumerated() {
        let o = out[pad + i]
        if o == 1 { out[pad + i] = d } else if d != 1 && d != o { return nil }
      }
    }
    return out
  }

  /// Plans a loop over `shape` for operands of the given shapes, each of which
  /// broadcasts to `shape` (size-1 dimensions get stride 0).
  init(shape: [Int], operands: [[Int]]) {
    let rank = shape.count
    var strides: [[Int]] = operands.map { s in
      let padded = [Int](repeating: 1, count: rank - s.count) + s
      var st = [Int](repeating: 0, count: rank)
      var acc = 1
      for i in stride(from: rank - 1, through: 0, by: -1) {
        st[i] = padded[i] == 1 && shape[i] != 1 ? 0 : acc
        acc *= padded[i]
      }
      return st
    }
    // Merge dimension i into i+1 when every operand steps through both as one.
    var sizes = shape
    var i = rank - 2
    while i >= 0 {
      let mergeable = strides.allSatisfy { $0[i] == $0[i + 1] * sizes[i + 1] }
      if mergeable || sizes[i] == 1 {
        sizes[i + 1] *= sizes[i]
        if sizes[i] == 1 {
          // A size-1 dimension contributes nothing; keep the inner strides.
        }
        sizes.remove(at: i)
        for k in strides.indices { strides[k].remove(at: i) }
      }
      i -= 1
    }
    if sizes.isEmpty {
      sizes = [1]
      strides = strides.map { _ in [1] }
    }
    self.sizes = sizes
    self.strides = strides
  }

  var innerCount: Int { sizes[sizes.count - 1] }
  var outerCount: Int { sizes.dropLast().reduce(1, *) }

  /// Calls `body(offsets)` for each outer index in `range` (a range of the
  /// flattened outer dimensions), with each operand's element offset.
  @inline(__always)
  func forEachOuter(_ range: Range<Int>, _ body: ([Int]) -> Void) {
    let outerRank = sizes.count - 1
    var offsets = [Int](repeating: 0, count: strides.count)
    if outerRank == 0 {
      if !range.isEmpty { body(offsets) }
      return
    }
    var index = [Int](repeating: 0, count: outerRank)
    var rem = range.lowerBound
    for d in stride(from: outerRank - 1, through: 0, by: -1) {
      index[d] = rem % sizes[d]
      rem /= sizes[d]
    }
    for k in strides.indices {
      var o = 0
      for d in 0..<outerRank { o += index[d] * strides[k][d] }
      offsets[k] = o
    }
    for _ in range {
      body(offsets)
      var d = outerRank - 1
      while d >= 0 {
        index[d] += 1
        for k in strides.indices { offsets[k] += strides[k][d] }
        if index[d] < sizes[d] { break }
        for k in strides.indices { offsets[k] -= strides[k][d] * sizes[d] }
        index[d] = 0
        d -= 1
      }
    }
  }
}
