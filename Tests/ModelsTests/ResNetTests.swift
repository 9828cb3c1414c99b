import Engine
@testable import Models
import XCTest

final class ResNetTests: XCTestCase {
    /// Two training steps with lr 0 on the same batch must give the same gradients: backward may not depend on
    /// what the previous step left in scratch or gradient buffers.
    func testBackwardIsIndependentOfThePreviousStep() throws {
        for block in ResidualBlockKind.allCases {
            for se in [nil, 4] as [Int?] {
                let net = try ResNet(ResNetConfig(block: block, layers: [2, 1, 1, 1], width: 8, classes: 3, seReduction: se), seed: 5)
                let x = Tensor([2, 33, 33, 3])
                var rng = SeededGenerator(seed: 9)
                for i in 0..<x.count { x[i] = Float(rng.normal()) }
                var grads: [[Float]] = []
                for _ in 0..<2 {
                    net.store.zeroGrad()
                    let logits = try net.forward(x, training: true)
                    let d = Tensor(logits.shape)
                    _ = CrossEntropy.forward(logits: logits.data, labels: [1, 2], classes: 3, dlogits: d.data)
                    try net.backward(x, dLogits: d)
                    grads.append(net.store.grads.array)
                }
                let worst = zip(grads[0], grads[1]).map { abs($0 - $1) }.max()!
                XCTAssertEqual(worst, 0, "\(block) se=\(String(describing: se))")
                for p in net.store.parameters {
                    let a = grads[0][p.offset..<(p.offset + p.count)], b = grads[1][p.offset..<(p.offset + p.count)]
                    let d = zip(a, b).map { abs($0 - $1) }.max()!
                    if d > 0 { print("DIFF \(block) \(String(describing: se)) \(p.name) \(d)") }
                }
            }
        }
    }
}
