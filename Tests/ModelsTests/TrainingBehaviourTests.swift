import AblateCore
import Engine
import Foundation
@testable import Models
import Training
import XCTest

func randomBatch(_ n: Int, _ s: Int, classes: Int, seed: UInt64) -> (Tensor, [Int32]) {
    var rng = SeededGenerator(seed: seed)
    let x = Tensor([n, s, s, 3])
    for i in 0..<x.count { x[i] = Float(rng.normal()) }
    return (x, (0..<n).map { _ in Int32(rng.next() % UInt64(classes)) })
}

let tinySE = DenseNetConfig(growthRate: 4, blockConfig: [2, 2], initChannels: 8, bnSize: 2, compression: 0.5, dropRate: 0.2, classes: 2, seReduction: 2, sePlacement: .block)

final class TrainingBehaviourTests: XCTestCase {
    /// Weights and BN buffers after three SGD steps on fixed random batches.
    func threeSteps(_ config: DenseNetConfig, seed: UInt64) throws -> [Float] {
        let net = try DenseNet(config, seed: seed)
        let opt = Optimizer(.sgd(lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: false), store: net.store)
        for step in 0..<3 {
            let (x, y) = randomBatch(4, 32, classes: 2, seed: UInt64(step))
            _ = try TrainStep.run(net, opt, input: x, labels: y, lr: 0.05)
        }
        return net.store.values.array + net.store.bufferValues.array
    }

