import AblateCore
import Engine
@testable import Models
import XCTest

final class ResNetTests: XCTestCase {
    /// Every parameter gradient of one training step on `x` (two images, labels 1 and 2 of three classes).
    func gradients(_ net: ResNet, _ x: Tensor) throws -> [Float] {
        net.store.zeroGrad()
        let logits = try net.forward(x, training: true)
        let d = Tensor(logits.shape)
        _ = CrossEntropy.forward(logits: logits.data, labels: [1, 2], classes: 3, dlogits: d.data)
        try net.backward(x, dLogits: d)
        return net.store.grads.array
    }

    /// Two training steps with lr 0 on the same batch must give the same gradients: backward may not depend on
    /// what the previous step left in scratch or gradient buffers.
    func testBackwardIsIndependentOfThePreviousStep() throws {
        for block in ResidualBlockKind.allCases {
            for se in [nil, 4] as [Int?] {
                let net = try ResNet(ResNetConfig(block: block, layers: [2, 1, 1, 1], width: 8, classes: 3, seReduction: se), seed: 5)
                let x = Tensor([2, 33, 33, 3])
                var rng = SeededGenerator(seed: 9)
                for i in 0..<x.count { x[i] = Float(rng.normal()) }
                let grads = try (0..<2).map { _ in try gradients(net, x) }
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

    /// Evaluation of a Bottleneck without SE runs the join on each chunk of conv3's output as it is computed:
    /// the logits are those of the join run after the whole branch, bit for bit.
    func testStreamedJoinGivesTheSameLogits() throws {
        defer { ResidualJoin.streams = true }
        let net = try ResNet(ResNetConfig(block: .bottleneck, layers: [2, 1, 1, 1], width: 8, classes: 3, seReduction: nil), seed: 3)
        let x = Tensor([3, 40, 40, 3])
        var rng = SeededGenerator(seed: 4)
        for i in 0..<x.count { x[i] = Float(rng.normal()) }
        try net.forward(x, training: true)  // running statistics away from their initial values
        var logits: [[Float]] = []
        for streams in [true, false] {
            ResidualJoin.streams = streams
            logits.append(try net.forward(x, training: false).array)
        }
        XCTAssertEqual(logits[0].map(\.bitPattern), logits[1].map(\.bitPattern))
    }

    /// An evaluation without a training plan (`ablate evaluate`, `predict`) keeps no activations but computes the
    /// same logits, bit for bit, as one that runs in the training plan; a training step after it is unaffected.
    func testEvaluationWithoutATrainingPlanGivesTheSameLogits() throws {
        for block in ResidualBlockKind.allCases {
            for se in [nil, 4] as [Int?] {
                let config = ResNetConfig(block: block, layers: [2, 1, 1, 1], width: 8, classes: 3, seReduction: se)
                let (withPlan, without) = (try ResNet(config, seed: 5), try ResNet(config, seed: 5))
                let x = Tensor([2, 33, 33, 3]), probe = Tensor([2, 33, 33, 3])
                var rng = SeededGenerator(seed: 9)
                for i in 0..<x.count { x[i] = Float(rng.normal()); probe[i] = Float(rng.normal()) }
                for net in [withPlan, without] { try net.forward(x, training: true) }  // running statistics move
                without.acts = nil
                let expected = try withPlan.forward(probe, training: false).array
                XCTAssertNil(withPlan.evaluation, "the test pass of a training run reuses its plan")
                let got = try without.forward(probe, training: false).array
                XCTAssertNotNil(without.evaluation)
                XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern), "\(block) se=\(String(describing: se))")
                XCTAssertLessThan(without.activationBytes, withPlan.activationBytes)

                XCTAssertEqual(try gradients(withPlan, x), try gradients(without, x), "\(block) se=\(String(describing: se))")
            }
        }
    }
}

/// ResNet-50's and ResNet-18's convolutions at 224 / batch 32 run on optimised oneDNN kernels (never oneDNN's
/// slow reference ones): the 7×7 stem, the strided 3×3s, the stride-2 1×1 downsamples, and the stride-1 3×3s —
/// on Winograd where this machine's oneDNN has it (AVX-512), on direct kernels where it does not (AVX2, or
/// under `ONEDNN_MAX_CPU_ISA=AVX2`).
final class ResNetFastPathTests: XCTestCase {
    override func tearDown() { Backend.current = .onednn; Backend.winograd = true }

    func testEveryConvolutionHasAnOptimisedOneDNNKernel() throws {
        Backend.current = .onednn; Backend.winograd = true
        for name in ["resnet50", "resnet18"] {
            let net = try ModelSpec.named(name).build(seed: 0) as! ResNet
            let sizes = try net.spatialSizes(224, 224)
            func map(_ hw: (h: Int, w: Int), _ c: Int) -> FeatureMap {
                FeatureMap(UnsafeMutablePointer(bitPattern: 64)!, n: 32, h: hw.h, w: hw.w, c: c, stride: c)
            }
            var convs: [(Conv2D, FeatureMap)] = [(net.conv1, map((224, 224), 3))]
            var input = sizes.pool
            for (i, (_, block)) in net.blocks.enumerated() {
                for (conv, side, _) in block.convolutions(input.h, input.w) { convs.append((conv, map(side, conv.inChannels))) }
                input = sizes.blocks[i]
            }
            var winograd = 0
            for (conv, x) in convs where !conv.isPointwise {
                guard let names = conv.oneDNNImplementations(x) else { return XCTFail("\(name): no oneDNN plan") }
                let used = conv.kernel == 7 ? [names[0], names[2]] : names
                for n in used { XCTAssertFalse(n.hasPrefix("ref") || n == "none", "\(name) \(conv.kernel)×\(conv.kernel)/\(conv.stride) \(conv.inChannels)→\(conv.outChannels) on \(x.h)×\(x.w): \(names)") }
                if names.allSatisfy({ $0.contains("wino") }) { winograd += 1 }
            }
            if Backend.winogradAvailable {
                XCTAssertGreaterThan(winograd, 0, "\(name): no Winograd 3×3 although this oneDNN has it")
            } else {
                XCTAssertEqual(winograd, 0, "\(name): Winograd reported where the probe found none")
            }
        }
    }
}
