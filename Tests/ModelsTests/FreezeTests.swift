import AblateCore
import Engine
import Foundation
@testable import Models
@testable import Verification
import Training
import XCTest

/// `training.freeze` and `training.optimizer.head_lr_multiplier` in the networks, the optimiser and the trainer:
/// PyTorch's fine-tuning semantics (requires_grad = False, `.eval()` on the frozen BatchNorm layers), the backward
/// pass stopping where everything before is frozen, and the classifier's parameter group.
final class FreezeTests: XCTestCase {
    override func tearDown() { Backend.current = .onednn; Profiler.shared.enabled = false }

    /// Made once with PyTorch by Tests/Reference/make_frozen_reference.py from the shared tiny SE-DenseNet file.
    static let reference = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Reference/frozen_tiny_se_densenet_adam.json").path

    // MARK: against PyTorch

    /// One Adam step of the tiny SE-DenseNet with its stem and first dense block frozen: the loss, logits, the
    /// gradients and new values of the parameters that train and every BN buffer match PyTorch's step with
    /// requires_grad = False and `.eval()` on the frozen BatchNorm layers; the frozen parameters and buffers do not
    /// move by a bit, and their gradients stay zero. Both backends.
    func testOneAdamStepWithFrozenLayersMatchesPyTorch() throws {
        let sharedPath = try Shared.reference("tiny_se_densenet_r2_adam.json")
        let shared = try ReferenceDocument(path: sharedPath), expected = try ReferenceDocument(path: Self.reference)
        func ts(_ doc: ReferenceDocument, _ key: String) throws -> [String: TorchTensor] {
            try ReferenceDocument.tensors(doc.root[key], key, in: doc.path)
        }
        var start = try ts(shared, "params")
        start.merge(try ts(shared, "buffers")) { a, _ in a }
        let freeze = try XCTUnwrap(expected.root["freeze"] as? [String])
        XCTAssertEqual(freeze, ["features.conv0", "features.norm0", "features.denseblock1"])
        let frozen = FreezeList(freeze)
        let (grads, after, buffers) = (try ts(expected, "grads"), try ts(expected, "after_step_params"),
                                       try ts(expected, "after_step_buffers"))
        let labels = try XCTUnwrap(shared.root["labels"] as? [Int]).map(Int32.init)
        let input = Layout.nhwc(try ReferenceDocument.tensor(shared.root["input"], "input", in: sharedPath))

        for backend in Backend.allCases {
            Backend.current = backend
            let net = try Verifier.networkSpec(shared.root, sharedPath).build(seed: 0)
            try net.store.load(stateDict: start)
            try net.freeze(freeze)
            let optimizer = Optimizer(try Verifier.optimizerConfig(shared.root, sharedPath), store: net.store)
            let terms = GradientTermRecorder()
            let (loss, logits, _) = try terms.recording {
                try Verifier.trainStep(net, optimizer, input, labels, lr: optimizer.config.learningRate, wantInputGrad: false)
            }
            var checks = [compare("frozen", "network", "train_logits", ours: logits,
                                  ref: try ReferenceDocument.tensor(expected.root["train_logits"], "train_logits", in: Self.reference),
                                  tol: Tolerance.value),
                          compare("frozen", "network", "loss", ours: [loss],
                                  ref: TorchTensor(shape: [1], values: [Float(try XCTUnwrap(expected.root["loss"] as? Double))]),
                                  tol: Tolerance.value)]
            var trained = 0
            for p in net.store.parameters {
                let before = try XCTUnwrap(start[p.name]).values
                if frozen.covers(p.name) {
                    XCTAssertTrue(p.frozen, p.name)
                    XCTAssertEqual(p.torchValues, before, "\(backend): frozen \(p.name) moved")
                    XCTAssertTrue(p.torchGrad.allSatisfy { $0 == 0 }, "\(backend): frozen \(p.name) has a gradient")
                    XCTAssertNil(grads[p.name], p.name)
                    continue
                }
                trained += 1
                let g = try XCTUnwrap(grads[p.name], p.name), want = try XCTUnwrap(after[p.name], p.name)
                // A BatchNorm's ∂L/∂γ is measured against its ∂L/∂β, as the verifier does (Σ g·x̂ cancels).
                var floor = 0.0
                if p.name.hasSuffix(".weight"), let beta = grads[String(p.name.dropLast(".weight".count)) + ".bias"],
                   net.store.batchNormNames.contains(String(p.name.dropLast(".weight".count))) {
                    floor = beta.values.map { abs(Double($0)) }.max() ?? 0
                }
                checks.append(compare("frozen", p.name, "grad", ours: p.torchGrad, ref: g, tol: Tolerance.gradient,
                                      atLeastScale: floor))
                // Adam moves an element whose gradient is rounding noise by ±lr either way (see AdamVerification).
                let mask = AdamVerification.roundingLevelMask(
                    gradient: g, termMagnitudes: try XCTUnwrap(terms.torchMagnitudes(p), p.name),
                    termCount: terms.termCounts[p.name] ?? 1, before: before, weightDecay: 0)
                checks.append(AdamVerification.compareAfterSteps(
                    "frozen", p.name, "after_step", ours: p.torchValues, ref: want, before: before, mask: mask, steps: 1,
                    lr: optimizer.config.learningRate,
                    tol: Tolerance.afterStep(before: TorchTensor(shape: want.shape, values: before), after: want)))
            }
            XCTAssertEqual(trained, grads.count)
            for b in net.store.buffers {
                let want = try XCTUnwrap(buffers[b.name], b.name)
                if frozen.covers(b.name) {
                    XCTAssertEqual(b.torchValues, try XCTUnwrap(start[b.name]).values, "\(backend): frozen \(b.name) moved")
                    XCTAssertEqual(b.torchValues, want.values, b.name)
                } else {
                    XCTAssertNotEqual(b.torchValues, try XCTUnwrap(start[b.name]).values, b.name)
                    checks.append(compare("frozen", b.name, "after_step", ours: b.torchValues, ref: want, tol: Tolerance.value))
                }
            }
            for c in checks {
                XCTAssertTrue(c.passed, "\(backend): \(c.item) \(c.quantity): rel \(c.maxRelError) > \(c.tolerance)"
                              + (c.roundingLevel.map { ", rounding-level steps \($0.largestStepInLR) lr" } ?? ""))
            }
        }
    }

