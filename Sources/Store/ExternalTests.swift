import AblateCore
import Foundation
import GRDB

/// A finished run's weights scored on a labelled image folder outside its split (`ablate evaluate`).
public struct ExternalTest: Equatable, Sendable {
    /// The test set's name: the folder's name unless the user gave one. One result per (run, name, weights).
    public var name: String
    /// Which weights: the last epoch's (`last`) or the best epoch's (`best`).
    public var weights: PredictionKind
    /// The epoch the weights come from (1-based).
    public var epoch: Int
    /// The folder as evaluated (absolute path).
    public var directory: String
    /// Fraction of `predictions` whose arg-max is the label.
    public var accuracy: Double
    /// Positive-vs-rest metrics as `evaluate` printed them (nil when undefined, or with more than two classes).
    public var positiveClass: String?
    public var sensitivity: Double?
    public var specificity: Double?
    public var rocAUC: Double?
    /// The leakage audit of the folder against the run's training files, as JSON (opaque to the store).
    public var auditJSON: String
    public var evaluatedAt: Date
    /// One row per image, labels in the run's class order.
    public var predictions: [Prediction]

    public init(name: String, weights: PredictionKind, epoch: Int, directory: String, accuracy: Double,
                positiveClass: String?, sensitivity: Double?, specificity: Double?, rocAUC: Double?,
                auditJSON: String, evaluatedAt: Date, predictions: [Prediction]) {
        self.name = name; self.weights = weights; self.epoch = epoch; self.directory = directory
        self.accuracy = accuracy; self.positiveClass = positiveClass; self.sensitivity = sensitivity
        self.specificity = specificity; self.rocAUC = rocAUC; self.auditJSON = auditJSON
        self.evaluatedAt = evaluatedAt; self.predictions = predictions
    }

    /// The number of images scored.
    public var images: Int { predictions.count }
}

extension RunStore {
    /// Stores `test` for run `runID`, replacing an earlier result of the same name and weights (evaluating again,
    /// e.g. after the folder changed, keeps the newest). One transaction.
    public func recordExternalTest(runID: Int64, _ test: ExternalTest) throws {
        try write { db in
            _ = try RunStore.fetchRun(db, id: runID)
            try RunStore.writeExternalTest(db, runID: runID, test, replacing: true)
        }
    }

    /// The run's external test results, by name then weights (`best` before `last`).
    public func externalTests(runID: Int64) throws -> [ExternalTest] {
        try read { db in try RunStore.fetchExternalTests(db, runID: runID, store: self.path) }
    }

    /// Inserts one result; with `replacing` false an existing (run, name, weights) row is kept (merge).
    /// Returns whether a row was written.
    @discardableResult
    static func writeExternalTest(_ db: Database, runID: Int64, _ t: ExternalTest, replacing: Bool) throws -> Bool {
        typealias C = ExternalTestRow.Columns
        let existing = ExternalTestRow
            .filter(C.runID == runID && C.name == t.name && C.weights == t.weights.rawValue)
        if try existing.fetchCount(db) > 0 {
            guard replacing else { return false }
            try existing.deleteAll(db)  // its predictions go with it (ON DELETE CASCADE)
        }
        var test = ExternalTestRow(runID: runID, t)
        try test.insert(db)
        for p in t.predictions { try ExternalPredictionRow(testID: test.id!, p).insert(db) }
        return true
    }

    static func fetchExternalTests(_ db: Database, runID: Int64, store path: String) throws -> [ExternalTest] {
        // A store written before schema v3, opened read-only (a merge source, `status --dir`), has no such table:
        // it holds no external results.
        guard try db.tableExists(ExternalTestRow.databaseTableName) else { return [] }
        return try ExternalTestRow
            .filter(ExternalTestRow.Columns.runID == runID)
            .order(ExternalTestRow.Columns.name, ExternalTestRow.Columns.weights)
            .fetchAll(db)
            .map { test in
                let predictions = try ExternalPredictionRow
                    .filter(ExternalPredictionRow.Columns.testID == test.id!)
                    .order(ExternalPredictionRow.Columns.file)
                    .fetchAll(db)
                return test.test(predictions: try predictions.map { try $0.prediction(store: path) })
            }
    }
}
