import AblateCore
import Foundation
import GRDB
import XCTest
@testable import Store

/// Each run records the machines it trained on; exports and merges carry them; older stores read without them.
final class MachineStoreTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-machine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    let epyc = Machine(cpu: "AMD EPYC 7B13", isa: "avx2", logicalCPUs: 2, threads: 2, memoryGiB: 23.4,
                       onednn: "3.2.0", openblas: "0.3.21 Zen", backend: "onednn")
    let xeon = Machine(cpu: "Intel(R) Xeon(R) Platinum 8481C", isa: "avx512+bf16", logicalCPUs: 4, threads: 4,
                       memoryGiB: 31, onednn: "2.6.3", openblas: nil, backend: "onednn+winograd")

    func newRun(_ i: Int) -> NewRun {
        NewRun(configJSON: "{\"i\":\(i)}", configHash: "hash-\(i)", label: "run \(i)", seed: i, epochsTotal: 2)
    }

    func epoch(_ e: Int) -> EpochMetrics {
        EpochMetrics(epoch: e, trainLoss: 0.5, trainAccuracy: 0.8, testLoss: 0.4, testAccuracy: 0.85,
                     learningRate: 0.001, seconds: 10, imagesPerSecond: 5)
    }

    func testAResumeOnTheSameMachineAddsNothingAndAnotherMachineIsAppended() throws {
        let store = try RunStore(path: dir.appendingPathComponent("a.sqlite").path)
        let exp = try store.upsertExperiment(name: "demo", fileText: "x")
        _ = try store.enqueue(experimentID: exp, runs: [newRun(1)])
        var claim = try XCTUnwrap(store.claimNextRun(host: "h", staleAfter: 60))
        XCTAssertEqual(try store.listRuns()[0].run.machines(), [], "nothing recorded before the trainer says")
        try store.recordMachine(claim.lease, epyc)
        try store.recordEpoch(claim.lease, epoch(1))
        try store.interrupt(claim.lease)
        _ = try store.enqueue(experimentID: exp, runs: [newRun(1)])   // as `ablate run` does: requeues it

        claim = try XCTUnwrap(store.claimNextRun(host: "h", staleAfter: 60))
        try store.recordMachine(claim.lease, epyc)
        XCTAssertEqual(try store.listRuns()[0].run.machines(), [epyc])
        try store.interrupt(claim.lease)
        _ = try store.enqueue(experimentID: exp, runs: [newRun(1)])

        claim = try XCTUnwrap(store.claimNextRun(host: "other", staleAfter: 60))
        try store.recordMachine(claim.lease, xeon)
        try store.recordEpoch(claim.lease, epoch(2))
        try store.finish(claim.lease)
        let run = try store.listRuns()[0].run
        XCTAssertEqual(try run.machines(), [epyc, xeon])
        XCTAssertEqual(run.threads, 4, "threads are the current machine's")

        // status --json and export carry the list as objects with snake_case keys.
        let summary = RunStore.summaryJSON(try store.listRuns()[0])
        let text = JSONValue.object(summary).canonical
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let machines = try XCTUnwrap(object["machines"] as? [[String: Any]])
        XCTAssertEqual(machines.map { $0["isa"] as? String }, ["avx2", "avx512+bf16"])
        XCTAssertEqual(machines[0]["logical_cpus"] as? Int, 2)
        XCTAssertEqual(machines[0]["memory_gib"] as? Double, 23.4)
        XCTAssertTrue(machines[1]["openblas"] is NSNull)

        // Export → merge into an empty store keeps them exactly.
        let json = try store.exportJSON()
        let archive = try RunArchive(json: Data(json.utf8), source: "export.json")
        let target = try RunStore(path: dir.appendingPathComponent("merged.sqlite").path)
        _ = try target.merge([("export.json", archive)], includeUnfinished: true, sameDefinition: { $0 == $1 })
        XCTAssertEqual(try target.listRuns()[0].run.machines(), [epyc, xeon])
    }

    /// A store written before machines were recorded (schema 4) migrates; its runs have none and still export.
    func testAVersionFourStoreReadsWithoutMachines() throws {
        let path = dir.appendingPathComponent("v4.sqlite").path
        do {
            let raw = try DatabaseQueue(path: path)
            try raw.write { db in
                try db.execute(sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
                for m in RunStore.migrations.prefix(4) {
                    try m.apply(db)
                    try db.execute(sql: "INSERT INTO grdb_migrations VALUES (?)", arguments: [m.identifier])
                }
                try db.execute(sql: "PRAGMA application_id = \(RunStore.applicationID)")
                try db.execute(sql: """
                    INSERT INTO experiments (name, file_text, created, updated) VALUES ('old', 'x', '2026-11-01 00:00:00.000', '2026-11-01 00:00:00.000');
                    INSERT INTO runs (experiment_id, config_json, config_hash, label, seed, status, epochs_total, queued_at, host, ablate_version, threads, attempts)
                      VALUES (1, '{"seed":1}', 'h', 'seed=1', 1, 'finished', 1, '2026-11-01 00:00:00.000', 'old-host', '0.1.0 (onednn+winograd)', 2, 1);
                    """)
            }
            XCTAssertFalse(try raw.read { db in try db.columns(in: "runs").map(\.name) }.contains("hardware_json"))
            try raw.close()
        }
        let store = try RunStore(path: path)
        XCTAssertEqual(try store.userVersion(), RunStore.schemaVersion)
        let run = try XCTUnwrap(store.listRuns().first?.run)
        XCTAssertEqual(run.host, "old-host")
        XCTAssertEqual(try run.machines(), [])
        let archive = try RunArchive(json: Data(try store.exportJSON().utf8), source: "old.json")
        XCTAssertEqual(try archive.runs.first?.record.machines(), [])
    }

    /// A damaged machines column is an error naming the run, never an empty list.
    func testDamagedMachinesAreAnErrorNamingTheRun() throws {
        let store = try RunStore(path: dir.appendingPathComponent("d.sqlite").path)
        let exp = try store.upsertExperiment(name: "demo", fileText: "x")
        _ = try store.enqueue(experimentID: exp, runs: [newRun(1)])
        try store.write { db in try db.execute(sql: "UPDATE runs SET hardware_json = '{\"cpu\": 1}'") }
        XCTAssertThrowsError(try store.listRuns()[0].run.machines()) { error in
            XCTAssertTrue("\(error)".contains("run 1 (run 1)"), "\(error)")
        }
    }
}
