// Plain input structs for the report. The lead fills them from the run store; the report never reads the store.
// Run status, epoch metrics, predictions and prediction kinds are the shared types of AblateCore.
import AblateCore

/// One training run as the report sees it: a configuration trained with one seed, with its size, epochs and
/// predictions (the store's row for it is `Store.RunRecord`).
public struct ReportRun: Sendable, Equatable {
    /// Configuration label, e.g. "DenseNet-121" or "SE-DenseNet r=16".
    public var configuration: String
    public var seed: Int
    public var parameters: Int
    /// Multiply-adds of one forward pass on one image.
    public var multiplyAdds: Int
    public var status: RunStatus
    /// Epochs completed so far, in order.
    public var epochs: [EpochMetrics]
    /// Test-set predictions of the last epoch's model; empty when not recorded.
    public var predictions: [Prediction]
    /// How the run chose the epoch it reports (`training.select`): `.last`, or the best epoch on validation.
    public var selection: EpochSelection = .last
    /// With a selection on validation: the epoch it selected and its model's test-set predictions (the store's
    /// `selected` kind); nil and empty otherwise (or while nothing is selected yet).
    public var selectedEpoch: Int?
    public var selectedPredictions: [Prediction] = []
    /// The epoch after which early stopping ended the run (finished, with fewer epochs than planned); nil otherwise.
    public var stoppedEarlyAt: Int?
    /// The fold the run tests on when its split is grouped k-fold cross-validation; nil for every other split.
    public var fold: CrossValidationFold?
    /// Results on test sets outside the run's split (`ablate evaluate`).
    public var externalTests: [ExternalTestResult]
    /// Which test images are copies of one original; nil when every image is its own case.
    public var testGrouping: TestGrouping?
    /// The machines the run trained on, in order; empty when not recorded.
    public var machines: [Machine]

    public init(configuration: String, seed: Int, parameters: Int, multiplyAdds: Int, status: RunStatus,
                epochs: [EpochMetrics], predictions: [Prediction] = [], externalTests: [ExternalTestResult] = [],
                testGrouping: TestGrouping? = nil, machines: [Machine] = []) {
        self.configuration = configuration
        self.seed = seed
        self.parameters = parameters
        self.multiplyAdds = multiplyAdds
        self.status = status
        self.epochs = epochs
        self.predictions = predictions
        self.externalTests = externalTests
        self.testGrouping = testGrouping
        self.machines = machines
    }
}

extension ReportRun {
    /// Whether the run reports an epoch chosen on validation rather than its last.
    public var selectsOnValidation: Bool { selection != .last }
    /// The epoch the run reports (its headline): the selected one when it selects on validation, else its last.
    public var headlineEpoch: Int? { selectsOnValidation ? selectedEpoch : epochs.last?.epoch }
    /// The test-set predictions of that epoch's model: every per-run "final" number of the report comes from these.
    public var headlinePredictions: [Prediction] { selectsOnValidation ? selectedPredictions : predictions }
    /// The stored kind of those predictions (and of the weights `ablate evaluate` scores as the run's model).
    public var headlineKind: PredictionKind { selectsOnValidation ? .selected : .last }
}

/// Grouped k-fold cross-validation: the fold a run tests on, of how many. Over the folds every group is tested
/// exactly once, so one seed's runs of a configuration together predict every test image once (out of fold).
public struct CrossValidationFold: Sendable, Equatable, Hashable {
    /// 0..<folds.
    public var fold: Int
    public var folds: Int
    public init(fold: Int, folds: Int) { self.fold = fold; self.folds = folds }
}

/// How a run's test images cluster into independent cases. Augmented copies of one photograph (or photographs of
/// one patient) tend to be right or wrong together, so a test that counts images as independent cases overstates
/// the evidence; the report's McNemar test takes each group's images as one cluster instead.
public struct TestGrouping: Sendable, Equatable {
    /// What one group is: the split's group key, e.g. "photo" or "patient".
    public var unit: String
    /// Test file → its group key; a file not listed is its own group.
    public var groupOfFile: [String: String]