    // MARK: training

    let config = DenseNetConfig(growthRate: 4, blockConfig: [2, 2], initChannels: 8, bnSize: 2, compression: 0.5,
                                dropRate: 0.1, classes: 2, seReduction: 4, sePlacement: .block)

    func settings(freeze: [String], head: Float? = nil, epochs: Int = 2) -> TrainingConfig {
        TrainingConfig(epochs: epochs, batchSize: 8, optimizer: .adam(lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4),
                       schedule: .cosine(minLR: 0.001), selection: .last, earlyStop: nil, freeze: freeze, headLRMultiplier: head)
    }

    /// Epochs of Adam (with weight decay, dropout and SE) leave the frozen parameters, their BN running statistics
    /// and their optimiser state exactly as they were; every other parameter tensor and running statistic moves.
    func testFrozenPartsStayPutWhileTheRestTrains() throws {
        let net = try DenseNet(config, seed: 5)
        let values = net.store.values.array, buffers = net.store.bufferValues.array
        let freeze = ["features.conv0", "features.norm0", "features.denseblock1"]
        let trainer = try Trainer(net: net, config: settings(freeze: freeze), configJSON: "c", checkpointURL: nil,
                                  bestWeightsURL: nil)
        try trainer.run(ToyData(count: 24, size: 32, seed: 3))
        let list = FreezeList(freeze)
        var frozenCount = 0
        for p in net.store.parameters {
            let now = Array(UnsafeBufferPointer(start: p.value, count: p.count))
            let then = Array(values[p.offset..<(p.offset + p.count)])
            if list.covers(p.name) {
                frozenCount += 1
                XCTAssertEqual(now, then, "\(p.name) moved")
                for state in [trainer.optimizer.state1, trainer.optimizer.state2] {
                    XCTAssertTrue((p.offset..<(p.offset + p.count)).allSatisfy { state[$0] == 0 }, "\(p.name) has optimiser state")
                }
            } else {
                XCTAssertNotEqual(now, then, "\(p.name) did not train")
            }
        }
        XCTAssertEqual(frozenCount, 1 + 2 + 2 * 6 + 4)  // conv0, norm0, 2 dense layers, the block's SE
        for b in net.store.buffers {
            let now = Array(UnsafeBufferPointer(start: b.value, count: b.count))
            let then = Array(buffers[b.offset..<(b.offset + b.count)])
            if list.covers(b.name) { XCTAssertEqual(now, then, "\(b.name) moved") } else { XCTAssertNotEqual(now, then, b.name) }
        }
    }

