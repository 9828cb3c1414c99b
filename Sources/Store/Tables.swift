import AblateCore
import Foundation
import GRDB

// The store's tables, one GRDB record type each. A table's name (`databaseTableName`) and its columns (the
// `CodingKeys`, which are also the query interface's `Columns`) are spelled here and nowhere else but in the
// migrations (RunStore.swift), which stay SQL: each is the schema as that version created it, frozen so that an
// older store migrates exactly as it always did, and must not follow later edits of these types.
//
// Everything else reads and writes through these records and GRDB's query interface. Dates are stored as GRDB
// stores a `Date` ("yyyy-MM-dd HH:mm:ss.SSS", UTC: the records keep the default `deferredToDate` strategy); enums
// as their raw values; probabilities as the canonical JSON array `JSONValue` writes (a test holds the records to
// the migrated tables and to this format). The records are internal: the public values (`RunRecord`,
// `EpochRecord`, `ExternalTest`, …) are made from them at the end of this file.

/// `ablate_meta`: the store's marker (`format`) and id (`store_id`), key → value.
struct MetaRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "ablate_meta"
    /// The key of the store's id (see `RunStore.addStoreID`).
    static let storeIDKey = "store_id"

    var key: String
    var value: String

    enum CodingKeys: String, CodingKey, ColumnExpression, CaseIterable {
        case key, value
    }
    typealias Columns = CodingKeys
}

/// `experiments`: one experiment file as it was when runs were queued from it; `name` is unique.
struct ExperimentRow: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "experiments"

    var id: Int64?
    var name: String
    var fileText: String
    var filePath: String?
    var created: Date
    var updated: Date

    enum CodingKeys: String, CodingKey, ColumnExpression, CaseIterable {
        case id, name, fileText = "file_text", filePath = "file_path", created, updated
    }
    typealias Columns = CodingKeys

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// `runs`: one configuration of an experiment, its state and provenance; (experiment, config hash) is unique.
struct RunRow: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "runs"
    static let experiment = belongsTo(ExperimentRow.self)

    var id: Int64?
    var experimentID: Int64
    var configJSON: String
    var configHash: String
    var label: String
    var seed: Int?
    var status: RunStatus
    var epochsTotal: Int
    var queuedAt: Date
    var heartbeat: Date?
    var host: String?
    var gitCommit: String?
    var ablateVersion: String?
    var threads: Int?
    var startedAt: Date?
    var endedAt: Date?
    var errorMessage: String?
    var checkpointPath: String?
    var dataAuditJSON: String?
    /// The token of the lease a process holds on the run (`RunLease.token`); nil when no process holds it.
    var claimToken: String?
    var attempts: Int
    /// Who holds that lease (`LeaseHolder.recorded`); nil when nobody does or an older ablate took it.
    var leaseHolder: String?
    /// The machines the run trained on, in order (`Machine.encode`); nil in stores from before they were recorded.
    var hardwareJSON: String? = nil
    /// The epoch after which early stopping ended the run; nil when it trained every epoch (or before v6).
    var stoppedEarlyAt: Int? = nil
    /// What loading `model.init_from` did (the Checkpoints load report as JSON); nil for fresh weights.
    var initReportJSON: String? = nil

    enum CodingKeys: String, CodingKey, ColumnExpression, CaseIterable {
        case id, experimentID = "experiment_id", configJSON = "config_json", configHash = "config_hash", label, seed
        case status, epochsTotal = "epochs_total", queuedAt = "queued_at", heartbeat, host, gitCommit = "git_commit"
        case ablateVersion = "ablate_version", threads, startedAt = "started_at", endedAt = "ended_at"
        case errorMessage = "error_message", checkpointPath = "checkpoint_path", dataAuditJSON = "data_audit_json"
        case claimToken = "claim_token", attempts, leaseHolder = "lease_holder", hardwareJSON = "hardware_json"
        case stoppedEarlyAt = "stopped_early_at", initReportJSON = "init_report_json"
    }
    typealias Columns = CodingKeys

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// `epochs`: one epoch's metrics of one run; (run, epoch) is the key.
struct EpochRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "epochs"

    var runID: Int64
    var epoch: Int
    var trainLoss: Double
    var trainAcc: Double
    var testLoss: Double?
    var testAcc: Double?
    var learningRate: Double
    var seconds: Double
    var imagesPerSecond: Double
    var recordedAt: Date
    /// nil without a validation part (and in rows from before v6).
    var valLoss: Double? = nil
    var valAcc: Double? = nil

    enum CodingKeys: String, CodingKey, ColumnExpression, CaseIterable {
        case runID = "run_id", epoch, trainLoss = "train_loss", trainAcc = "train_acc", testLoss = "test_loss"
        case testAcc = "test_acc", learningRate = "learning_rate", seconds, imagesPerSecond = "images_per_second"
        case recordedAt = "recorded_at", valLoss = "val_loss", valAcc = "val_acc"
    }
    typealias Columns = CodingKeys
}

