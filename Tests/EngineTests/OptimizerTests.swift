@testable import Engine
import XCTest

/// Optimiser and schedule cases the PyTorch golden files do not cover (Nesterov, dampening, Adam weight decay),
/// checked against PyTorch's update rules written out by hand in double precision.
final class OptimizerTests: XCTestCase {
    func store(_ values: [Float], _ grads: [Float]) -> ParameterStore {
        let s = ParameterStore()
        let p = s.parameter("p", [values.count], init: .zeros)
        var rng = SeededGenerator(seed: 0)
        s.finalize(rng: &rng)
        for i in values.indices { p.value[i] = values[i]; p.grad[i] = grads[i] }
        return s
    }

    func testSGDNesterovWithWeightDecayAndDampening() {
        let s = store([1, -2], [0.5, 0.25])
        let opt = Optimizer(.sgd(lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01, nesterov: true), store: s)
        var p = [1.0, -2.0], buf = [0.0, 0.0]
        for step in 1...3 {
            opt.update(lr: 0.1)
            for i in 0..<2 {
                let g = [0.5, 0.25][i] + 0.01 * p[i]
                buf[i] = step == 1 ? g : 0.9 * buf[i] + 0.9 * g
                p[i] -= 0.1 * (g + 0.9 * buf[i])
            }
        }
        XCTAssertEqual(Double(s.values[0]), p[0], accuracy: 1e-6)
        XCTAssertEqual(Double(s.values[1]), p[1], accuracy: 1e-6)
    }

    func testAdamWithWeightDecay() {
        let s = store([1, -2], [0.5, -0.25])
        let opt = Optimizer(.adam(lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1), store: s)
        var p = [1.0, -2.0], m = [0.0, 0.0], v = [0.0, 0.0]
        for t in 1...4 {
            opt.update(lr: 0.01)
            for i in 0..<2 {
                let g = [0.5, -0.25][i] + 0.1 * p[i]
                m[i] = 0.8 * m[i] + 0.2 * g
                v[i] = 0.99 * v[i] + 0.01 * g * g
                let denom = v[i].squareRoot() / (1 - pow(0.99, Double(t))).squareRoot() + 1e-6
                p[i] -= 0.01 / (1 - pow(0.8, Double(t))) * m[i] / denom
            }
        }
        XCTAssertEqual(Double(s.values[0]), p[0], accuracy: 1e-6)
        XCTAssertEqual(Double(s.values[1]), p[1], accuracy: 1e-6)
    }

    func testSchedules() {
        XCTAssertEqual(LRSchedule.constant.learningRate(base: 0.1, epoch: 7, totalEpochs: 10), 0.1)
        // StepLR(step_size=3, gamma=0.1): epochs 0-2 → 0.1, 3-5 → 0.01, 6 → 0.001
        let step = LRSchedule.step(stepSize: 3, gamma: 0.1)
        XCTAssertEqual(step.learningRate(base: 0.1, epoch: 2, totalEpochs: 10), 0.1, accuracy: 1e-9)
        XCTAssertEqual(step.learningRate(base: 0.1, epoch: 3, totalEpochs: 10), 0.01, accuracy: 1e-9)
        XCTAssertEqual(step.learningRate(base: 0.1, epoch: 6, totalEpochs: 10), 0.001, accuracy: 1e-9)
        // Cosine over 11 epochs (0…10): base at epoch 0, half way at epoch 5, min_lr in the last epoch.
        let cos = LRSchedule.cosine(minLR: 0)
        XCTAssertEqual(cos.learningRate(base: 0.1, epoch: 0, totalEpochs: 11), 0.1, accuracy: 1e-7)
        XCTAssertEqual(cos.learningRate(base: 0.1, epoch: 5, totalEpochs: 11), 0.05, accuracy: 1e-7)
        XCTAssertEqual(LRSchedule.cosine(minLR: 0.01).learningRate(base: 0.1, epoch: 10, totalEpochs: 11), 0.01, accuracy: 1e-7)
        XCTAssertEqual(LRSchedule.cosine(minLR: 0.01).learningRate(base: 0.1, epoch: 0, totalEpochs: 1), 0.1, accuracy: 1e-7)
    }

