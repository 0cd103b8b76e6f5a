/// Joins tensors along `axis` (channels, axis 1, for Inception and DenseNet
/// blocks). All other dimensions must agree. The backward pass hands each
/// input its slice of the gradient.
public func concatenate(_ tensors: [Tensor], axis: Int = 1) -> Tensor {
  require(!tensors.isEmpty, "concatenate needs at least one tensor")
  let first = tensors[0]
  let ax = axis < 0 ? axis + first.rank : axis
  require(ax >= 0 && ax < first.rank, "concatenate: axis \(axis) out of range for \(first.shape)")
  for t in tensors {
    require(t.rank == first.rank
      && zip(t.shape, first.shape).enumerated().allSatisfy { $0.offset == ax || $0.element.0 == $0.element.1 },
      "concatenate: shapes \(tensors.map(\.shape)) differ outside axis \(ax)")
  }
  let outer = first.shape[..<ax].reduce(1, *)
  let inner = first.shape[(ax + 1)...].reduce(1, *)
  let sizes = tensors.map { $0.shape[ax] }
  let total = sizes.reduce(0, +)
  var shape = first.shape
  shape[ax] = total
  let y = Tensor(uninitializedShape: shape)
  // Each (outer index, input) pair is one contiguous block copy.
  var offsets: [Int] = []
  var acc = 0
  for s in sizes {
    offsets.append(acc)
    acc += s
  }
  let blocks = tensors.map { UnsafePointer($0.data) }
  let captured = (blocks, y.data)
  parallelRanges(outer, minPerThread: max(1, 16384 / max(total * inner, 1))) { range in
    let (blocks, yp) = captured
    for o in range {
      for (k, src) in blocks.enumerated() {
        let n = sizes[k] * inner
        (yp + (o * total + offsets[k]) * inner).update(from: src + o * n, count: n)
      }
    }
  }
  // The backward pass needs the inputs' gradient slots only, not their values.
  let slots = tensors.map(\.gradientSlotIfRequired)
  return Autograd.record(y, tensors) { dy in
    for (k, slot) in slots.enumerated() {
      guard let slot else { continue }
      let n = sizes[k] * inner, off = offsets[k]
      let p = (dy.data, slot.buffer())
      parallelRanges(outer, minPerThread: max(1, 16384 / max(n, 1))) { range in
        let (gp, dst) = p
        for o in range {
          let g = gp + (o * total + off) * inner, d = dst + o * n
          for i in 0..<n { d[i] += g[i] }
        }
      }
    }
  }
}
