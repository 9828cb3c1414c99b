import AblateCore
import Foundation
import GRDB
import XCTest
@testable import Store

/// Schema 6: validation metrics per epoch, the early-stop epoch, and `selected` weights; older stores migrate
/// with every row kept.
final class ValidationStoreTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-validation-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A schema-5 store with a finished run, its best/last predictions and an external test with predictions
    /// migrates to the current schema with every row, id and value unchanged; the new columns are empty and `selected` is accepted.
    func testAVersionFiveStoreMigratesWithEveryRow() throws {
        let path = dir.appendingPathComponent("v5.sqlite").path
        do {
            let raw = try DatabaseQueue(path: path)
            try raw.write { db in
                try db.execute(sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
                for m in RunStore.migrations.prefix(5) {
                    try m.apply(db)
                    try db.execute(sql: "INSERT INTO grdb_migrations VALUES (?)", arguments: [m.identifier])
                }
                try db.execute(sql: "PRAGMA application_id = \(RunStore.applicationID)")
                try db.execute(sql: """
                    INSERT INTO experiments (name, file_text, created, updated) VALUES ('old', 'x', '2026-11-01 00:00:00.000', '2026-11-01 00:00:00.000');
                    INSERT INTO runs (experiment_id, config_json, config_hash, label, seed, status, epochs_total, queued_at, attempts)
                      VALUES (1, '{"seed":1}', 'h', 'seed=1', 1, 'finished', 2, '2026-11-01 00:00:00.000', 1);
                    INSERT INTO epochs VALUES (1, 1, 0.7, 0.5, 0.6, 0.55, 0.001, 10, 5, '2026-11-01 00:00:01.000');
                    INSERT INTO epochs VALUES (1, 2, 0.5, 0.7, 0.5, 0.65, 0.001, 10, 5, '2026-11-01 00:00:02.000');
                    INSERT INTO predictions (id, run_id, kind, epoch, file, label, predicted, probabilities)
                      VALUES (7, 1, 'best', 2, 'a.png', 0, 0, '[0.9,0.1]'), (8, 1, 'last', 2, 'a.png', 0, 0, '[0.9,0.1]');
                    INSERT INTO external_tests (id, run_id, name, weights, epoch, directory, images, accuracy, audit_json, evaluated_at)
                      VALUES (3, 1, 'outside', 'last', 2, '/x', 1, 1.0, '{}', '2026-11-02 00:00:00.000');
                    INSERT INTO external_predictions VALUES (3, 'b.png', 1, 1, '[0.2,0.8]');
                    """)
            }
            try raw.close()
        }
        let store = try RunStore(path: path)
        XCTAssertEqual(try store.userVersion(), RunStore.schemaVersion)
        let run = try XCTUnwrap(store.listRuns().first?.run)
        XCTAssertNil(run.stoppedEarlyAt)
        let epochs = try store.epochs(runID: run.id).map(\.metrics)
        XCTAssertEqual(epochs.map(\.testAccuracy), [0.55, 0.65])
        XCTAssertEqual(epochs.map(\.validationLoss), [nil, nil])
        XCTAssertEqual(try store.predictions(runID: 1, kind: .best).map(\.prediction.probabilities), [[0.9, 0.1]])
        XCTAssertEqual(try store.predictions(runID: 1, kind: .last).count, 1)
        let ids = try store.read { db in try Int64.fetchAll(db, sql: "SELECT id FROM predictions ORDER BY id") }
        XCTAssertEqual(ids, [7, 8])
        let external = try store.externalTests(runID: 1)
        XCTAssertEqual(external.map(\.name), ["outside"])
        XCTAssertEqual(external.first?.predictions.map(\.file), ["b.png"], "external predictions survive the rebuilt table")
        // The rebuilt tables accept the third kind of weights.
        try store.write { db in
            try db.execute(sql: "INSERT INTO predictions (run_id, kind, epoch, file, label, predicted, probabilities) VALUES (1, 'selected', 1, 'a.png', 0, 0, '[0.6,0.4]')")
        }
        XCTAssertEqual(try store.predictions(runID: 1, kind: .selected).map(\.epoch), [1])
        var test = try XCTUnwrap(external.first)
        test.weights = .selected
        try store.recordExternalTest(runID: 1, test)
        XCTAssertEqual(Set(try store.externalTests(runID: 1).map(\.weights)), [.last, .selected])
        // Foreign keys still hold after the rebuild.
        let violations = try store.read { db in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check") }
        XCTAssertEqual(violations.count, 0)
    }

    /// Validation metrics and the stop epoch are stored, listed and exported only where a run has them (exports
    /// of runs without a validation part keep their form).
    func testValidationMetricsAndStopEpochRoundTrip() throws {
        let store = try RunStore(path: dir.appendingPathComponent("a.sqlite").path)
        let exp = try store.upsertExperiment(name: "demo", fileText: "x")
        _ = try store.enqueue(experimentID: exp, runs: [
            NewRun(configJSON: "{\"i\":1}", configHash: "h1", label: "with", seed: 1, epochsTotal: 10),
            NewRun(configJSON: "{\"i\":2}", configHash: "h2", label: "without", seed: 2, epochsTotal: 1),
        ])
        let first = try XCTUnwrap(store.claimNextRun(host: "h", staleAfter: 60))
        for e in 1...3 {
            try store.recordEpoch(first.lease, EpochMetrics(epoch: e, trainLoss: 0.5, trainAccuracy: 0.8, testLoss: 0.4,
                                                            testAccuracy: 0.85, learningRate: 0.001, seconds: 10,
                                                            imagesPerSecond: 5, validationLoss: 0.3 + Double(e) / 10,
                                                            validationAccuracy: 0.9 - Double(e) / 100))
        }
        try store.finish(first.lease, stoppedEarlyAt: 3)
        let second = try XCTUnwrap(store.claimNextRun(host: "h", staleAfter: 60))
        try store.recordEpoch(second.lease, EpochMetrics(epoch: 1, trainLoss: 0.5, trainAccuracy: 0.8, testLoss: 0.4,
                                                         testAccuracy: 0.85, learningRate: 0.001, seconds: 10, imagesPerSecond: 5))
        try store.finish(second.lease)

        let runs = try store.listRuns()
        XCTAssertEqual(runs.map(\.run.stoppedEarlyAt), [3, nil])
        XCTAssertEqual(try store.epochs(runID: runs[0].run.id).map(\.metrics.validationLoss), [0.4, 0.5, 0.6])
        let json = try store.exportJSON()
        let archive = try RunArchive(json: Data(json.utf8), source: "x.json")
        XCTAssertEqual(archive.runs.map(\.record.stoppedEarlyAt), [3, nil])
        XCTAssertEqual(archive.runs[0].epochs.map(\.metrics.validationAccuracy), [0.89, 0.88, 0.87])
        XCTAssertEqual(archive.runs[1].epochs.map(\.metrics.validationAccuracy), [nil])
        // The run without validation is written as before: no validation keys, no stop epoch.
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let without = try XCTUnwrap((doc["runs"] as? [[String: Any]])?.first { $0["label"] as? String == "without" })
        XCTAssertNil(without["stopped_early_at"])
        XCTAssertNil((without["epochs"] as? [[String: Any]])?.first?["val_loss"])
        let table = try store.exportTable(.epochs)
        XCTAssertEqual(Array(table.header.suffix(2)), ["val_loss", "val_acc"])
        XCTAssertEqual(table.rows.first?.suffix(2).map { $0 }, ["0.4", "0.89"])
    }
}

/// Every column of `runs` and `epochs` is exported and merged through the one list of fields, except the columns
/// that belong to one store: a column added to a table and not to the list fails here.
final class ExportFieldsTests: XCTestCase {
    func testEveryColumnIsAnExportFieldOrStoreLocal() {
        let storeLocal: Set<String> = ["experiment_id", "claim_token", "lease_holder", "hardware_json"]
        let runKeys = Set(RunRecord.exportFields.map(\.key))
        for column in RunRow.Columns.allCases.map(\.rawValue) where !storeLocal.contains(column) {
            XCTAssertTrue(runKeys.contains(column), "runs.\(column) is neither exported nor store-local")
        }
        XCTAssertTrue(runKeys.contains("machines"), "hardware_json is exported as `machines`")
        let epochKeys = Set(EpochMetrics.exportFields.map(\.key))
        for column in EpochRow.Columns.allCases.map(\.rawValue) where column != "run_id" {
            XCTAssertTrue(epochKeys.contains(column), "epochs.\(column) is not exported")
        }
    }
}
