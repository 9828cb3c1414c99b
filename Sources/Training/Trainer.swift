// The training loop: epochs of shuffled, augmented batches, evaluation on the test split after each epoch,
// a checkpoint after every epoch, exact resume, divergence detection and cooperative stopping. It reports
// through callbacks; it never prints.
import AblateCore
import Engine
import Foundation
import Models

/// One batch as the engine consumes it: NHWC images, labels, and the dataset indices of its samples.
public struct Batch {
    public let input: Tensor
    public let labels: [Int32]
    public let indices: [Int]
    public init(input: Tensor, labels: [Int32], indices: [Int]) { self.input = input; self.labels = labels; self.indices = indices }
}

/// What the trainer needs from a dataset. Training batches must depend only on (run seed, epoch), so that a
/// resumed run sees exactly the batches an uninterrupted one would.
public protocol EpochData {
    var trainCount: Int { get }
    var testCount: Int { get }
    func trainBatches(epoch: Int, batchSize: Int) throws -> AnySequence<Batch>
    func testBatches(batchSize: Int) throws -> AnySequence<Batch>
}

/// What the trainer runs: epochs, batch size, optimiser and learning-rate schedule (a run's `RunPlan` makes it from
/// the experiment file's `training` section).
public struct TrainingConfig: Codable, Equatable, Sendable {
    public var epochs: Int
    public var batchSize: Int
    public var optimizer: OptimizerConfig
    public var schedule: LRSchedule
    public init(epochs: Int, batchSize: Int, optimizer: OptimizerConfig, schedule: LRSchedule) {
        self.epochs = epochs; self.batchSize = batchSize; self.optimizer = optimizer; self.schedule = schedule
    }
}

/// The model's output for one test sample, by its index in the dataset (the runner turns it into a stored
/// `Prediction` with the sample's file name).
public struct SamplePrediction: Sendable, Equatable {
    public let index: Int, label: Int
    public let probabilities: [Float]
}

/// What one finished epoch hands to the caller: its metrics (always evaluated: test metrics are set), the test
/// predictions, and whether it is the best epoch so far.
public struct EpochResult: Sendable {
    public let metrics: EpochMetrics
    public let predictions: [SamplePrediction]
    public let isBest: Bool
}

public struct BatchProgress: Sendable {
    public let epoch: Int, epochs: Int, batch: Int, batches: Int
    public let loss: Double, imagesPerSecond: Double
}

public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case diverged(epoch: Int, loss: Float)
    case interrupted(epochsDone: Int)
    case emptySplit(String)

    public var description: String {
        switch self {
        case let .diverged(epoch, loss): return "diverged at epoch \(epoch) (training loss \(loss))"
        case let .interrupted(done): return "interrupted after \(done) finished epoch(s)"
        case .emptySplit(let s): return "the \(s) split has no images"
        }
    }
}

public final class Trainer {
    public let net: any Network
    public let config: TrainingConfig
    public let optimizer: Optimizer
    public private(set) var state: CheckpointState
    /// Where the per-epoch checkpoint and the best weights go (nil: keep nothing on disk).
    public let checkpointURL: URL?
    public let bestWeightsURL: URL?

    /// A new run, or a resumed one when `checkpointURL` exists. With an `owner`, every checkpoint written names
    /// it, and an existing checkpoint that names another owner is refused before it touches the model.
    public init(net: any Network, config: TrainingConfig, configJSON: String, checkpointURL: URL?, bestWeightsURL: URL?,
                owner: CheckpointOwner? = nil) throws {
        self.net = net; self.config = config
        self.checkpointURL = checkpointURL; self.bestWeightsURL = bestWeightsURL
        optimizer = Optimizer(config.optimizer, store: net.store)
        state = CheckpointState(epochsDone: 0, optimizerStep: 0, modelRNG: net.rng, batchesTracked: 0, configJSON: configJSON,
                                owner: owner)
        if let url = checkpointURL, FileManager.default.fileExists(atPath: url.path) {
            let found = try Checkpoint.readState(from: url)
            let advice = "move it away to start this run from scratch"
            if let owner, let other = found.owner, other != owner {
                throw CheckpointError.incompatible(path: url.path, reason:
                    "it belongs to another run (\(other)), not to this one (\(owner)); \(advice)")
            }
            guard found.configJSON == configJSON else {
                throw CheckpointError.incompatible(path: url.path, reason:
                    "it was written for a different configuration (another run, or another run store); \(advice)")
            }
            state = try Checkpoint.load(net, optimizer, from: url)
            state.owner = owner
        }
    }

    public var isResumed: Bool { state.epochsDone > 0 }

