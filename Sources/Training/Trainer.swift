// The training loop: epochs of shuffled, augmented batches, evaluation on the validation and test splits after
// each epoch, the selected epoch's weights (`training.select`), early stopping on validation, a checkpoint after
// every epoch, exact resume, divergence detection and cooperative stopping. It reports
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
    /// 0: the split has no validation part.
    var validationCount: Int { get }
    func trainBatches(epoch: Int, batchSize: Int) throws -> AnySequence<Batch>
    func testBatches(batchSize: Int) throws -> AnySequence<Batch>
    func validationBatches(batchSize: Int) throws -> AnySequence<Batch>
}

extension EpochData {
    /// Data without a validation part.
    public var validationCount: Int { 0 }
    public func validationBatches(batchSize: Int) throws -> AnySequence<Batch> { AnySequence([]) }
}

/// `training.early_stop` as the trainer runs it: stop once `metric` has not improved by more than `minDelta` for
/// `patience` epochs in a row.
public struct EarlyStopping: Codable, Equatable, Sendable {
    public var metric: ValidationMetric
    public var patience: Int
    public var minDelta: Double
    public init(metric: ValidationMetric, patience: Int, minDelta: Double) {
        self.metric = metric; self.patience = patience; self.minDelta = minDelta
    }
}

/// What the trainer runs: epochs, batch size, optimiser and learning-rate schedule, what is frozen and how fast the
/// head learns, which epoch it keeps and when it stops early (a run's `RunPlan` makes it from the experiment file's
/// `training` section).
public struct TrainingConfig: Codable, Equatable, Sendable {
    public var epochs: Int
    public var batchSize: Int
    public var optimizer: OptimizerConfig
    public var schedule: LRSchedule
    public var selection: EpochSelection
    /// nil: train every epoch.
    public var earlyStop: EarlyStopping?
    /// State_dict prefixes left out of training (`Network.freeze`); empty: everything trains.
    public var freeze: [String]
    /// The classifier's learning rate as a multiple of the schedule's; nil: the same rate.
    public var headLRMultiplier: Float?
    public init(epochs: Int, batchSize: Int, optimizer: OptimizerConfig, schedule: LRSchedule,
                selection: EpochSelection, earlyStop: EarlyStopping?, freeze: [String], headLRMultiplier: Float?) {
        self.epochs = epochs; self.batchSize = batchSize; self.optimizer = optimizer; self.schedule = schedule
        self.selection = selection; self.earlyStop = earlyStop
        self.freeze = freeze; self.headLRMultiplier = headLRMultiplier
    }

    /// True when the trainer needs a validation part.
    public var needsValidation: Bool { selection.metric != nil || earlyStop != nil }
}

/// The model's output for one test sample, by its index in the dataset (the runner turns it into a stored
/// `Prediction` with the sample's file name).
public struct SamplePrediction: Sendable, Equatable {
    public let index: Int, label: Int
    public let probabilities: [Float]
}

/// What one finished epoch hands to the caller: its metrics (always evaluated: test metrics are set, validation
/// ones when there is a validation part), the test predictions, whether it is the best epoch on test so far,
/// whether it is now the selected epoch (`training.select`; with `last`, every epoch), and whether training stops
/// after it (early stopping).
public struct EpochResult: Sendable {
    public let metrics: EpochMetrics
    public let predictions: [SamplePrediction]
    public let isBest: Bool
    public let isSelected: Bool
    public let stopsEarly: Bool
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
    /// Where the selected epoch's weights go (`training.select` other than `last`; nil: keep nothing).
    public let selectedWeightsURL: URL?