/// `predictions`: a run's output for one test image, with its best-epoch or last-epoch weights; (run, kind, file)
/// is unique.
struct PredictionRow: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "predictions"

    var id: Int64?
    var runID: Int64
    var kind: PredictionKind
    var epoch: Int
    var file: String
    var label: Int
    var predicted: Int
    /// JSON array of class probabilities.
    var probabilities: String

    enum CodingKeys: String, CodingKey, ColumnExpression, CaseIterable {
        case id, runID = "run_id", kind, epoch, file, label, predicted, probabilities
    }
    typealias Columns = CodingKeys

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// `external_tests`: one run's weights scored on a labelled folder outside its split (`ablate evaluate`);
/// (run, name, weights) is unique. The metrics are what `evaluate` printed; its predictions are
/// `external_predictions`.
struct ExternalTestRow: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "external_tests"

    var id: Int64?
    var runID: Int64
    var name: String
    var weights: PredictionKind
    var epoch: Int
    var directory: String
    var images: Int
    var accuracy: Double
    var positiveClass: String?
    var sensitivity: Double?
    var specificity: Double?
    var rocAUC: Double?
    var auditJSON: String
    var evaluatedAt: Date

    enum CodingKeys: String, CodingKey, ColumnExpression, CaseIterable {
        case id, runID = "run_id", name, weights, epoch, directory, images, accuracy, positiveClass = "positive_class"
        case sensitivity, specificity, rocAUC = "roc_auc", auditJSON = "audit_json", evaluatedAt = "evaluated_at"
    }
    typealias Columns = CodingKeys

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// `external_predictions`: the output for one image of an external test; (test, file) is the key.
struct ExternalPredictionRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "external_predictions"

    var testID: Int64
    var file: String
    var label: Int
    var predicted: Int
    /// JSON array of class probabilities.
    var probabilities: String

    enum CodingKeys: String, CodingKey, ColumnExpression, CaseIterable {
        case testID = "test_id", file, label, predicted, probabilities
    }
    typealias Columns = CodingKeys
}

// MARK: - Rows and the public values

extension Prediction {
    /// The `probabilities` column: a canonical JSON array.
    var probabilitiesText: String { JSONValue.array(probabilities.map { .double($0) }).canonical }

    /// A prediction read back from its columns; an unreadable `probabilities` text is an error naming the row,
    /// not an empty list a report would take for a prediction without probabilities.
    init(file: String, label: Int, probabilitiesText text: String, store path: String) throws {
        guard let probabilities = try? JSONDecoder().decode([Double].self, from: Data(text.utf8)) else {
            throw StoreError.unreadableValue(path: path, what: "the probabilities of the prediction for \(file)",
                                             text: String(text.prefix(80)))
        }
        self.init(file: file, label: label, probabilities: probabilities)
    }
}

extension ExperimentRecord {
    init(_ row: ExperimentRow) {
        self.init(id: row.id!, name: row.name, fileText: row.fileText, filePath: row.filePath, created: row.created,
                  updated: row.updated)
    }
}