    /// Runs the remaining epochs. `shouldStop` is polled at every batch boundary; when it returns true the
    /// epoch in progress is abandoned (the last checkpoint stays) and `TrainingError.interrupted` is thrown.
    /// `onSaved` hears the epoch number once that epoch's checkpoint is written: from then on a resume never
    /// redoes it (an epoch reported by `onEpoch` but not yet saved is redone, with new timings, after a crash).
    public func run(_ data: EpochData, shouldStop: () -> Bool = { false },
                    onBatch: (BatchProgress) -> Void = { _ in },
                    onEpoch: (EpochResult) throws -> Void = { _ in },
                    onSaved: (Int) -> Void = { _ in }) throws {
        guard data.trainCount > 0 else { throw TrainingError.emptySplit("training") }
        guard data.testCount > 0 else { throw TrainingError.emptySplit("test") }
        let batches = (data.trainCount + config.batchSize - 1) / config.batchSize
        while state.epochsDone < config.epochs {
            let epoch = state.epochsDone
            let lr = config.schedule.learningRate(base: config.optimizer.learningRate, epoch: epoch, totalEpochs: config.epochs)
            let start = DispatchTime.now().uptimeNanoseconds
            var lossSum = 0.0, correct = 0, seen = 0, index = 0
            for batch in try data.trainBatches(epoch: epoch, batchSize: config.batchSize) {
                if shouldStop() { throw TrainingError.interrupted(epochsDone: state.epochsDone) }
                let r = try TrainStep.run(net, optimizer, input: batch.input, labels: batch.labels, lr: lr)
                guard r.loss.isFinite else { throw TrainingError.diverged(epoch: epoch + 1, loss: r.loss) }
                lossSum += Double(r.loss) * Double(batch.labels.count)
                correct += r.correct; seen += batch.labels.count; index += 1
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                onBatch(BatchProgress(epoch: epoch + 1, epochs: config.epochs, batch: index, batches: batches,
                                      loss: lossSum / Double(seen), imagesPerSecond: Double(seen) / elapsed))
            }
            let trainSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if shouldStop() { throw TrainingError.interrupted(epochsDone: state.epochsDone) }
            let test = try evaluate(data)
            guard test.loss.isFinite else { throw TrainingError.diverged(epoch: epoch + 1, loss: Float(test.loss)) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let isBest = state.bestTestAccuracy.map { test.accuracy > $0 } ?? true
            if isBest {
                state.bestTestAccuracy = test.accuracy; state.bestEpoch = epoch + 1
                if let url = bestWeightsURL { try net.store.save(to: url, metadata: ["epoch": "\(epoch + 1)"]) }
            }
            // Report first, checkpoint second: a crash in between redoes this epoch on resume (bit-identical,
            // and the store replaces the row) instead of skipping its record.
            let metrics = EpochMetrics(epoch: epoch + 1, trainLoss: lossSum / Double(max(seen, 1)),
                                       trainAccuracy: Double(correct) / Double(max(seen, 1)),
                                       testLoss: test.loss, testAccuracy: test.accuracy, learningRate: Double(lr),
                                       seconds: seconds, imagesPerSecond: Double(seen) / trainSeconds)
            try onEpoch(EpochResult(metrics: metrics, predictions: test.predictions, isBest: isBest))
            state.epochsDone = epoch + 1
            state.optimizerStep = optimizer.step
            state.modelRNG = net.rng
            state.batchesTracked = net.store.batchesTracked
            if let url = checkpointURL { try Checkpoint.save(net, optimizer, state, to: url) }
            onSaved(state.epochsDone)
        }
    }

    /// Eval-mode pass over the test split: mean loss, accuracy and every sample's class probabilities.
    public func evaluate(_ data: EpochData) throws -> (loss: Double, accuracy: Double, predictions: [SamplePrediction]) {
        var lossSum = 0.0, correct = 0, seen = 0
        var predictions: [SamplePrediction] = []
        for batch in try data.testBatches(batchSize: config.batchSize) {
            let (r, logits) = try TrainStep.evaluate(net, input: batch.input, labels: batch.labels)
            lossSum += Double(r.loss) * Double(batch.labels.count)
            correct += r.correct; seen += batch.labels.count
            let probs = CrossEntropy.softmax(logits.data, batch: batch.labels.count, classes: net.classes)
            for (i, p) in probs.enumerated() {
                predictions.append(SamplePrediction(index: batch.indices[i], label: Int(batch.labels[i]), probabilities: p))
            }
        }
        return (lossSum / Double(max(seen, 1)), Double(correct) / Double(max(seen, 1)), predictions)
    }
}