    /// A new run, or a resumed one when `checkpointURL` exists. With an `owner`, every checkpoint written names
    /// it, and an existing checkpoint that names another owner is refused before it touches the model. Freezes
    /// `config.freeze` in `net` (throwing `FreezeError` for a prefix that matches no parameter).
    public init(net: any Network, config: TrainingConfig, configJSON: String, checkpointURL: URL?, bestWeightsURL: URL?,
                selectedWeightsURL: URL? = nil, owner: CheckpointOwner? = nil) throws {
        self.net = net; self.config = config
        self.checkpointURL = checkpointURL; self.bestWeightsURL = bestWeightsURL
        self.selectedWeightsURL = selectedWeightsURL
        try net.freeze(config.freeze)
        optimizer = Optimizer(config.optimizer, store: net.store,
                              groups: net.parameterGroups(headLRMultiplier: config.headLRMultiplier))
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
        if config.needsValidation && data.validationCount == 0 { throw TrainingError.emptySplit("validation") }
        let batches = (data.trainCount + config.batchSize - 1) / config.batchSize
        while state.epochsDone < config.epochs && state.stoppedEarlyAt == nil {
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
            let test = try evaluate(try data.testBatches(batchSize: config.batchSize))
            guard test.loss.isFinite else { throw TrainingError.diverged(epoch: epoch + 1, loss: Float(test.loss)) }
            var validation: (loss: Double, accuracy: Double)?
            if data.validationCount > 0 {
                let v = try evaluate(try data.validationBatches(batchSize: config.batchSize))
                guard v.loss.isFinite else { throw TrainingError.diverged(epoch: epoch + 1, loss: Float(v.loss)) }
                validation = (v.loss, v.accuracy)
            }
            let isSelected = try select(epoch: epoch + 1, validation: validation)
            let stopsEarly = watch(epoch: epoch + 1, validation: validation)
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
                                       seconds: seconds, imagesPerSecond: Double(seen) / trainSeconds,
                                       validationLoss: validation?.loss, validationAccuracy: validation?.accuracy)
            try onEpoch(EpochResult(metrics: metrics, predictions: test.predictions, isBest: isBest,
                                    isSelected: isSelected, stopsEarly: stopsEarly))
            state.epochsDone = epoch + 1
            state.optimizerStep = optimizer.step
            state.modelRNG = net.rng
            state.batchesTracked = net.store.batchesTracked
            if let url = checkpointURL { try Checkpoint.save(net, optimizer, state, to: url) }
            onSaved(state.epochsDone)
        }
    }

    /// Whether epoch `epoch` (1-based) becomes the selected one, recording it (and writing its weights when the
    /// selection follows a validation metric). With `last`, every epoch is.
    func select(epoch: Int, validation: (loss: Double, accuracy: Double)?) throws -> Bool {
        guard let metric = config.selection.metric, let validation else {
            state.selectedEpoch = epoch
            return true
        }
        let value = metric == .loss ? validation.loss : validation.accuracy
        guard metric.improves(value, on: state.selectedScore) else { return false }
        state.selectedScore = value
        state.selectedEpoch = epoch
        if let url = selectedWeightsURL { try net.store.save(to: url, metadata: ["epoch": "\(epoch)"]) }
        return true
    }

    /// Early stopping's count of epochs without improvement; true (and the stop recorded) when training ends
    /// after epoch `epoch` although epochs are left.
    func watch(epoch: Int, validation: (loss: Double, accuracy: Double)?) -> Bool {
        guard let rule = config.earlyStop, let validation else { return false }
        let value = rule.metric == .loss ? validation.loss : validation.accuracy
        if rule.metric.improves(value, on: state.watchedBest, minDelta: rule.minDelta) {
            state.watchedBest = value
            state.epochsWithoutImprovement = 0
        } else {
            state.epochsWithoutImprovement = (state.epochsWithoutImprovement ?? 0) + 1
        }
        guard (state.epochsWithoutImprovement ?? 0) >= rule.patience, epoch < config.epochs else { return false }
        state.stoppedEarlyAt = epoch
        return true
    }

    /// Eval-mode pass over `batches` (the test or validation split): mean loss, accuracy and every sample's class
    /// probabilities.
    public func evaluate(_ batches: AnySequence<Batch>) throws -> (loss: Double, accuracy: Double, predictions: [SamplePrediction]) {
        var lossSum = 0.0, correct = 0, seen = 0
        var predictions: [SamplePrediction] = []
        for batch in batches {
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
