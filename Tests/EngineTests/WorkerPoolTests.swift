import Foundation
import Testing
@testable import Engine

extension EngineTests {
  /// `parallelParts` on the engine's worker pool: every part runs once, with the range the
  /// split promises, through the pool's spinning, sleeping and waking paths, nested
  /// regions, changes of thread count and two callers at once.
  @Suite struct WorkerPool {
    /// What one region's parts saw: the ranges by part index, and how often each ran.
    final class Record: @unchecked Sendable {
      // Each part writes only its own index; read after the region has returned.
      var ranges: [Range<Int>?]
      var calls: [Int]
      init(parts: Int) {
        ranges = Array(repeating: nil, count: parts)
        calls = Array(repeating: 0, count: parts)
      }
    }

    /// Runs one region and checks its parts against the contiguous split of `0..<total`.
    func checkRegion(total: Int, parts: Int, work: (Int) -> Void = { _ in }) {
      let threads = min(parts, total)
      let record = Record(parts: max(parts, 1))
      parallelParts(total, parts: parts) { t, range in
        record.calls[t] += 1
        record.ranges[t] = range
        work(t)
      }
      if threads <= 1 {
        #expect(record.calls[0] == (total > 0 ? 1 : 0), "total \(total) parts \(parts)")
        if total > 0 { #expect(record.ranges[0] == 0..<total) }
        return
      }
      for t in 0..<threads {
        let expected = (total * t / threads)..<(total * (t + 1) / threads)
        #expect(record.calls[t] == (expected.isEmpty ? 0 : 1), "total \(total) parts \(parts) t \(t)")
        if !expected.isEmpty { #expect(record.ranges[t] == expected) }
      }
      for t in threads..<record.calls.count { #expect(record.calls[t] == 0) }
    }

    @Test func everyPartRunsOnceWithItsRange() {
      defer { ComputeThreads.set(1) }
      for threads in [1, 2, 3, 4] {
        ComputeThreads.set(threads)
        for total in [0, 1, 2, 3, 7, 100] {
          for parts in 1...5 where parts <= max(threads, 1) { checkRegion(total: total, parts: parts) }
        }
      }
    }

    /// Back to back (the workers spinning), after a pause longer than the spin (asleep),
    /// and with a worker's part outlasting the spin (the caller sleeping until it ends).
    @Test func spinningSleepingAndSlowParts() {
      ComputeThreads.set(2)
      defer { ComputeThreads.set(1) }
      for _ in 0..<2000 { checkRegion(total: 64, parts: 2) }
      for _ in 0..<3 {
        usleep(2_000)
        checkRegion(total: 64, parts: 2)
      }
      for _ in 0..<3 { checkRegion(total: 64, parts: 2) { t in if t == 1 { usleep(3_000) } } }
      for _ in 0..<3 { checkRegion(total: 64, parts: 2) { t in if t == 0 { usleep(3_000) } } }
    }

    /// A region inside a part runs on that part's thread, whole.
    @Test func nestedRegionsRunInline() {
      ComputeThreads.set(2)
      defer { ComputeThreads.set(1) }
      let record = Record(parts: 2)
      parallelParts(10, parts: 2) { t, _ in
        var inner = 0
        parallelParts(8, parts: 2) { u, range in
          #expect(u == 0 && range == 0..<8)
          inner += 1
        }
        record.calls[t] = inner
      }
      #expect(record.calls == [1, 1])
    }

    @Test func threadCountChangesBetweenRegions() {
      defer { ComputeThreads.set(1) }
      for threads in [3, 2, 4, 1, 2] {
        ComputeThreads.set(threads)
        for _ in 0..<50 { checkRegion(total: 40, parts: threads) }
      }
    }

    /// Two threads submitting at once: one gets the pool, the other libdispatch's threads;
    /// both see every part.
    @Test func twoCallersAtOnce() {
      ComputeThreads.set(2)
      defer { ComputeThreads.set(1) }
      let sums = Record(parts: 2)
      DispatchQueue.concurrentPerform(iterations: 2) { caller in
        var total = 0
        for _ in 0..<500 {
          let parts = Record(parts: 2)
          parallelParts(100, parts: 2) { t, range in parts.calls[t] = range.reduce(0, +) }
          total += parts.calls[0] + parts.calls[1]
        }
        sums.calls[caller] = total
      }
      #expect(sums.calls == [500 * 4950, 500 * 4950])
    }
  }
}