    /// Same seed, same thread count: bit-identical weights after several steps (dropout included).
    func testDeterministicTraining() throws {
        let a = try threeSteps(tinySE, seed: 7), b = try threeSteps(tinySE, seed: 7)
        XCTAssertEqual(a.count, b.count)
        XCTAssertTrue(zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }, "weights differ between identical runs")
        let c = try DenseNet(tinySE, seed: 8).store.values.array
        XCTAssertNotEqual(Array(a.prefix(c.count)), c, "a different seed must give different weights")
    }

    /// Determinism on both backends, with channel counts in multiples of 16 so that oneDNN's Winograd and
    /// direct kernels (where the machine has them) are the ones that run.
    func testDeterministicTrainingOnEveryBackend() throws {
        let wide = DenseNetConfig(growthRate: 16, blockConfig: [2, 2], initChannels: 32, bnSize: 2, compression: 0.5, dropRate: 0, classes: 2, seReduction: 4, sePlacement: .block)
        defer { Backend.current = .onednn }
        var finals: [[Float]] = []
        for backend in Backend.allCases {
            Backend.current = backend
            let a = try threeSteps(wide, seed: 3), b = try threeSteps(wide, seed: 3)
            XCTAssertTrue(zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(backend): weights differ between identical runs")
            finals.append(a)
        }
        // The backends agree to float rounding after three SGD steps.
        let worst = zip(finals[0], finals[1]).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-3, "backends diverge: max |Δweight| \(worst)")
    }

    /// Training reduces the loss on a fixed batch (sanity of the whole loop).
    func testLossDecreasesOnAFixedBatch() throws {
        var config = tinySE; config.dropRate = 0
        let net = try DenseNet(config, seed: 1)
        let opt = Optimizer(.adam(lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0), store: net.store)
        let (x, y) = randomBatch(8, 32, classes: 2, seed: 42)
        let first = try TrainStep.run(net, opt, input: x, labels: y, lr: 0.01).loss
        var last = first
        for _ in 0..<15 { last = try TrainStep.run(net, opt, input: x, labels: y, lr: 0.01).loss }
        XCTAssertLessThan(last, first * 0.5, "loss \(first) → \(last)")
    }

    /// Whole-network finite differences for what the references do not cover: dropout, bn_size 3, compression
    /// 0.75, three blocks, an odd input size, SE r=3.
    func testFiniteDifferenceGradients() throws {
        let config = DenseNetConfig(growthRate: 3, blockConfig: [2, 1, 2], initChannels: 6, bnSize: 3, compression: 0.75, dropRate: 0.25, classes: 3, seReduction: 3, sePlacement: .block)
        let net = try DenseNet(config, seed: 11)
        let (x, y) = randomBatch(3, 35, classes: 3, seed: 5)
        let rngStart = net.rng
        func loss() throws -> Double {
            net.rng = rngStart // same dropout mask every evaluation
            let logits = try net.forward(x, training: true)
            return Double(CrossEntropy.forward(logits: logits.data, labels: y, classes: 3, dlogits: nil))
        }
        net.store.zeroGrad()
        net.rng = rngStart
        let logits = try net.forward(x, training: true)
        let d = Tensor(logits.shape)
        _ = CrossEntropy.forward(logits: logits.data, labels: y, classes: 3, dlogits: d.data)
        let inputGrad = Tensor(x.shape)
        try net.backward(x, dLogits: d, inputGrad: inputGrad)
        let analytic = net.store.grads.array

        // Central differences on the largest-gradient entries of several parameter tensors.
        let eps: Float = 2e-3
        var checked = 0
        for p in net.store.parameters where p.name.hasSuffix("weight") {
            var best = 0
            for i in 0..<p.count where abs(analytic[p.offset + i]) > abs(analytic[p.offset + best]) { best = i }
            let g = Double(analytic[p.offset + best])
            if abs(g) < 1e-3 { continue }
            let saved = p.value[best]
            p.value[best] = saved + eps; let up = try loss()
            p.value[best] = saved - eps; let down = try loss()
            p.value[best] = saved
            let numeric = (up - down) / Double(2 * eps)
            XCTAssertEqual(numeric, g, accuracy: 0.05 * abs(g) + 2e-4, "\(p.name)[\(best)]")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 10)
        // And a few input pixels.
        var order = Array(0..<x.count)
        order.sort { abs(inputGrad[$0]) > abs(inputGrad[$1]) }
        for i in order.prefix(3) {
            let saved = x[i]
            x[i] = saved + eps; let up = try loss()
            x[i] = saved - eps; let down = try loss()
            x[i] = saved
            let g = Double(inputGrad[i])
            XCTAssertEqual((up - down) / Double(2 * eps), g, accuracy: 0.05 * abs(g) + 2e-4, "input[\(i)]")
        }
    }

    func testEvalDoesNotTouchRunningStatistics() throws {
        let net = try DenseNet(tinySE, seed: 2)
        let before = net.store.bufferValues.array
        let (x, _) = randomBatch(2, 32, classes: 2, seed: 1)
        let y1 = try net.forward(x, training: false).array
        XCTAssertEqual(net.store.bufferValues.array, before)
        _ = try net.forward(x, training: true)
        XCTAssertNotEqual(net.store.bufferValues.array, before)
        XCTAssertNotEqual(try net.forward(x, training: false).array, y1)
    }

    /// A last, smaller batch reuses the larger buffers and gives the same result as a network sized for it.
    func testSmallerBatchReusesBuffers() throws {
        var config = tinySE; config.dropRate = 0
        let big = try DenseNet(config, seed: 4), fresh = try DenseNet(config, seed: 4)
        let (x8, _) = randomBatch(8, 32, classes: 2, seed: 1)
        let (x3, y3) = randomBatch(3, 32, classes: 2, seed: 2)
        _ = try big.forward(x8, training: false)
        let buffers = ObjectIdentifier(big.acts!)
        XCTAssertEqual(try big.forward(x3, training: false).array, try fresh.forward(x3, training: false).array)
        let optA = Optimizer(.sgd(lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false), store: big.store), optB = Optimizer(.sgd(lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false), store: fresh.store)
        let a = try TrainStep.run(big, optA, input: x3, labels: y3, lr: 0.1)
        let b = try TrainStep.run(fresh, optB, input: x3, labels: y3, lr: 0.1)
        XCTAssertEqual(a.loss, b.loss)
        XCTAssertEqual(big.store.values.array, fresh.store.values.array)
        XCTAssertEqual(ObjectIdentifier(big.acts!), buffers, "no new allocation for the smaller batch")
    }
}
