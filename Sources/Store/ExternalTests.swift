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
        try read { db in try RunStore.fetchExternalTests(db, runID: runID) }
    }

    /// Inserts one result; with `replacing` false an existing (run, name, weights) row is kept (merge).
    /// Returns whether a row was written.
    @discardableResult
    static func writeExternalTest(_ db: Database, runID: Int64, _ t: ExternalTest, replacing: Bool) throws -> Bool {
        let existing = try Int64.fetchOne(db, sql: "SELECT id FROM external_tests WHERE run_id = ? AND name = ? AND weights = ?",
                                          arguments: [runID, t.name, t.weights.rawValue])
        if let existing {
            guard replacing else { return false }
            try db.execute(sql: "DELETE FROM external_tests WHERE id = ?", arguments: [existing])
        }
        try db.execute(sql: """
            INSERT INTO external_tests(run_id, name, weights, epoch, directory, images, accuracy, positive_class,
                sensitivity, specificity, roc_auc, audit_json, evaluated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [runID, t.name, t.weights.rawValue, t.epoch, t.directory, t.images, t.accuracy,
                             t.positiveClass, t.sensitivity, t.specificity, t.rocAUC, t.auditJSON, t.evaluatedAt])
        let testID = db.lastInsertedRowID
        let statement = try db.makeStatement(sql: """
            INSERT INTO external_predictions(test_id, file, label, predicted, probabilities) VALUES (?, ?, ?, ?, ?)
            """)
        for p in t.predictions {
            let probabilities = JSONValue.array(p.probabilities.map { .double($0) }).canonical
            try statement.execute(arguments: [testID, p.file, p.label, p.predicted, probabilities])
        }
        return true
    }

    static func fetchExternalTests(_ db: Database, runID: Int64) throws -> [ExternalTest] {
        try Row.fetchAll(db, sql: "SELECT * FROM external_tests WHERE run_id = ? ORDER BY name, weights",
                         arguments: [runID]).map { row in
            let id: Int64 = row["id"]
            let predictions = try Row.fetchAll(db, sql: """
                SELECT file, label, probabilities FROM external_predictions WHERE test_id = ? ORDER BY file
                """, arguments: [id]).map { p in
                let text: String = p["probabilities"]
                return Prediction(file: p["file"], label: p["label"],
                                  probabilities: (try? JSONDecoder().decode([Double].self, from: Data(text.utf8))) ?? [])
            }
            return ExternalTest(name: row["name"], weights: PredictionKind(rawValue: row["weights"]) ?? .last,
                                epoch: row["epoch"], directory: row["directory"], accuracy: row["accuracy"],
                                positiveClass: row["positive_class"], sensitivity: row["sensitivity"],
                                specificity: row["specificity"], rocAUC: row["roc_auc"], auditJSON: row["audit_json"],
                                evaluatedAt: row["evaluated_at"], predictions: predictions)
        }
    }
}