    public init(unit: String, groupOfFile: [String: String]) {
        self.unit = unit
        self.groupOfFile = groupOfFile
    }

    /// The group key of a test file; a file not in the map is its own group.
    public func group(of file: String) -> String { groupOfFile[file] ?? file }

    /// "photos", "patients"; other rule names become "<name> groups".
    public var pluralUnit: String { ["photo", "patient"].contains(unit) ? unit + "s" : unit + " groups" }
}

/// One run's weights scored on a labelled folder outside its split.
public struct ExternalTestResult: Sendable, Equatable {
    /// The test set's name; results of one name are compared across configurations.
    public var name: String
    /// Which weights of the run were scored.
    public var weights: PredictionKind
    /// The epoch the weights come from.
    public var epoch: Int
    /// One row per image, labels in `ReportInput.classNames` order.
    public var predictions: [Prediction]
    /// How much of the folder the run saw in training.
    public var audit: ExternalAudit
    /// Which of its images are copies of one original (by the run's group key); nil: every image its own case.
    public var grouping: TestGrouping?

    public init(name: String, weights: PredictionKind, epoch: Int, predictions: [Prediction], audit: ExternalAudit,
                grouping: TestGrouping? = nil) {
        self.name = name; self.weights = weights; self.epoch = epoch; self.predictions = predictions; self.audit = audit
        self.grouping = grouping
    }

    /// Fraction of images whose arg-max class is the label.
    public var accuracy: Double {
        Double(predictions.filter { $0.predicted == $0.label }.count) / Double(max(1, predictions.count))
    }
}

/// Overlap of an external test folder with one run's training files.
public struct ExternalAudit: Sendable, Equatable {
    public var trainFiles: Int, testFiles: Int
    public var byteIdentical: Int, samePhotograph: Int, samePatient: Int
    /// Images with a near-duplicate among the training files by appearance; nil for results stored before that audit.
    public var nearDuplicate: Int?
    public init(trainFiles: Int, testFiles: Int, byteIdentical: Int, samePhotograph: Int, samePatient: Int,
                nearDuplicate: Int? = nil) {
        self.trainFiles = trainFiles; self.testFiles = testFiles; self.byteIdentical = byteIdentical
        self.samePhotograph = samePhotograph; self.samePatient = samePatient; self.nearDuplicate = nearDuplicate
    }
    public var leaks: Bool { byteIdentical > 0 || samePhotograph > 0 || samePatient > 0 || (nearDuplicate ?? 0) > 0 }
}

/// Everything the report needs.
public struct ReportInput: Sendable, Equatable {
    public var title: String
    /// What the experiment is for, in the author's words (the experiment file's `description`), under the title.
    public var description: String?
    public var runs: [ReportRun]
    /// Display order of configurations; configurations missing here follow in order of first appearance.
    public var configurationOrder: [String]
    /// Configuration the others are compared against; nil skips the comparison table (unless `comparisons` is set).
    public var baseline: String?
    /// Explicit (candidate, baseline) pairs, e.g. each SE variant against its own backbone without SE; when not
    /// empty they replace "every configuration against `baseline`".
    public var comparisons: [ComparisonPair] = []
    /// Seeds planned per configuration (the n in "k/n finished"); nil means "the runs present".
    public var plannedSeedsPerConfiguration: Int?
    /// Things the reader must know before trusting the numbers (e.g. the experiment's definition could not be
    /// read), shown under the description.
    public var warnings: [String] = []
    /// Runs the experiment plans in all (nil when unknown): a report of a matrix still computing says "3 of 12".
    public var plannedRuns: Int?
    /// Configurations the experiment plans that have no run here yet, in matrix order: listed, so a partial report
    /// cannot be read as the whole matrix.
    public var notYetRun: [String] = []
    /// Test accuracy a run must reach to count as "reaching the target".
    public var targetAccuracy: Double
    /// Class names by index; the positive class for binary metrics is `classNames[positiveClass]`.
    public var classNames: [String]
    public var positiveClass: Int
    /// The data split(s) the runs used, with their leakage audit (one row per distinct split).
    public var dataSplits: [DataSplitNote] = []
    /// The closest test–training pairs of the near-duplicate audit, with their pictures (the contact sheet).
    public var nearDuplicatePairs: [NearDuplicatePairPicture] = []

