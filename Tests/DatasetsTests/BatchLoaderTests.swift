import Foundation
import Testing

@testable import Datasets

@Suite struct BatchLoaderTests {
  static let data = Fixture.images(count: 103)

  /// The example index hidden in an image's first two pixels (see `Fixture.pixels`).
  static func exampleIndex(_ batch: Batch, slot: Int) -> Int {
    let base = slot * batch.height * batch.width
    let low = Int((batch.images[base] * 255).rounded())
    let high = Int((batch.images[base + 1] * 255).rounded())
    return low + 256 * high
  }

  static func indices(_ loader: BatchLoader, epoch: Int) -> [Int] {
    loader.epoch(epoch).flatMap { $0.indices }
  }

  @Test func everyExampleOncePerEpochLastBatchPartial() {
    let loader = BatchLoader(Self.data, batchSize: 10, shuffle: true, seed: 1)
    #expect(loader.numberOfExamples == 103)
    #expect(loader.numberOfBatches == 11)
    for epoch in 0..<3 {
      let batches = Array(loader.epoch(epoch))
      #expect(batches.count == 11)
      #expect(batches.dropLast().allSatisfy { $0.count == 10 })
      let last = batches[10]
      #expect(last.count == 3 && last.labels.count == 3 && last.images.count == 3 * 784)
      #expect(last.shape == [3, 1, 28, 28])
      let seen = batches.flatMap { $0.indices }
      #expect(seen.sorted() == Array(0..<103))
      // Images and labels are those of the examples the batch names.
      for batch in batches {
        for slot in 0..<batch.count {
          let index = batch.indices[slot]
          #expect(Self.exampleIndex(batch, slot: slot) == index)
          #expect(batch.labels[slot] == Int32(Self.data.labels[index]))
          let base = slot * 784
          let pixels = Self.data.pixels[index * 784 ..< (index + 1) * 784]
          #expect(Array(batch.images[base ..< base + 784]) == pixels.map { Float($0) / 255 })
        }
      }
    }
  }

  @Test func withoutShuffleTheOrderIsTheFilesOrder() {
    let loader = BatchLoader(Self.data, batchSize: 16, shuffle: false)
    #expect(Self.indices(loader, epoch: 0) == Array(0..<103))
    #expect(Self.indices(loader, epoch: 5) == Array(0..<103))
  }

  @Test func sameSeedSameOrderOtherEpochOrSeedAnother() {
    let a = BatchLoader(Self.data, batchSize: 8, shuffle: true, seed: 42)
    let b = BatchLoader(Self.data, batchSize: 8, shuffle: true, seed: 42)
    let c = BatchLoader(Self.data, batchSize: 8, shuffle: true, seed: 43)
    #expect(Self.indices(a, epoch: 0) == Self.indices(b, epoch: 0))
    #expect(Self.indices(a, epoch: 3) == Self.indices(b, epoch: 3))
    #expect(Self.indices(a, epoch: 0) == a.order(epoch: 0))
    #expect(Self.indices(a, epoch: 0) != Self.indices(a, epoch: 1))
    #expect(Self.indices(a, epoch: 1) != Self.indices(a, epoch: 2))
    #expect(Self.indices(a, epoch: 0) != Self.indices(c, epoch: 0))
    #expect(Self.indices(a, epoch: 0) != Array(0..<103))
  }

  /// Pins the order a seed gives, so a change to the generator or shuffle shows up here.
  @Test func orderIsStableAcrossVersions() {
    let loader = BatchLoader(Fixture.images(count: 10), batchSize: 4, shuffle: true, seed: 0)
    let first = loader.order(epoch: 0)
    #expect(first.sorted() == Array(0..<10))
    var rng = SplitMix64(seed: 0)
    #expect(rng.next() == 0xE220_A839_7B1D_CDAF)
  }

  @Test func sameBatchesWhateverTheTiming() {
    let loader = BatchLoader(Self.data, batchSize: 9, resize: 32, shuffle: true, seed: 3)
    let fast = Array(loader.epoch(2))
    var slow = [Batch]()
    for batch in loader.epoch(2) {
      Thread.sleep(forTimeInterval: 0.002)
      slow.append(batch)
    }
    #expect(fast.map(\.images) == slow.map(\.images))
    #expect(fast.map(\.labels) == slow.map(\.labels))
  }