    /// Kaiming-normal: std √(2/fan_in); Linear default: U(±1/√fan_in).
    func testInitialisationStatistics() {
        let s = ParameterStore()
        let conv = s.parameter("c", [3, 3, 64, 64], layout: .convHWIO, init: .kaimingNormal(fanIn: 576))
        let lin = s.parameter("l", [64, 100], init: .linearDefault(fanIn: 100))
        var rng = SeededGenerator(seed: 1)
        s.finalize(rng: &rng)
        let c = (0..<conv.count).map { Double(conv.value[$0]) }
        let mean = c.reduce(0, +) / Double(c.count)
        let std = (c.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(c.count)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.003)
        XCTAssertEqual(std, (2.0 / 576).squareRoot(), accuracy: 0.002)
        let l = (0..<lin.count).map { lin.value[$0] }
        XCTAssertLessThanOrEqual(l.map(abs).max()!, 0.1)
        XCTAssertGreaterThan(l.map(abs).max()!, 0.09)
    }
    /// A store of three parameters with random values and gradients.
    func threeParameters(seed: UInt64) -> ParameterStore {
        let s = ParameterStore()
        for (name, count) in [("a", 70_000), ("b", 5), ("c", 1_000)] { _ = s.parameter(name, [count], init: .zeros) }
        var rng = SeededGenerator(seed: seed)
        s.finalize(rng: &rng)
        for i in 0..<s.parameterScalars { s.values[i] = Float(rng.normal()); s.grads[i] = Float(rng.normal()) }
        return s
    }

    /// Updating group by group changes nothing: any split of the parameters into groups at scale 1 gives the
    /// ungrouped optimiser's values and state bit for bit (each element's update is its own), for SGD with momentum
    /// and weight decay and for Adam. A frozen parameter is in no group: it keeps its value and its state stays 0,
    /// while the others move exactly as before.
    func testGroupsSplitNothingAndFrozenParametersStayPut() {
        let configs: [OptimizerConfig] = [.sgd(lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0.01, nesterov: true),
                                          .adam(lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1)]
        for config in configs {
            let plain = threeParameters(seed: 1), split = threeParameters(seed: 1), frozen = threeParameters(seed: 1)
            let start = frozen.values.array
            frozen.freeze { $0 == "b" }
            XCTAssertEqual(frozen.parameterGroups(), [ParameterGroup(range: 0..<70_000, lrScale: 1),
                                                      ParameterGroup(range: 70_005..<71_005, lrScale: 1)])
            XCTAssertEqual(plain.parameterGroups(), [ParameterGroup(range: 0..<71_005, lrScale: 1)])
            let optimizers = [Optimizer(config, store: plain),
                              Optimizer(config, store: split, groups: [ParameterGroup(range: 0..<12_345, lrScale: 1),
                                                                      ParameterGroup(range: 12_345..<70_003, lrScale: 1),
                                                                      ParameterGroup(range: 70_003..<71_005, lrScale: 1)]),
                              Optimizer(config, store: frozen)]
            for _ in 0..<3 { for o in optimizers { o.update(lr: 0.05) } }
            XCTAssertEqual(plain.values.array, split.values.array, "\(config)")
            XCTAssertEqual(optimizers[0].state1.array, optimizers[1].state1.array)
            XCTAssertEqual(optimizers[0].state2.array, optimizers[1].state2.array)
            let b = 70_000..<70_005
            XCTAssertEqual(Array(frozen.values.array[b]), Array(start[b]))
            XCTAssertEqual(Array(optimizers[2].state1.array[b]), [0, 0, 0, 0, 0])
            for i in 0..<plain.parameterScalars where !b.contains(i) {
                XCTAssertEqual(frozen.values[i], plain.values[i])
                if frozen.values[i] != plain.values[i] { break }
            }
        }
    }

    /// A group at lrScale s updates as the plain optimiser does at s·lr (PyTorch's parameter group with that lr).
    func testGroupScaleIsAMultipleOfTheRate() {
        for config in [OptimizerConfig.sgd(lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0.01, nesterov: false),
                       .adam(lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0)] {
            let scaled = threeParameters(seed: 2), reference = threeParameters(seed: 2)
            let a = Optimizer(config, store: scaled, groups: [ParameterGroup(range: 0..<70_005, lrScale: 1),
                                                              ParameterGroup(range: 70_005..<71_005, lrScale: 8)])
            let b = Optimizer(config, store: reference)
            for _ in 0..<2 { a.update(lr: 0.05) }
            for _ in 0..<2 { b.update(lr: 0.05 * 8) }
            XCTAssertEqual(Array(scaled.values.array[70_005...]), Array(reference.values.array[70_005...]), "\(config)")
        }
    }
}
