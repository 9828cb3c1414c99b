// What a run produces, as every module sees it: its status, each epoch's metrics, its predictions and which of
// its epochs' weights they come from. The store keeps them, the trainer makes them, the report reads them: one
// definition each.

/// Life cycle of a run: queued → running → finished | failed | interrupted. A `running` run whose heartbeat is
/// older than the store's `staleAfter` is taken to be dead (its process was killed) and can be claimed again to
/// resume. Only `finished` runs enter a report's means, intervals and tests; the others are listed as they are.
public enum RunStatus: String, Codable, Sendable, CaseIterable {
    case queued, running, finished, failed, interrupted
}

/// Metrics of one epoch of one run. Accuracies are fractions in [0, 1], losses mean cross-entropy. Test metrics
/// are nil on an epoch that was not evaluated (stores may hold such rows; a report refuses them).
public struct EpochMetrics: Equatable, Sendable {
    /// 1-based epoch number.
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var testLoss: Double?
    public var testAccuracy: Double?
    /// Learning rate the epoch trained at.
    public var learningRate: Double
    /// Wall-clock seconds the epoch took (training and evaluation).
    public var seconds: Double
    /// Training throughput in images per second.
    public var imagesPerSecond: Double
    /// Metrics on the validation part; nil without one.
    public var validationLoss: Double?
    public var validationAccuracy: Double?

    public init(epoch: Int, trainLoss: Double, trainAccuracy: Double, testLoss: Double?, testAccuracy: Double?,
                learningRate: Double, seconds: Double, imagesPerSecond: Double, validationLoss: Double? = nil,
                validationAccuracy: Double? = nil) {
        self.validationLoss = validationLoss
        self.validationAccuracy = validationAccuracy
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.testLoss = testLoss
        self.testAccuracy = testAccuracy
        self.learningRate = learningRate
        self.seconds = seconds
        self.imagesPerSecond = imagesPerSecond
    }
}

/// Which of a run's weights something comes from: the best epoch's so far (by test accuracy: optimistic), the last
/// epoch's, or the selected epoch's (`training.select` on validation; stored only when that is not `last`).
/// Stored predictions and `ablate evaluate` results are kept per kind. `allCases` is the store's order
/// (alphabetical, as it sorts them); a report that wants another order lists the cases itself.
public enum PredictionKind: String, Codable, Sendable, CaseIterable {
    case best, last, selected
}

/// A model's output for one test image.
public struct Prediction: Equatable, Sendable {
    /// Identifies the image (its path); McNemar's test pairs two runs' predictions by it.
    public var file: String
    /// True class index.
    public var label: Int
    /// Softmax output, one entry per class.
    public var probabilities: [Double]

    public init(file: String, label: Int, probabilities: [Double]) {
        self.file = file
        self.label = label
        self.probabilities = probabilities
    }

    /// Index of the largest probability; the lowest index wins a tie, so the answer depends on nothing but the
    /// numbers.
    public var predicted: Int {
        var best = 0
        for i in probabilities.indices where probabilities[i] > probabilities[best] { best = i }
        return best
    }
}