  @Test func resizedBatchesMatchThePlan() {
    let loader = BatchLoader(Self.data, batchSize: 20, resize: 96, shuffle: true, seed: 9)
    let plan = ImageResize.BilinearPlan(
      inputHeight: 28, inputWidth: 28, outputHeight: 96, outputWidth: 96)
    var total = 0
    for batch in loader.epoch(0) {
      #expect(batch.height == 96 && batch.width == 96)
      #expect(batch.images.count == batch.count * 96 * 96)
      for slot in 0..<batch.count {
        let index = batch.indices[slot]
        let want = plan.apply(Array(Self.data.pixels[index * 784 ..< (index + 1) * 784]))
        #expect(Array(batch.images[slot * 9216 ..< (slot + 1) * 9216]) == want)
      }
      total += batch.count
    }
    #expect(total == 103)
  }

  @Test func resizeTo28IsNoResize() {
    let loader = BatchLoader(Self.data, batchSize: 50, resize: 28, shuffle: false)
    #expect(loader.plan == nil)
    let batch = loader.epoch(0).makeIterator().next()!
    #expect(batch.images == Self.data.pixels[0 ..< 50 * 784].map { Float($0) / 255 })
  }

  @Test func subsetHasAllClassesAndTheRightSize() {
    let data = Fixture.images(count: 1000)
    let loader = BatchLoader(data, batchSize: 32, shuffle: true, seed: 5, subset: 100)
    #expect(loader.numberOfExamples == 100)
    #expect(loader.numberOfBatches == 4)
    let epoch0 = Self.indices(loader, epoch: 0)
    let epoch1 = Self.indices(loader, epoch: 1)
    #expect(epoch0.count == 100 && Set(epoch0).count == 100)
    // The same examples every epoch, in another order.
    #expect(Set(epoch0) == Set(epoch1) && epoch0 != epoch1)
    #expect(Set(epoch0) == Set(loader.indices))
    // A random sample, not the first 100.
    #expect(Set(epoch0) != Set(0..<100))
    #expect(Set(epoch0.map { data.labels[$0] }).count == 10)
    // The subset depends on the seed only.
    let again = BatchLoader(data, batchSize: 7, shuffle: false, seed: 5, subset: 100)
    #expect(again.indices == loader.indices)
    #expect(Self.indices(again, epoch: 0) == loader.indices)
  }

  @Test func subsetLargerThanTheDataUsesAll() {
    let loader = BatchLoader(Self.data, batchSize: 10, shuffle: false, subset: 500)
    #expect(loader.numberOfExamples == 103)
  }

  @Test func batchLargerThanTheData() {
    let loader = BatchLoader(Self.data, batchSize: 256, shuffle: true, seed: 1)
    let batches = Array(loader.epoch(0))
    #expect(batches.count == 1 && batches[0].count == 103)
  }

  @Test func emptyData() {
    let loader = BatchLoader(Fixture.images(count: 0), batchSize: 4, shuffle: true)
    #expect(loader.numberOfBatches == 0)
    #expect(Array(loader.epoch(0)).isEmpty)
    #expect(loader.producers.value == 0)
  }

  @Test(.timeLimit(.minutes(1))) func leavingAnEpochEarlyStopsTheThread() {
    let loader = BatchLoader(Self.data, batchSize: 2, resize: 64, shuffle: true, seed: 2)
    for round in 0..<20 {
      var taken = 0
      for _ in loader.epoch(round) {
        taken += 1
        if taken == round % 4 + 1 { break }
      }
      #expect(taken == round % 4 + 1)
      #expect(loader.producers.value == 0)
    }
    // An iterator that is never advanced, and one dropped after the queue filled up.
    _ = loader.epoch(0).makeIterator()
    do {
      let iterator = loader.epoch(1).makeIterator()
      Thread.sleep(forTimeInterval: 0.05)
      _ = iterator
    }
    #expect(loader.producers.value == 0)
    // The loader still works afterwards.
    #expect(Self.indices(loader, epoch: 0).sorted() == Array(0..<103))
  }

  @Test func aFinishedEpochKeepsAnsweringNil() {
    let loader = BatchLoader(Self.data, batchSize: 10, shuffle: true, seed: 2)
    let iterator = loader.epoch(0).makeIterator()
    var count = 0
    while iterator.next() != nil { count += 1 }
    #expect(count == 11)
    #expect(iterator.next() == nil)
  }
}
