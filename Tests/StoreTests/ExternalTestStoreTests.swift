import AblateCore
import Foundation
import GRDB
import XCTest
@testable import Store

/// `ablate evaluate` results in the store: schema v3, replace-on-re-evaluate, export document and merge.
extension StoreTests {
    func sampleExternalTest(name: String = "heldout", weights: PredictionKind = .last, accuracy: Double = 0.5) -> ExternalTest {
        ExternalTest(name: name, weights: weights, epoch: 3, directory: "/data/\(name)", accuracy: accuracy,
                     positiveClass: "Monkeypox", sensitivity: 1, specificity: 0, rocAUC: nil,
                     auditJSON: "{\"train_files\":10}", evaluatedAt: Date(timeIntervalSince1970: 1_800_000_123.5),
                     predictions: [Prediction(file: "/data/\(name)/b/2.jpg", label: 1, probabilities: [0.375, 0.625]),
                                   Prediction(file: "/data/\(name)/a/1.jpg", label: 0, probabilities: [0.25, 0.75])])
    }

    /// A finished run holding two external results, in a new store.
    func storeWithExternalTests(_ name: String) throws -> (RunStore, Int64) {
        let store = try RunStore(path: dbPath(name))
        let exp = try store.upsertExperiment(name: "demo", fileText: "x")
        _ = try store.enqueue(experimentID: exp, runs: newRuns(1, epochs: 1))
        let c = try XCTUnwrap(store.claimNextRun(host: "h", staleAfter: 60))
        try store.recordEpoch(c.lease, EpochMetrics(epoch: 1, trainLoss: 1, trainAccuracy: 0.5, testLoss: 1, testAccuracy: 0.5,
                                                    learningRate: 0.1, seconds: 1, imagesPerSecond: 1))
        try store.finish(c.lease)
        try store.recordExternalTest(runID: c.run.id, sampleExternalTest(accuracy: 0.25))
        try store.recordExternalTest(runID: c.run.id, sampleExternalTest())  // replaces the first
        try store.recordExternalTest(runID: c.run.id, sampleExternalTest(weights: .best))
        return (store, c.run.id)
    }

    func testExternalTestsAreStoredReplacedAndReadBack() throws {
        let (store, id) = try storeWithExternalTests("ext.sqlite")
        let back = try store.externalTests(runID: id)
        XCTAssertEqual(back.map(\.weights), [.best, .last])
        XCTAssertEqual(back[1].accuracy, 0.5, "evaluating again replaces the earlier result")
        XCTAssertEqual(back[1].predictions.map(\.file), ["/data/heldout/a/1.jpg", "/data/heldout/b/2.jpg"])
        XCTAssertEqual(back[1].predictions[1].probabilities, [0.375, 0.625])
        XCTAssertNil(back[1].rocAUC)
        let rows = try DatabaseQueue(path: dbPath("ext.sqlite")).read {
            try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM external_predictions")
        }
        XCTAssertEqual(rows, 4, "replaced predictions are deleted with their result")
        expectStoreError(try store.recordExternalTest(runID: 99, sampleExternalTest())) { error in
            XCTAssertEqual(error, .unknownRun(id: 99))
        }
    }