    /// Stopped mid-epoch and resumed from the epoch-1 checkpoint, a run with frozen layers and a head multiplier
    /// finishes bit for bit as an uninterrupted one (the checkpoint's optimiser state keeps its layout).
    func testResumeWithFreezeAndHeadMultiplierIsExact() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-freeze-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = settings(freeze: ["features.conv0", "features.norm0", "features.denseblock1"], head: 10, epochs: 2)
        let data = ToyData(count: 24, size: 32, seed: 3)
        func key(_ r: EpochResult) -> [UInt64] {
            [r.metrics.trainLoss, r.metrics.testLoss!, r.metrics.testAccuracy!].map(\.bitPattern)
                + r.predictions.flatMap { $0.probabilities.map { UInt64($0.bitPattern) } }
        }
        var full: [EpochResult] = []
        let whole = try DenseNet(config, seed: 5)
        try Trainer(net: whole, config: s, configJSON: "c", checkpointURL: nil, bestWeightsURL: nil).run(data, onEpoch: { full.append($0) })

        let ckpt = dir.appendingPathComponent("run.ckpt")
        var parts: [EpochResult] = [], seen = 0
        let first = try Trainer(net: try DenseNet(config, seed: 5), config: s, configJSON: "c", checkpointURL: ckpt, bestWeightsURL: nil)
        XCTAssertThrowsError(try first.run(data, shouldStop: { seen >= 4 }, onBatch: { _ in seen += 1 }, onEpoch: { parts.append($0) }))
        let resumedNet = try DenseNet(config, seed: 999)
        let resumed = try Trainer(net: resumedNet, config: s, configJSON: "c", checkpointURL: ckpt, bestWeightsURL: nil)
        XCTAssertTrue(resumed.isResumed)
        try resumed.run(data, onEpoch: { parts.append($0) })
        XCTAssertEqual(parts.map(\.metrics.epoch), [1, 2])
        for (a, b) in zip(full, parts) { XCTAssertEqual(key(a), key(b), "epoch \(a.metrics.epoch) differs after resume") }
        XCTAssertEqual(whole.store.values.array, resumedNet.store.values.array)
        XCTAssertEqual(whole.store.bufferValues.array, resumedNet.store.bufferValues.array)
    }

    // MARK: the backward pass

    /// One training step's gradients (`inputGrad`: the whole backward pass, down to the input).
    func gradients(_ spec: ModelSpec, freeze: [String], input: Tensor, labels: [Int32], inputGrad: Bool) throws -> [String: [Float]] {
        let net = try spec.build(seed: 7)
        try net.freeze(freeze)
        net.store.zeroGrad()
        let logits = try net.forward(input, training: true)
        let dLogits = Tensor(logits.shape)
        _ = CrossEntropy.forward(logits: logits.data, labels: labels, classes: net.classes, dlogits: dLogits.data)
        try net.backward(input, dLogits: dLogits, inputGrad: inputGrad ? Tensor(input.shape) : nil)
        return Dictionary(uniqueKeysWithValues: net.store.parameters.map { p in
            (p.name, Array(UnsafeBufferPointer(start: p.grad, count: p.count)))
        })
    }

    static let specs: [(ModelSpec, [[String]])] = [
        (.denseNet(DenseNetConfig(growthRate: 4, blockConfig: [2, 2, 2], initChannels: 8, bnSize: 2, compression: 0.5,
                                  dropRate: 0, classes: 3, seReduction: 2, sePlacement: .layer)),
         [["features.conv0", "features.norm0", "features.denseblock1"], ["features"],
          ["features.conv0", "features.norm0", "features.denseblock1", "features.transition1.norm"],
          ["features.conv0", "features.denseblock2.denselayer1.norm1", "features.denseblock2.denselayer2.se"],
          ["features.conv0", "features.norm0", "features.denseblock1", "features.transition1", "features.denseblock2",
           "features.transition2", "features.denseblock3.denselayer1.norm1.weight"]]),
        (.denseNet(DenseNetConfig(growthRate: 4, blockConfig: [2, 2], initChannels: 8, bnSize: 2, compression: 0.5,
                                  dropRate: 0, classes: 2, seReduction: 2, sePlacement: .transition)),
         [["features.conv0", "features.norm0", "features.denseblock1", "features.transition1.norm", "features.transition1.conv"],
          ["features.conv0", "features.norm0", "features.denseblock1", "features.transition1"]]),
        (.resNet(ResNetConfig(block: .bottleneck, layers: [1, 2], width: 8, classes: 2, seReduction: 4)),
         [["conv1", "bn1", "layer1"], ["conv1", "bn1", "layer1", "layer2.0.conv1", "layer2.0.bn1"],
          ["conv1", "bn1", "layer1", "layer2.0.conv1", "layer2.0.bn1", "layer2.0.conv2", "layer2.0.bn2", "layer2.0.conv3",
           "layer2.0.bn3"], ["conv1", "layer1.0.downsample"], ["conv1", "bn1", "layer1", "layer2"]]),
        (.resNet(ResNetConfig(block: .basic, layers: [1, 1, 1], width: 8, classes: 2, seReduction: nil)),
         [["conv1", "bn1"], ["conv1", "bn1", "layer1", "layer2.0.conv1", "layer2.0.bn1"], ["conv1", "bn1", "layer1", "layer2"]]),
    ]

    /// Where everything before some point is frozen the backward pass stops there, and what it computed is what
    /// the whole pass (asked for the input gradient, so running through every frozen layer) computes: the same
    /// gradients for every parameter that trains (bit for bit on oneDNN, whose kernels do not depend on which
    /// directions a convolution runs; the OpenBLAS reference sums a strided convolution's weight gradient in
    /// another order without a data gradient), zero for every frozen one.
    func testBackwardStopsWhereEverythingBeforeIsFrozen() throws {
        for backend in Backend.allCases {
            Backend.current = backend
            for (spec, freezes) in Self.specs {
                var rng = SeededGenerator(seed: 3)
                let input = Tensor([2, 40, 40, 3])
                for i in 0..<input.count { input[i] = Float(rng.normal()) }
                let labels: [Int32] = [0, 1]
                for freeze in freezes {
                    let list = FreezeList(freeze)
                    let stopped = try gradients(spec, freeze: freeze, input: input, labels: labels, inputGrad: false)
                    let whole = try gradients(spec, freeze: freeze, input: input, labels: labels, inputGrad: true)
                    var trains = 0, moved = 0
                    for (name, g) in stopped {
                        let what = "\(backend) \(spec.displayName) \(freeze): \(name)"
                        if list.covers(name) {
                            XCTAssertTrue(g.allSatisfy { $0 == 0 } && whole[name]!.allSatisfy { $0 == 0 }, "\(what) has a gradient")
                            continue
                        }
                        // (A tensor may get an all-zero gradient legitimately: an SE layer whose hidden ReLU is off
                        // for the whole batch.)
                        trains += 1
                        if g.contains(where: { $0 != 0 }) { moved += 1 }
                        if backend == .onednn {
                            XCTAssertEqual(g, whole[name], what)
                        } else {
                            let scale = whole[name]!.map(abs).max() ?? 0
                            let diff = zip(g, whole[name]!).map { abs($0 - $1) }.max() ?? 0
                            XCTAssertLessThanOrEqual(diff, 1e-5 * max(scale, 1e-20), what)
                        }
                    }
                    XCTAssertGreaterThan(trains, 0)
                    XCTAssertGreaterThanOrEqual(Double(moved), 0.8 * Double(trains), "\(spec.displayName) \(freeze)")
                }
            }
        }
    }

    /// Freezing only weights, without any BatchNorm layer (the forward pass stays the same), changes nothing for the
    /// parameters that train: their gradients are the unfrozen network's, bit for bit, the stem's convolution
    /// (frozen) is skipped altogether, and the frozen ones get none.
    func testFrozenWeightsLeaveTheOtherGradientsExactlyAsTheyWere() throws {
        let cases: [(ModelSpec, [String])] = [
            (Self.specs[0].0, ["features.conv0", "features.denseblock1.denselayer1.conv1", "features.denseblock1.denselayer2.conv2",
                               "features.transition1.conv", "features.denseblock2.denselayer1.se", "classifier.bias"]),
            (Self.specs[2].0, ["conv1", "layer1.0.conv2", "layer1.0.downsample.0", "layer2.1.se.fc.0", "fc.weight"]),
        ]
        var rng = SeededGenerator(seed: 4)
        let input = Tensor([2, 40, 40, 3])
        for i in 0..<input.count { input[i] = Float(rng.normal()) }
        for (spec, freeze) in cases {
            let plain = try gradients(spec, freeze: [], input: input, labels: [1, 0], inputGrad: false)
            let frozen = try gradients(spec, freeze: freeze, input: input, labels: [1, 0], inputGrad: false)
            for (name, g) in frozen {
                if FreezeList(freeze).covers(name) {
                    XCTAssertTrue(g.allSatisfy { $0 == 0 }, name)
                } else {
                    XCTAssertEqual(g, plain[name], "\(spec.displayName): \(name)")
                }
            }
        }
    }

    /// The work is really skipped: with everything but the classifier frozen, the backward pass runs the head
    /// alone; with the stem and first block frozen, no layer of that block runs backward.
    func testFrozenLayersRunNoBackwardWork() throws {
        let spec = Self.specs[0].0
        var rng = SeededGenerator(seed: 5)
        let input = Tensor([2, 40, 40, 3])
        for i in 0..<input.count { input[i] = Float(rng.normal()) }
        func backwardCalls(_ freeze: [String]) throws -> [String: Int] {
            let net = try spec.build(seed: 1)
            try net.freeze(freeze)
            let optimizer = Optimizer(.sgd(lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false), store: net.store)
            Profiler.shared.reset(); Profiler.shared.enabled = true
            defer { Profiler.shared.enabled = false }
            _ = try TrainStep.run(net, optimizer, input: input, labels: [0, 2], lr: 0.1)
            var calls: [String: Int] = [:]
            for row in Profiler.shared.rows where row.phase == Phase.backward.rawValue { calls[row.op] = row.calls }
            return calls
        }
        let everything = try backwardCalls([])
        XCTAssertEqual(everything["conv3x3"], 6)
        XCTAssertEqual(everything["conv7x7 stem"], 1)
        XCTAssertEqual(try backwardCalls(["features"]), ["head": 1])
        let partly = try backwardCalls(["features.conv0", "features.norm0", "features.denseblock1"])
        XCTAssertEqual(partly["conv3x3"], 4, "\(partly)")
        XCTAssertNil(partly["conv7x7 stem"])
        XCTAssertNil(partly["maxpool"])
    }

    // MARK: the head's learning rate

    /// One SGD step (no momentum, no weight decay) with head_lr_multiplier 10 moves the classifier by exactly
    /// 10·lr·g where a multiplier of 1 moves it by lr·g, and moves every other parameter exactly as without one.
    func testHeadMultiplierScalesTheClassifiersStep() throws {
        let specs: [ModelSpec] = [.denseNet(config), Self.specs[3].0]
        var rng = SeededGenerator(seed: 6)
        let input = Tensor([4, 32, 32, 3])
        for i in 0..<input.count { input[i] = Float(rng.normal()) }
        let lr: Float = 0.05
        for spec in specs {
            var after: [Float?: [Float]] = [:]
            var grads: [Float] = [], before: [Float] = []
            var head: Range<Int> = 0..<0
            for multiplier in [nil, 10] as [Float?] {
                let net = try spec.build(seed: 2)
                before = net.store.values.array
                let headParams = net.store.parameters.filter { FreezeList.covers(net.headName, $0.name) }
                head = headParams.first!.offset..<(headParams.last!.offset + headParams.last!.count)
                XCTAssertEqual(head.upperBound, net.store.parameterScalars, "the head is declared last")
                let groups = net.parameterGroups(headLRMultiplier: multiplier)
                XCTAssertEqual(groups, multiplier == nil ? [ParameterGroup(range: 0..<head.upperBound, lrScale: 1)]
                               : [ParameterGroup(range: 0..<head.lowerBound, lrScale: 1), ParameterGroup(range: head, lrScale: 10)])
                let optimizer = Optimizer(.sgd(lr: lr, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false),
                                          store: net.store, groups: groups)
                _ = try TrainStep.run(net, optimizer, input: input, labels: [0, 1, 1, 0], lr: lr)
                after[multiplier] = net.store.values.array
                grads = net.store.grads.array
            }
            let one = after[nil]!, ten = after[10]!
            for i in 0..<head.lowerBound where one[i] != ten[i] { return XCTFail("\(spec.displayName): parameter \(i) differs") }
            for i in head {
                XCTAssertEqual(one[i], before[i] - lr * grads[i])
                XCTAssertEqual(ten[i], before[i] - (lr * 10) * grads[i])
                XCTAssertEqual(Double(ten[i] - before[i]), 10 * Double(one[i] - before[i]), accuracy: 1e-6 * Double(abs(before[i]) + 1))
            }
            XCTAssertTrue(head.contains { grads[$0] != 0 })
        }
    }

    /// Frozen parameters are in no group, and neighbours with the same rate share one.
    func testParameterGroupsLeaveFrozenRangesOut() throws {
        let net = try DenseNet(config, seed: 1)
        try net.freeze(["features.conv0", "features.denseblock2"])
        let store = net.store
        func offset(_ name: String) -> Int { store.parameter(named: name)!.offset }
        let groups = net.parameterGroups(headLRMultiplier: 4)
        XCTAssertEqual(groups, [ParameterGroup(range: offset("features.norm0.weight")..<offset("features.denseblock2.dense_block.denselayer1.norm1.weight"), lrScale: 1),
                                ParameterGroup(range: offset("features.norm5.weight")..<offset("classifier.weight"), lrScale: 1),
                                ParameterGroup(range: offset("classifier.weight")..<store.parameterScalars, lrScale: 4)])
        XCTAssertEqual(groups.reduce(0) { $0 + $1.range.count }, store.trainableScalars)
        try net.freeze([])
        XCTAssertEqual(net.parameterGroups(headLRMultiplier: nil), [ParameterGroup(range: 0..<store.parameterScalars, lrScale: 1)])
        XCTAssertTrue(store.parameters.allSatisfy { !$0.frozen } && store.buffers.allSatisfy { !$0.frozen })
    }

    // MARK: names

    /// Every parameter of every network is under exactly one of `ModelSpec.topLevelModules` (the list the
    /// experiment file's reader checks `training.freeze` against), and the list is in declaration order. (Small
    /// networks with the presets' four blocks or stages: the names depend on nothing else.)
    func testTopLevelModulesCoverEveryParameterOnce() throws {
        let denseNets = [nil, SEPlacement.block, .layer, .transition].map { placement in
            ModelSpec.denseNet(DenseNetConfig(growthRate: 4, blockConfig: [1, 2, 1, 2], initChannels: 8, bnSize: 2, compression: 0.5,
                                              dropRate: 0, classes: 2, seReduction: placement == nil ? nil : 2,
                                              sePlacement: placement ?? .block))
        }
        let resNets = [ResNetConfig(block: .basic, layers: [2, 2, 2, 2], width: 8, classes: 2, seReduction: nil),
                       ResNetConfig(block: .bottleneck, layers: [1, 2, 1, 1], width: 8, classes: 2, seReduction: 4)].map(ModelSpec.resNet)
        for spec in denseNets + resNets {
            let name = spec.displayName
            let net = try spec.build(seed: 0)
            let modules = spec.topLevelModules
            var order: [String] = []
            for p in net.store.parameters {
                let owners = modules.filter { FreezeList.covers($0, p.name) }
                XCTAssertEqual(owners.count, 1, "\(name): \(p.name) is under \(owners)")
                if let owner = owners.first, order.last != owner { order.append(owner) }
            }
            XCTAssertEqual(order, modules, name)
        }
    }

    /// A prefix that covers no parameter (at a dot boundary) is refused with its name and the top-level modules;
    /// so is a list that leaves nothing to train; a refused list changes nothing.
    func testUnknownPrefixesAndFreezingEverythingAreRefused() throws {
        let net = try DenseNet(config, seed: 1)
        for prefix in ["features.denseblock1.denselayer3", "features.denseblock", "features.conv", "classifier.weights", "feature"] {
            XCTAssertThrowsError(try net.freeze(["features.conv0", prefix]), prefix) { error in
                XCTAssertEqual(error as? FreezeError, .unknownPrefix(prefix, model: net.displayName, modules: [
                    "features.conv0", "features.norm0", "features.denseblock1", "features.transition1", "features.denseblock2",
                    "features.norm5", "classifier"]))
                XCTAssertTrue("\(error)".contains("'\(prefix)' matches no parameter"), "\(error)")
                XCTAssertTrue("\(error)".contains("features.conv0, features.norm0, features.denseblock1, features.transition1"), "\(error)")
            }
        }
        XCTAssertThrowsError(try net.freeze(["features", "classifier"])) {
            XCTAssertEqual($0 as? FreezeError, .nothingTrains(model: net.displayName))
        }
        XCTAssertTrue(net.store.parameters.allSatisfy { !$0.frozen })
        XCTAssertThrowsError(try Trainer(net: net, config: settings(freeze: ["features.denseblok1"]), configJSON: "c",
                                         checkpointURL: nil, bestWeightsURL: nil)) {
            XCTAssertTrue("\($0)".hasPrefix("training.freeze: 'features.denseblok1' matches no parameter of "), "\($0)")
        }
        let resnet = try ModelSpec.resNet(ResNetConfig(block: .basic, layers: [2, 2, 2, 2], width: 8, classes: 2, seReduction: nil))
            .build(seed: 0)
        XCTAssertThrowsError(try resnet.freeze(["features.conv0"])) {
            XCTAssertTrue("\($0)".contains("conv1, bn1, layer1, layer2, layer3, layer4, fc"), "\($0)")
        }
        try resnet.freeze(["conv1", "bn1", "layer1.0", "layer2.1.bn2.weight"])
        XCTAssertEqual(resnet.store.parameters.filter(\.frozen).count, 1 + 2 + 6 + 1)
        XCTAssertEqual(resnet.store.buffers.filter(\.frozen).map(\.name),
                       ["bn1.running_mean", "bn1.running_var", "layer1.0.bn1.running_mean", "layer1.0.bn1.running_var",
                        "layer1.0.bn2.running_mean", "layer1.0.bn2.running_var"])
    }
}
