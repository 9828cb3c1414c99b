import AblateCore
import Engine
import Foundation
import Models
import Training
import XCTest

/// A tiny in-memory dataset: class 1 images are brighter in the top half. Batches depend only on (seed, epoch).
struct ToyData: EpochData {
    let train: [(Tensor, Int32)], test: [(Tensor, Int32)]
    let seed: UInt64

    init(count: Int, size: Int, seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        func sample(_ label: Int32) -> (Tensor, Int32) {
            let t = Tensor([1, size, size, 3])
            for y in 0..<size { for x in 0..<size { for c in 0..<3 {
                t[(y * size + x) * 3 + c] = Float(rng.normal()) * 0.5 + (label == 1 && y < size / 2 ? 1 : 0)
            } } }
            return (t, label)
        }
        train = (0..<count).map { sample(Int32($0 % 2)) }
        test = (0..<(count / 2)).map { sample(Int32($0 % 2)) }
        self.seed = seed
    }

    var trainCount: Int { train.count }
    var testCount: Int { test.count }

    func batches(_ items: [(Tensor, Int32)], order: [Int], _ b: Int) -> AnySequence<Batch> {
        AnySequence(stride(from: 0, to: order.count, by: b).map { start in
            let idx = Array(order[start..<min(order.count, start + b)])
            let first = items[idx[0]].0
            let x = Tensor([idx.count, first.h, first.w, 3])
            for (i, j) in idx.enumerated() { (x.data + i * first.count).update(from: items[j].0.data, count: first.count) }
            return Batch(input: x, labels: idx.map { items[$0].1 }, indices: idx)
        })
    }

    func trainBatches(epoch: Int, batchSize: Int) -> AnySequence<Batch> {
        var rng = SeededGenerator(seed: seed &+ UInt64(epoch) &* 7919)
        return batches(train, order: Array(0..<train.count).shuffled(using: &rng), batchSize)
    }

    func testBatches(batchSize: Int) -> AnySequence<Batch> { batches(test, order: Array(0..<test.count), batchSize) }
}

final class TrainerTests: XCTestCase {
    let config = DenseNetConfig(growthRate: 4, blockConfig: [2, 2], initChannels: 8, bnSize: 2, compression: 0.5, dropRate: 0.1, classes: 2, seReduction: 4, sePlacement: .block)
    let settings = TrainingConfig(epochs: 3, batchSize: 8, optimizer: .sgd(lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: false),
                                    schedule: .cosine(minLR: 0.001), selection: .last, earlyStop: nil, freeze: [],
                                    headLRMultiplier: nil)
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-trainer-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func key(_ r: EpochResult) -> [UInt64] {
        let m = r.metrics
        return [m.trainLoss, m.trainAccuracy, m.testLoss!, m.testAccuracy!, m.learningRate].map(\.bitPattern)
            + r.predictions.flatMap { $0.probabilities.map { UInt64($0.bitPattern) } }
    }

    /// Stopped in the middle of epoch 2 and resumed from the epoch-1 checkpoint, a run finishes with the same
    /// epochs, bit for bit, as an uninterrupted one.
    func testResumeIsExact() throws {
        let data = ToyData(count: 24, size: 32, seed: 3)
        var full: [EpochResult] = []
        try Trainer(net: try DenseNet(config, seed: 5), config: settings, configJSON: "c", checkpointURL: nil, bestWeightsURL: nil)
            .run(data, onEpoch: { full.append($0) })
        XCTAssertEqual(full.map(\.metrics.epoch), [1, 2, 3])

        let ckpt = dir.appendingPathComponent("run.ckpt")
        var first: [EpochResult] = []
        var batchesSeen = 0
        let t1 = try Trainer(net: try DenseNet(config, seed: 5), config: settings, configJSON: "c", checkpointURL: ckpt, bestWeightsURL: nil)
        XCTAssertThrowsError(try t1.run(data, shouldStop: { batchesSeen >= 5 }, onBatch: { _ in batchesSeen += 1 },
                                        onEpoch: { first.append($0) })) { e in
            XCTAssertEqual(e as? TrainingError, .interrupted(epochsDone: 1))
        }
        XCTAssertEqual(first.count, 1)
        // A fresh process: different init seed on purpose; everything must come from the checkpoint.
        let t2 = try Trainer(net: try DenseNet(config, seed: 999), config: settings, configJSON: "c", checkpointURL: ckpt, bestWeightsURL: nil)
        XCTAssertTrue(t2.isResumed)
        var rest: [EpochResult] = []
        try t2.run(data, onEpoch: { rest.append($0) })
        XCTAssertEqual((first + rest).map(\.metrics.epoch), [1, 2, 3])
        for (a, b) in zip(full, first + rest) { XCTAssertEqual(key(a), key(b), "epoch \(a.metrics.epoch) differs after resume") }
    }

    func testCheckpointForAnotherConfigurationIsRefused() throws {
        let ckpt = dir.appendingPathComponent("run.ckpt")
        var s = settings; s.epochs = 1
        try Trainer(net: try DenseNet(config, seed: 5), config: s, configJSON: "a", checkpointURL: ckpt, bestWeightsURL: nil)
            .run(ToyData(count: 8, size: 32, seed: 1))
        XCTAssertThrowsError(try Trainer(net: try DenseNet(config, seed: 5), config: s, configJSON: "b", checkpointURL: ckpt, bestWeightsURL: nil)) {
            XCTAssertTrue("\($0)".contains("different configuration"), "\($0)")
        }
    }

