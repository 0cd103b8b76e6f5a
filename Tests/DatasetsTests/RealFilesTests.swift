import Foundation
import Testing

@testable import Datasets

private func realFilesInstalled() -> Bool {
  FashionMNIST.fileNames.allSatisfy {
    FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory() + "/" + $0)
  }
}

/// Runs only where the real files are installed (Debian's dataset-fashion-mnist).
@Suite(.enabled(if: realFilesInstalled(), "Fashion-MNIST is not installed"))
struct RealFilesTests {

  @Test func officialFilesLoadAndPassTheirChecks() throws {
    let (train, test) = try FashionMNIST.load()
    #expect(train.count == 60_000 && test.count == 10_000)
    #expect(train.rows == 28 && train.cols == 28)
    #expect(train.pixels.count == 60_000 * 784 && test.pixels.count == 10_000 * 784)
    // The first training and test images are both ankle boots.
    #expect(train.labels[0] == 9 && FashionMNIST.classNames[Int(train.labels[0])] == "ankle boot")
    #expect(test.labels[0] == 9)
    // Fashion-MNIST is balanced: 6,000 and 1,000 of each class.
    var perClass = [Int](repeating: 0, count: 10)
    for label in train.labels { perClass[Int(label)] += 1 }
    #expect(perClass == [Int](repeating: 6_000, count: 10))

    let again = try FashionMNIST.load()
    let shared = train.pixels.withUnsafeBufferPointer { a in
      again.train.pixels.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress }
    }
    #expect(shared)
  }

  @Test func aSubsetOfTheRealDataHasEveryClass() throws {
    let (train, _) = try FashionMNIST.load()
    let loader = BatchLoader(train, batchSize: 64, resize: 96, shuffle: true, seed: 1, subset: 200)
    var labels = Set<Int32>()
    var count = 0
    for batch in loader.epoch(0) {
      labels.formUnion(batch.labels)
      count += batch.count
      #expect(batch.images.allSatisfy { $0 >= 0 && $0 <= 1 })
    }
    #expect(count == 200 && labels.count == 10)
  }
}
