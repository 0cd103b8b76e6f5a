import Foundation
import Testing

@testable import Engine

extension EngineTests {
  /// `backward()` frees each recorded result (and its gradient) as soon as its own backward
  /// has run, rather than holding every activation to the end of the pass.
  @Suite struct AutogradMemory {
    @Test func resultsAreFreedDuringTheBackwardPass() {
      final class Observation { weak var late: Tensor?; var aliveInEarlyBackward: Bool? }
      let seen = Observation()
      let w = Tensor([2, -1, 3], shape: [3]).asParameter()
      let loss: Tensor = Autograd.record {
        let a = w * Tensor(scalar: 3)
        // An identity whose backward, the last to run, looks whether `late` still exists.
        let probe = Tensor(a.scalars, shape: a.shape)
        let recorded = Autograd.record(probe, [a]) { g in
          seen.aliveInEarlyBackward = seen.late != nil
          let dx = a.gradBuffer()
          for i in 0..<a.count { dx[i] += g.data[i] }
        }
        let late = recorded.relu()
        seen.late = late
        return late.sum()
      }
      #expect(seen.late != nil)
      loss.backward()
      #expect(seen.aliveInEarlyBackward == false)
      // The gradient itself is still right: d/dw sum(relu(3w)) = 3 where w > 0.
      #expect(w.grad!.scalars == [3, 0, 3])
      #expect(Autograd.tape.isEmpty)
    }

    /// Results that no backward pass reads are freed during the forward pass: the tape holds
    /// gradient slots, not results. A batch norm's output goes as soon as the ReLU after it
    /// has run (ReLU's backward reads its own output), and neither a max pool nor a
    /// concatenation keeps its inputs.
    @Test func resultsNoBackwardReadsAreFreedDuringTheForwardPass() {
      final class Weak { weak var tensor: Tensor? }
      let (normalized, pooledInput, joined) = (Weak(), Weak(), Weak())
      let gamma = Tensor.ones([2]).asParameter(), beta = Tensor.zeros([2]).asParameter()
      let x = Tensor.normal([2, 2, 4, 4]).asParameter()
      let loss: Tensor = Autograd.record {
        let y = batchNorm(x, gamma: gamma, beta: beta, movingMean: .zeros([2]),
                          movingVar: .ones([2]), eps: 1e-5, momentum: 0.9)
        normalized.tensor = y
        let r = y.relu()
        let h = r * Tensor(scalar: 2)
        pooledInput.tensor = h
        let p = maxPool2d(h, kernel: (2, 2), stride: (2, 2))
        let c = concatenate([p, p * Tensor(scalar: 3)])
        joined.tensor = c
        return c.relu().sum()
      }
      #expect(normalized.tensor == nil, "the batch norm's output outlived the ReLU")
      #expect(pooledInput.tensor == nil, "the max pool kept its input")
      #expect(joined.tensor == nil, "the ReLU kept its input")
      loss.backward()
      // Still right: the gradient reaches x through all of it.
      #expect(x.grad != nil && x.grad!.scalars.contains { $0 != 0 })
    }

    /// The buffer pool's spare buffers count in resident memory like live ones: it never lets
    /// the two together grow past the most the live tensors needed, and it serves a request
    /// from a kept buffer up to twice its size before it allocates.
    @Test func poolStaysUnderThePeakOfLiveTensors() {
      let pool = BufferPool()
      let mega = 1 << 20
      // 40 buffers of 4 MiB: a live peak of 160 MiB, whose slack is the minimum, 64 MiB.
      var taken = (0..<40).map { _ in pool.take(mega) }
      #expect(pool.peakInUseBytes == 40 * mega * 4)
      #expect(BufferPool.slackBytes(pool.peakInUseBytes) == 64 << 20)
      for (p, size) in taken { pool.give(p, size, requested: mega) }
      taken = []
      // No kept buffer fits 28 M floats (112 MiB), so kept ones must go before it is
      // allocated: 160 + 112 would pass 160 + 64.
      let big = pool.take(28 * mega)
      #expect(big.1 == 28 * mega)
      #expect(pool.peakHeldBytes <= (40 * 4 << 20) + (64 << 20), "kept plus live grew past the bound")
      #expect(pool.peakHeldBytes > (40 * 4 << 20) + (60 << 20), "more kept buffers freed than needed")
      pool.give(big.0, big.1, requested: 28 * mega)
      // 0.8 M floats: served by a kept 1 M buffer rather than a fresh one.
      let small = pool.take(mega * 4 / 5)
      #expect(small.1 == mega)
      pool.give(small.0, small.1, requested: mega * 4 / 5)
      #expect(pool.inUseBytes == 0 && pool.requestedBytes == 0)
      pool.drain()
    }

    /// Everything given back is kept, however much: a backward pass that frees more than a
    /// GiB of activations finds them all again in the next step's forward pass.
    @Test func poolKeepsWhatALargeStepFrees() {
      let pool = BufferPool()
      let floats = 4 << 20  // 16 MiB each, 1.25 GiB in all (never touched, so not resident)
      var taken = (0..<80).map { _ in pool.take(floats) }
      #expect(pool.systemAllocations == 80)
      for (p, size) in taken { pool.give(p, size, requested: floats) }
      taken = (0..<80).map { _ in pool.take(floats) }
      #expect(pool.systemAllocations == 80, "buffers given back were freed and allocated again")
      for (p, size) in taken { pool.give(p, size, requested: floats) }
      pool.drain()
    }

    /// Convolutions unfold into one workspace kept between calls: a dense block's
    /// convolutions, each wanting another size, share it instead of taking pool buffers that
    /// evict one another. Planes of 17x17, past `ChannelVectorConvolution`'s 256 pixels, and
    /// 4 output channels, too few for `WinogradConvolution`, so that they unfold on every CPU.
    @Test func convolutionsShareOneWorkspace() {
      EngineMemory.releaseCachedBuffers()
      #expect(Scratch.held.floats == 0)
      var rng = TestRNG(7)
      // Per-image forward: (8 x 3 x 3) rows x 289 pixels for each thread.
      let wide = rng.uniform([2, 8, 17, 17]), wWide = rng.uniform([4, 8, 3, 3])
      _ = conv2d(wide, weight: wWide, bias: nil, padding: (1, 1))
      let held = Scratch.held.floats
      #expect(held >= 72 * 289)
      // A smaller unfolding reuses it.
      let narrow = rng.uniform([2, 4, 17, 17]), wNarrow = rng.uniform([4, 4, 3, 3])
      _ = conv2d(narrow, weight: wNarrow, bias: nil, padding: (1, 1))
      #expect(Scratch.held.floats == held)
      EngineMemory.releaseCachedBuffers()
      #expect(Scratch.held.floats == 0)
    }
  }
}
