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
  }
}