    public init(title: String, runs: [ReportRun], configurationOrder: [String] = [], baseline: String? = nil,
                plannedSeedsPerConfiguration: Int? = nil, targetAccuracy: Double, classNames: [String],
                positiveClass: Int) {
        self.title = title
        self.runs = runs
        self.configurationOrder = configurationOrder
        self.baseline = baseline
        self.plannedSeedsPerConfiguration = plannedSeedsPerConfiguration
        self.targetAccuracy = targetAccuracy
        self.classNames = classNames
        self.positiveClass = positiveClass
    }
}

/// One row of the comparison: `candidate` against `baseline`, paired by seed.
public struct ComparisonPair: Sendable, Equatable {
    public var candidate: String
    public var baseline: String
    public init(candidate: String, baseline: String) { self.candidate = candidate; self.baseline = baseline }
}

extension ReportInput {
    /// The comparisons the report makes: `comparisons`, else every other configuration against `baseline`.
    public var comparisonPairs: [ComparisonPair] {
        if !comparisons.isEmpty { return comparisons }
        guard let baseline else { return [] }
        return configurationNames.filter { $0 != baseline }.map { ComparisonPair(candidate: $0, baseline: baseline) }
    }
}

/// One data split as recorded with the runs: protocol and how much of the test set has a copy in training.
public struct DataSplitNote: Sendable, Equatable {
    public var description: String
    public var trainFiles: Int, testFiles: Int
    public var testByteIdenticalInTrain: Int, testGroupSharedWithTrain: Int
    public var groupKey: String
    public var skippedFiles: Int
    /// Distinct groups (`groupKey`) among the test files: how many independent cases the test set holds; nil
    /// when unknown (no stored predictions).
    public var testGroups: Int?
    /// Test files with a near-duplicate in training by appearance; nil for runs stored before that audit.
    public var testNearDuplicateInTrain: Int?
    /// The audit's thresholds in words, for the note under the table.
    public var nearDuplicateRule: String?
    public init(description: String, trainFiles: Int, testFiles: Int, testByteIdenticalInTrain: Int,
                testGroupSharedWithTrain: Int, groupKey: String, skippedFiles: Int, testGroups: Int? = nil,
                testNearDuplicateInTrain: Int? = nil, nearDuplicateRule: String? = nil) {
        self.description = description; self.trainFiles = trainFiles; self.testFiles = testFiles
        self.testByteIdenticalInTrain = testByteIdenticalInTrain; self.testGroupSharedWithTrain = testGroupSharedWithTrain
        self.groupKey = groupKey; self.skippedFiles = skippedFiles; self.testGroups = testGroups
        self.testNearDuplicateInTrain = testNearDuplicateInTrain; self.nearDuplicateRule = nearDuplicateRule
    }
}

extension ReportInput {
    /// The grouping of the test images when every finished run with predictions has the same one (one split, one
    /// group key); nil otherwise, and then tests count images.
    public var sharedTestGrouping: TestGrouping? {
        let scored = runs.filter { $0.status == .finished && !$0.headlinePredictions.isEmpty }
        guard let first = scored.first?.testGrouping,
              scored.allSatisfy({ $0.testGrouping == first }) else { return nil }
        return first
    }

}

extension EpochMetrics {
    /// The report's reading of an epoch's test metrics: NaN for an epoch that was not evaluated, which
    /// `ReportInput.validate` refuses before anything is computed from it.
    var testLossOrNaN: Double { testLoss ?? .nan }
    var testAccuracyOrNaN: Double { testAccuracy ?? .nan }
}