extension RunRecord {
    init(_ row: RunRow) {
        self.init(id: row.id!, experimentID: row.experimentID, configJSON: row.configJSON, configHash: row.configHash,
                  label: row.label, seed: row.seed, status: row.status, epochsTotal: row.epochsTotal,
                  queuedAt: row.queuedAt, heartbeat: row.heartbeat, host: row.host, gitCommit: row.gitCommit,
                  ablateVersion: row.ablateVersion, threads: row.threads, startedAt: row.startedAt,
                  endedAt: row.endedAt, errorMessage: row.errorMessage, checkpointPath: row.checkpointPath,
                  dataAuditJSON: row.dataAuditJSON, attempts: row.attempts,
                  leaseHolder: LeaseHolder(host: row.host, recorded: row.leaseHolder), hardwareJSON: row.hardwareJSON,
                  stoppedEarlyAt: row.stoppedEarlyAt, initReportJSON: row.initReportJSON)
    }
}

extension RunRow {
    /// A new row holding `record` (its id and experiment id are another store's) under `experimentID`, held by no
    /// process.
    init(_ record: RunRecord, experimentID: Int64, status: RunStatus) {
        let r = record
        self.init(id: nil, experimentID: experimentID, configJSON: r.configJSON, configHash: r.configHash,
                  label: r.label, seed: r.seed, status: status, epochsTotal: r.epochsTotal, queuedAt: r.queuedAt,
                  heartbeat: r.heartbeat, host: r.host, gitCommit: r.gitCommit, ablateVersion: r.ablateVersion,
                  threads: r.threads, startedAt: r.startedAt, endedAt: r.endedAt, errorMessage: r.errorMessage,
                  checkpointPath: r.checkpointPath, dataAuditJSON: r.dataAuditJSON, claimToken: nil,
                  attempts: r.attempts, hardwareJSON: r.hardwareJSON, stoppedEarlyAt: r.stoppedEarlyAt,
                  initReportJSON: r.initReportJSON)
    }
}

extension EpochRow {
    init(runID: Int64, _ m: EpochMetrics, recordedAt: Date) {
        self.init(runID: runID, epoch: m.epoch, trainLoss: m.trainLoss, trainAcc: m.trainAccuracy,
                  testLoss: m.testLoss, testAcc: m.testAccuracy, learningRate: m.learningRate, seconds: m.seconds,
                  imagesPerSecond: m.imagesPerSecond, recordedAt: recordedAt, valLoss: m.validationLoss,
                  valAcc: m.validationAccuracy)
    }

    var record: EpochRecord {
        EpochRecord(runID: runID, metrics: EpochMetrics(
            epoch: epoch, trainLoss: trainLoss, trainAccuracy: trainAcc, testLoss: testLoss, testAccuracy: testAcc,
            learningRate: learningRate, seconds: seconds, imagesPerSecond: imagesPerSecond,
            validationLoss: valLoss, validationAccuracy: valAcc),
            recordedAt: recordedAt)
    }
}

extension PredictionRow {
    init(runID: Int64, kind: PredictionKind, epoch: Int, _ p: Prediction) {
        self.init(id: nil, runID: runID, kind: kind, epoch: epoch, file: p.file, label: p.label,
                  predicted: p.predicted, probabilities: p.probabilitiesText)
    }

    func prediction(store path: String) throws -> Prediction {
        try Prediction(file: file, label: label, probabilitiesText: probabilities, store: path)
    }
}

extension ExternalTestRow {
    init(runID: Int64, _ t: ExternalTest) {
        self.init(id: nil, runID: runID, name: t.name, weights: t.weights, epoch: t.epoch, directory: t.directory,
                  images: t.images, accuracy: t.accuracy, positiveClass: t.positiveClass,
                  sensitivity: t.sensitivity, specificity: t.specificity, rocAUC: t.rocAUC, auditJSON: t.auditJSON,
                  evaluatedAt: t.evaluatedAt)
    }

    func test(predictions: [Prediction]) -> ExternalTest {
        ExternalTest(name: name, weights: weights, epoch: epoch, directory: directory, accuracy: accuracy,
                     positiveClass: positiveClass, sensitivity: sensitivity, specificity: specificity, rocAUC: rocAUC,
                     auditJSON: auditJSON, evaluatedAt: evaluatedAt, predictions: predictions)
    }
}

extension ExternalPredictionRow {
    init(testID: Int64, _ p: Prediction) {
        self.init(testID: testID, file: p.file, label: p.label, predicted: p.predicted,
                  probabilities: p.probabilitiesText)
    }

    func prediction(store path: String) throws -> Prediction {
        try Prediction(file: file, label: label, probabilitiesText: probabilities, store: path)
    }
}
