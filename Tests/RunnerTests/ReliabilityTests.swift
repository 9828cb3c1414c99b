import Foundation
import Store
import XCTest

/// Reliability with the real binary: a runs folder from another store, many processes on a new store.
extension EndToEndTests {
    /// Deleting the database to start over leaves the runs folder: the new store's run 1 must not resume from the
    /// old store's run-1 checkpoint. The foreign checkpoint is moved aside with a message and the run starts fresh.
    func testForeignCheckpointIsSetAsideAndTheRunStartsFresh() throws {
        let file = try writeExperiment("foreign", epochs: 2, matrix: "  seed: [5]", perClass: 8)
        let first = try run(["run", file, "--db", "old.sqlite"])
        XCTAssertEqual(first.status, 0, first.output)
        let expected = try epochs("old.sqlite")
        XCTAssertEqual(expected.count, 2)
        let runDir = dir.appendingPathComponent("runs/foreign/run-1")
        XCTAssertTrue(FileManager.default.fileExists(atPath: runDir.appendingPathComponent("checkpoint.safetensors").path))

        try FileManager.default.removeItem(at: dir.appendingPathComponent("old.sqlite"))
        let again = try run(["run", file, "--db", "old.sqlite"])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertFalse(again.output.contains("resuming after epoch"), again.output)
        XCTAssertTrue(again.output.contains("belongs to another run store"), again.output)
        let moved = try FileManager.default.contentsOfDirectory(atPath: runDir.path)
            .filter { $0.hasPrefix("checkpoint.safetensors.foreign-") }
        XCTAssertEqual(moved.count, 1, "the old checkpoint is kept, renamed aside")
        XCTAssertTrue(again.output.contains(moved.first ?? "?"), "the message says where it went: \(again.output)")
        // The run was trained again from scratch in the new store: every epoch is recorded, bit-identical.
        XCTAssertEqual(try epochs("old.sqlite").map { $0.map(\.bitPattern) }, expected.map { $0.map(\.bitPattern) })
    }
}

extension EndToEndTests {
    /// Eight `ablate run` processes started at once on a database that does not exist yet: one creates the store
    /// (schema and marker in one transaction), the others wait for it; none calls it another program's file.
    func testEightProcessesCreateOneStoreTogether() throws {
        let file = try writeExperiment("crowd", epochs: 1, matrix: "  seed: [1, 2, 3, 4, 5, 6, 7, 8]", perClass: 8)
        XCTAssertEqual(try run(["data", "synth", "--out", dir.appendingPathComponent("data").path, "--classes", "2",
                                "--per-class", "8", "--size", "32", "--seed", "0"]).status, 0)
        for trial in 1...4 {
            let db = "crowd-\(trial).sqlite"
            let logs = (0..<8).map { dir.appendingPathComponent("crowd-\(trial)-\($0).log") }
            let processes = try logs.map { try start(["run", file, "--db", db, "--runs-dir", "runs-\(trial)"], output: $0) }
            for p in processes { p.waitUntilExit() }
            for (p, log) in zip(processes, logs) {
                let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                XCTAssertEqual(p.terminationStatus, 0, "trial \(trial): \(output)")
            }
            let store = try RunStore(path: dir.appendingPathComponent(db).path, create: false)
            let runs = try store.listRuns()
            XCTAssertEqual(runs.count, 8)
            XCTAssertEqual(Set(runs.map(\.run.status)), [.finished], "trial \(trial)")
            XCTAssertEqual(runs.map(\.run.attempts), Array(repeating: 1, count: 8), "trial \(trial)")
        }
    }
}