    func testDivergenceIsReported() throws {
        // A corrupted image (NaN pixels) makes the loss NaN on the first batch.
        let data = ToyData(count: 24, size: 32, seed: 3)
        for i in 0..<data.train[0].0.count { data.train[0].0[i] = .nan }
        let t = try Trainer(net: try DenseNet(config, seed: 5), config: settings, configJSON: "c", checkpointURL: nil, bestWeightsURL: nil)
        XCTAssertThrowsError(try t.run(data)) { e in
            guard case .diverged(let epoch, _)? = e as? TrainingError else { return XCTFail("\(e)") }
            XCTAssertEqual(epoch, 1)
            XCTAssertTrue("\(e)".contains("diverged at epoch 1"))
        }
    }

    func testLearnsTheToyTaskAndKeepsBestWeights() throws {
        var s = settings; s.epochs = 4; s.optimizer = .adam(lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0)
        let best = dir.appendingPathComponent("best.safetensors")
        var records: [EpochResult] = []
        try Trainer(net: try DenseNet(config, seed: 1), config: s, configJSON: "c", checkpointURL: nil, bestWeightsURL: best)
            .run(ToyData(count: 48, size: 32, seed: 2), onEpoch: { records.append($0) })
        XCTAssertGreaterThan(records.compactMap(\.metrics.testAccuracy).max()!, 0.8)
        XCTAssertTrue(FileManager.default.fileExists(atPath: best.path))
        XCTAssertEqual(records.last!.predictions.count, 24)
        XCTAssertEqual(records.last!.predictions[0].probabilities.reduce(0, +), 1, accuracy: 1e-5)
    }
}

/// A checkpoint write that fails part-way (the file-size limit stands in for a full disk) throws, and the
/// previous checkpoint is still there and loads.
final class CheckpointFailureTests: XCTestCase {
    func testFailedWriteKeepsThePreviousCheckpoint() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-diskfull-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = DenseNetConfig(growthRate: 16, blockConfig: [4, 4], initChannels: 32, bnSize: 4, compression: 0.5, dropRate: 0, classes: 2, seReduction: nil, sePlacement: .block)
        let net = try DenseNet(config, seed: 1)
        let opt = Optimizer(.adam(lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0), store: net.store)
        let url = dir.appendingPathComponent("run.ckpt")
        let first = CheckpointState(epochsDone: 1, optimizerStep: 3, modelRNG: net.rng, batchesTracked: 3, configJSON: "c")
        try Checkpoint.save(net, opt, first, to: url)
        let good = try Data(contentsOf: url)
        XCTAssertGreaterThan(good.count, 200_000)

        // Change the weights, then try to save with writes capped at 64 KiB.
        net.store.values.fill(0.5)
        var old = rlimit(), capped = rlimit(rlim_cur: 64 * 1024, rlim_max: 0)
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        capped.rlim_max = old.rlim_max
        let oldHandler = signal(SIGXFSZ, SIG_IGN)
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &capped)
        var second = first; second.epochsDone = 2
        XCTAssertThrowsError(try Checkpoint.save(net, opt, second, to: url))
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        signal(SIGXFSZ, oldHandler)

        XCTAssertEqual(try Data(contentsOf: url), good, "the previous checkpoint must survive a failed write")
        let restored = try DenseNet(config, seed: 9)
        let state = try Checkpoint.load(restored, Optimizer(.adam(lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0), store: restored.store), from: url)
        XCTAssertEqual(state.epochsDone, 1)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["run.ckpt"], "no temporary file left behind")
    }
}

/// A checkpoint's model weights as a file of their own (what `export --artifacts` uploads for a run that keeps its
/// last epoch) are the bytes `ParameterStore.save` writes for that model, counters as I64 and all.
final class CheckpointWeightsFileTests: XCTestCase {
    func testWeightsFileEqualsTheSavedWeights() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-weightsfile-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = DenseNetConfig(growthRate: 4, blockConfig: [2, 2], initChannels: 8, bnSize: 4, compression: 0.5,
                                    dropRate: 0, classes: 2, seReduction: 4, sePlacement: .block)
        let net = try DenseNet(config, seed: 1)
        net.store.batchesTracked = 7
        let opt = Optimizer(.adam(lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0), store: net.store)
        opt.state1.fill(0.25)
        let checkpoint = dir.appendingPathComponent("checkpoint.safetensors")
        try Checkpoint.save(net, opt, CheckpointState(epochsDone: 3, optimizerStep: 9, modelRNG: net.rng, batchesTracked: 7,
                                                      configJSON: "c"), to: checkpoint)
        let saved = dir.appendingPathComponent("saved.safetensors")
        try net.store.save(to: saved, metadata: ["epoch": "3"])

        let (weights, state) = try Checkpoint.weightsFile(from: checkpoint)
        XCTAssertEqual(state.epochsDone, 3)
        XCTAssertEqual(weights, try Data(contentsOf: saved))
        XCTAssertLessThan(weights.count, try Data(contentsOf: checkpoint).count)
        let read = try Safetensors.read(data: weights, path: "weights")
        XCTAssertFalse(read.tensors.keys.contains { $0.hasPrefix("optimizer.") })
        XCTAssertEqual(read.tensors["features.norm0.num_batches_tracked"]?.values, [7])
        XCTAssertEqual(read.metadata, ["epoch": "3"])
    }
}