    /// A store written before external tests (schema v2) gains the tables and keeps its runs.
    func testVersionTwoStoreGainsExternalTestTables() throws {
        let path = dbPath()
        do {
            let raw = try DatabaseQueue(path: path)
            try raw.write { db in
                try db.execute(sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
                for m in RunStore.migrations.prefix(2) {
                    try m.apply(db)
                    try db.execute(sql: "INSERT INTO grdb_migrations VALUES (?)", arguments: [m.identifier])
                }
            }
            try raw.close()
        }
        XCTAssertEqual(try DatabaseQueue(path: path).read { try Int.fetchOne($0, sql: "PRAGMA user_version") }, 2)
        let store = try RunStore(path: path)
        XCTAssertEqual(try store.userVersion(), RunStore.schemaVersion)
        XCTAssertEqual(try store.appliedMigrations().prefix(3).last, "v3: external tests")
        let exp = try store.upsertExperiment(name: "demo", fileText: "x")
        _ = try store.enqueue(experimentID: exp, runs: newRuns(1))
        try store.recordExternalTest(runID: try store.listRuns()[0].run.id, sampleExternalTest())
    }

    /// The export document carries external results; merging it reproduces them, and merging into a store that
    /// already has the finished run adds only the results it lacks.
    func testExternalTestsTravelThroughExportAndMerge() throws {
        let (store, id) = try storeWithExternalTests("a.sqlite")
        let json = try store.exportJSON()
        XCTAssertTrue(json.contains("\"external_tests\""))
        let archive = try RunArchive(json: Data(json.utf8), source: "runs.json")
        XCTAssertEqual(archive.runs[0].externalTests, try store.externalTests(runID: id))

        let target = try RunStore(path: dbPath("b.sqlite"))
        _ = try target.merge([("runs.json", archive)], includeUnfinished: false, sameDefinition: { $0 == $1 })
        let merged = try XCTUnwrap(target.listRuns().first)
        XCTAssertEqual(try target.externalTests(runID: merged.run.id), try store.externalTests(runID: id))

        // The same run evaluated on another folder elsewhere: merging adds that result, keeps the others.
        var more = archive
        more.runs[0].externalTests = [sampleExternalTest(name: "clinic-b")]
        let summary = try target.merge([("more.json", more)], includeUnfinished: false, sameDefinition: { $0 == $1 })
        XCTAssertEqual(summary.entries.map(\.action), [.keptFinished(identical: true)])
        XCTAssertEqual(try target.externalTests(runID: merged.run.id).map(\.name), ["clinic-b", "heldout", "heldout"])
        _ = try target.merge([("runs.json", archive)], includeUnfinished: false, sameDefinition: { $0 == $1 })
        XCTAssertEqual(try target.externalTests(runID: merged.run.id).count, 3, "merging again changes nothing")
    }

    func testArchiveWithBadExternalWeightsIsRefused() throws {
        let (store, _) = try storeWithExternalTests("c.sqlite")
        let json = try store.exportJSON().replacingOccurrences(of: "\"weights\": \"best\"", with: "\"weights\": \"middle\"")
        XCTAssertTrue(json.contains("middle"))
        expectStoreError(try RunArchive(json: Data(json.utf8), source: "runs.json")) { error in
            XCTAssertTrue(error.description.contains("unknown weights 'middle'"), error.description)
        }
    }
}

extension StoreTests {
    /// A store written before external tests (schema v2) opened read-only — a merge source, never migrated —
    /// archives its runs with no external results instead of failing on the missing table.
    func testReadOnlyVersionTwoStoreArchivesWithoutExternalTests() throws {
        let (store, _) = try storeWithExternalTests("old.sqlite")
        try store.close()
        let raw = try DatabaseQueue(path: dbPath("old.sqlite"))
        try raw.write { db in
            try db.execute(sql: "DROP TABLE external_predictions; DROP TABLE external_tests; PRAGMA user_version = 2")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = ?", arguments: [RunStore.migrations[2].identifier])
        }
        try raw.close()
        let source = try RunStore(readingOnly: dbPath("old.sqlite"))
        let archive = try source.archive()
        XCTAssertEqual(archive.runs.count, 1)
        XCTAssertTrue(archive.runs[0].externalTests.isEmpty)
        let target = try RunStore(path: dbPath("new.sqlite"))
        let summary = try target.merge([("old.sqlite", archive)], includeUnfinished: false, sameDefinition: { $0 == $1 })
        XCTAssertEqual(summary.entries.map(\.action), [.added])
        XCTAssertEqual(try DatabaseQueue(path: dbPath("old.sqlite")).read { try Int.fetchOne($0, sql: "PRAGMA user_version") }, 2,
                       "the source is not migrated")
    }
}
