import AblateCore
import Foundation
import GRDB
import XCTest
@testable import Store

/// A mutable clock shared by stores in one test.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value = Date(timeIntervalSince1970: 1_800_000_000)
    var now: Date { lock.lock(); defer { lock.unlock() }; return value }
    func advance(_ seconds: TimeInterval) { lock.lock(); value += seconds; lock.unlock() }
}

final class StoreTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func dbPath(_ name: String = "ablate.sqlite") -> String { dir.appendingPathComponent(name).path }

    func newRuns(_ n: Int, epochs: Int = 3) -> [NewRun] {
        (0..<n).map { i in
            NewRun(configJSON: "{\"i\":\(i)}", configHash: String(repeating: "\(i % 10)", count: 8) + "-\(i)",
                   label: "run \(i)", seed: i, epochsTotal: epochs)
        }
    }

    func expectStoreError<T>(_ body: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line,
                          _ check: (StoreError) -> Void) {
        do {
            _ = try body()
            XCTFail("expected a StoreError", file: file, line: line)
        } catch let error as StoreError {
            check(error)
        } catch {
            XCTFail("expected a StoreError, got \(error)", file: file, line: line)
        }
    }

    // MARK: schema

    func testCreatesSchemaAndReopens() throws {
        let path = dir.appendingPathComponent("nested/deeper/ablate.sqlite").path
        do {
            let store = try RunStore(path: path)
            XCTAssertEqual(try store.userVersion(), RunStore.schemaVersion)
            XCTAssertEqual(try store.appliedMigrations().count, RunStore.migrations.count)
            let exp = try store.upsertExperiment(name: "demo", fileText: "name: demo\n")
            _ = try store.enqueue(experimentID: exp, runs: newRuns(2))
            try store.close()
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: path))
        let again = try RunStore(path: path)
        XCTAssertEqual(try again.userVersion(), RunStore.schemaVersion)
        XCTAssertEqual(try again.listRuns().count, 2)
        let journal = try again.dbQueue.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        XCTAssertEqual(journal, "wal")
        let appID = try again.dbQueue.read { try Int32.fetchOne($0, sql: "PRAGMA application_id") }
        XCTAssertEqual(appID, RunStore.applicationID)
    }

    func testMissingWhenNotCreating() {
        let path = dbPath("absent.sqlite")
        expectStoreError(try RunStore(path: path, create: false)) { error in
            XCTAssertEqual(error, .missing(path: path))
            XCTAssertTrue(error.description.contains("ablate run"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testEmptyFileIsInitialised() throws {
        let path = dbPath()
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        let store = try RunStore(path: path)
        XCTAssertEqual(try store.userVersion(), RunStore.schemaVersion)
    }

    func testNewerSchemaIsRefusedAndLeftUntouched() throws {
        let path = dbPath()
        try RunStore(path: path).close()
        do {
            let raw = try DatabaseQueue(path: path)
            try raw.write { try $0.execute(sql: "PRAGMA user_version = \(RunStore.schemaVersion + 1)") }
            try raw.close()
        }
        expectStoreError(try RunStore(path: path)) { error in
            XCTAssertEqual(error, .newerSchema(path: path, found: RunStore.schemaVersion + 1, supported: RunStore.schemaVersion))
            XCTAssertTrue(error.description.contains("upgrade ablate"), error.description)
        }
        let version = try DatabaseQueue(path: path).read { try Int.fetchOne($0, sql: "PRAGMA user_version") }
        XCTAssertEqual(version, RunStore.schemaVersion + 1)
    }

    func testUnknownMigrationCountsAsNewerSchema() throws {
        let path = dbPath()
        try RunStore(path: path).close()
        do {
            let raw = try DatabaseQueue(path: path)
            try raw.write { try $0.execute(sql: "INSERT INTO grdb_migrations(identifier) VALUES ('v9: future')") }
            try raw.close()
        }
        expectStoreError(try RunStore(path: path)) { error in
            guard case .newerSchema = error else { return XCTFail("\(error)") }
        }
    }

    func testTextFileIsNotAnAblateDatabase() throws {
        let path = dbPath("notes.sqlite")
        let text = "name: demo\nthis is not a database\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        expectStoreError(try RunStore(path: path)) { error in
            guard case let .notAnAblateDatabase(p, reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(p, path)
            XCTAssertTrue(reason.contains("SQLite header"), reason)
            XCTAssertTrue(error.description.contains("--db"), error.description)
        }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), text)
    }

    func testForeignSQLiteIsRefusedAndLeftUntouched() throws {
        let path = dbPath("other.sqlite")
        do {
            let raw = try DatabaseQueue(path: path)
            try raw.write { try $0.execute(sql: "CREATE TABLE songs(id INTEGER PRIMARY KEY, title TEXT)") }
            try raw.close()
        }
        expectStoreError(try RunStore(path: path)) { error in
            guard case let .notAnAblateDatabase(_, reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("songs"), reason)
        }
        let raw = try DatabaseQueue(path: path)
        let tables = try raw.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type='table'") }
        XCTAssertEqual(tables, ["songs"])
        XCTAssertEqual(try raw.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }, "delete")
    }

    func testRandomBytesAreRefused() throws {
        var rng = SystemRandomNumberGenerator()
        let garbage = Data((0..<8192).map { _ in UInt8.random(in: 0...255, using: &rng) })
        let path = dbPath("random.sqlite")
        try garbage.write(to: URL(fileURLWithPath: path))
        expectStoreError(try RunStore(path: path)) { error in
            guard case .notAnAblateDatabase = error else { return XCTFail("\(error)") }
        }
        // A valid header followed by garbage: SQLite itself must reject it.
        let corrupt = dbPath("corrupt.sqlite")
        try (Data("SQLite format 3\u{0}".utf8) + garbage).write(to: URL(fileURLWithPath: corrupt))
        expectStoreError(try RunStore(path: corrupt)) { error in
            guard case let .notAnAblateDatabase(_, reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("corrupt"), reason)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), garbage)
    }

    /// Damages the b-tree page at the root of `table` in the closed store at `path` (its page header is overwritten).
    static func damage(table: String, in path: String) throws {
        let (root, pageSize) = try DatabaseQueue(path: path).read { db in
            (try Int.fetchOne(db, sql: "SELECT rootpage FROM sqlite_master WHERE name = ?", arguments: [table])!,
             try Int.fetchOne(db, sql: "PRAGMA page_size")!)
        }
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64((root - 1) * pageSize + 1))
        try handle.write(contentsOf: Data(repeating: 0xFF, count: 64))
        try handle.close()
    }

    /// A store with a damaged page is refused on opening, with the command that recovers it; nothing is written.
    func testDamagedStoreIsRefusedWithRecoveryAdvice() throws {
        let path = dbPath()
        do {
            let store = try RunStore(path: path)
            let exp = try store.upsertExperiment(name: "demo", fileText: "x")
            _ = try store.enqueue(experimentID: exp, runs: newRuns(3))
            try store.close()
        }
        try Self.damage(table: "runs", in: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        expectStoreError(try RunStore(path: path)) { error in
            guard case let .corrupt(p, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(p, path)
            XCTAssertTrue(error.description.contains("sqlite3 \(path) \".recover\" | sqlite3 \(path).recovered"),
                          error.description)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
    }

    func testUnwritablePath() throws {
        // Works as root too: the "folder" is a regular file, so nothing can be created below it.
        let blocker = dbPath("plain-file")
        try "x".write(toFile: blocker, atomically: true, encoding: .utf8)
        let path = blocker + "/runs/ablate.sqlite"
        expectStoreError(try RunStore(path: path)) { error in
            guard case let .notWritable(p, reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(p, path)
            XCTAssertTrue(reason.contains("cannot create the folder"), reason)
            XCTAssertTrue(error.description.contains("--db PATH"))
        }
        expectStoreError(try RunStore(path: dir.path)) { error in
            guard case .notWritable = error else { return XCTFail("\(error)") }
        }
    }

    // MARK: queue

    /// `ablate run --only …` claims only its selection; other queued runs stay queued for other processes.
    func testClaimRestrictedToConfigHashes() throws {
        let store = try RunStore(path: dbPath())
        let exp = try store.upsertExperiment(name: "demo", fileText: "a")
        let runs = newRuns(3)
        _ = try store.enqueue(experimentID: exp, runs: runs)
        let claim = try XCTUnwrap(store.claimNextRun(host: "h", staleAfter: 60, configHashes: [runs[2].configHash]))
        XCTAssertEqual(claim.run.configHash, runs[2].configHash)
        XCTAssertNil(try store.claimNextRun(host: "h", staleAfter: 60, configHashes: [runs[2].configHash]))
        XCTAssertNil(try store.claimNextRun(host: "h", staleAfter: 60, configHashes: []))
        XCTAssertEqual(try store.listRuns().map(\.run.status), [.queued, .queued, .running])
    }

    func testEnqueueDedupesByConfigHash() throws {
        let store = try RunStore(path: dbPath())
        let exp = try store.upsertExperiment(name: "demo", fileText: "a")
        XCTAssertEqual(try store.upsertExperiment(name: "demo", fileText: "b"), exp)
        XCTAssertEqual(try store.experiments().map(\.fileText), ["b"])

        let runs = newRuns(4)
        let first = try store.enqueue(experimentID: exp, runs: runs)
        XCTAssertEqual(first.inserted.count, 4)
        let second = try store.enqueue(experimentID: exp, runs: runs)
        XCTAssertEqual(second.inserted, [])
        XCTAssertEqual(second.skipped.map(\.status), [.queued, .queued, .queued, .queued])
        XCTAssertEqual(try store.listRuns().count, 4)

        // finish run 1, fail run 2, interrupt run 3
        let c1 = try XCTUnwrap(store.claimNextRun(host: "h", staleAfter: 60))
        try store.finish(c1.lease)
        let c2 = try XCTUnwrap(store.claimNextRun(host: "h", staleAfter: 60))
        try store.fail(c2.lease, message: "out of memory")
        let c3 = try XCTUnwrap(store.claimNextRun(host: "h", staleAfter: 60))
        try store.recordEpoch(c3.lease, EpochMetrics(epoch: 1, trainLoss: 1, trainAccuracy: 0.5, testLoss: 1,
                                                     testAccuracy: 0.5, learningRate: 0.1, seconds: 1,
                                                     imagesPerSecond: 10))
        try store.interrupt(c3.lease)

        let third = try store.enqueue(experimentID: exp, runs: runs)
        XCTAssertEqual(third.inserted, [])
        XCTAssertEqual(third.requeued, [c3.run.id])
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: third.skipped.map { ($0.id, $0.status) }),
                       [c1.run.id: .finished, c2.run.id: .failed, first.inserted[3]: .queued])
        let retry = try store.enqueue(experimentID: exp, runs: runs, retryFailed: true)
        XCTAssertEqual(retry.requeued, [c2.run.id])
        XCTAssertTrue(retry.skipped.contains { $0.id == c1.run.id && $0.status == .finished })
        XCTAssertEqual(try store.run(id: c1.run.id).status, .finished)

        // The interrupted run resumes with its epoch.
        let next = try XCTUnwrap(store.claimNextRun(host: "h", staleAfter: 60))
        XCTAssertEqual(next.run.id, c2.run.id)  // lower id first among queued
        let resumed = try XCTUnwrap(store.claimNextRun(host: "h", staleAfter: 60))
        XCTAssertEqual(resumed.run.id, c3.run.id)
        XCTAssertTrue(resumed.isResume)
        XCTAssertEqual(resumed.epochsDone, 1)

        // Same hash in another experiment is a different run.
        let other = try store.upsertExperiment(name: "other", fileText: "c")
        XCTAssertEqual(try store.enqueue(experimentID: other, runs: Array(runs.prefix(1))).inserted.count, 1)
    }

    func testPruneQueuedDropsOnlyNeverStartedLeftovers() throws {
        let store = try RunStore(path: dbPath())
        let exp = try store.upsertExperiment(name: "demo", fileText: "v1")
        let v1 = newRuns(4)
        let ids = try store.enqueue(experimentID: exp, runs: v1).inserted
        let started = try XCTUnwrap(store.claimNextRun(host: "h", staleAfter: 60))  // run 1
        try store.interrupt(started.lease)
        // The file changed: only runs 0 and 3 of v1 remain, plus a new one.
        let v2 = [v1[0], v1[3], newRuns(5)[4]]
        let result = try store.enqueue(experimentID: exp, runs: v2, pruneQueued: true)
        XCTAssertEqual(result.inserted.count, 1)
        XCTAssertEqual(result.requeued, [ids[0]])
        XCTAssertEqual(result.pruned, [ids[1], ids[2]])
        XCTAssertEqual(try store.listRuns().map(\.run.id), [ids[0], ids[3], result.inserted[0]])
        // A run that started is never pruned, even when it is no longer listed.
        let again = try XCTUnwrap(store.claimNextRun(host: "h", staleAfter: 60))
        try store.interrupt(again.lease)
        XCTAssertEqual(try store.enqueue(experimentID: exp, runs: [], pruneQueued: true).pruned,
                       [ids[3], result.inserted[0]])
        XCTAssertEqual(try store.listRuns().map(\.run.id), [ids[0]])
    }

    /// Eight openers at once on a file that does not exist yet (each with its own connection, as separate
    /// processes have): all of them get the complete store; none sees it half-created and calls it foreign.
    func testEightOpenersOfANewStoreAllSucceed() throws {
        nonisolated(unsafe) var failures: [String] = []   // appended to under `lock` only
        for trial in 0..<25 {
            let path = dbPath("new-\(trial).sqlite")
            let lock = NSLock(), group = DispatchGroup()
            let go = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var ids: [String] = []    // appended to under `lock` only
            for _ in 0..<8 {
                group.enter()
                Thread.detachNewThread {
                    go.wait()
                    do {
                        let store = try RunStore(path: path)
                        let id = try store.storeID()
                        lock.lock(); ids.append(id); lock.unlock()
                    } catch {
                        lock.lock(); failures.append("trial \(trial): \(error)"); lock.unlock()
                    }
                    group.leave()
                }
            }
            for _ in 0..<8 { go.signal() }
            group.wait()
            XCTAssertLessThanOrEqual(Set(ids).count, 1, "trial \(trial): one store, one id")
        }
        XCTAssertEqual(failures, [])
    }

    /// A store written before store ids (schema version 1) gets one when it is opened, and keeps it.
    func testVersionOneStoreGetsAStoreID() throws {
        let path = dbPath()
        do {
            let raw = try DatabaseQueue(path: path)
            try raw.write { db in
                try RunStore.createVersion1(db)
                try db.execute(sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
                try db.execute(sql: "INSERT INTO grdb_migrations VALUES (?)", arguments: [RunStore.migrations[0].identifier])
            }
            try raw.close()
        }
        let first = try RunStore(path: path).storeID()
        XCTAssertEqual(try RunStore(path: path).userVersion(), RunStore.schemaVersion)
        XCTAssertEqual(try RunStore(path: path).storeID(), first)
        XCTAssertNotEqual(try RunStore(path: dbPath("other.sqlite")).storeID(), first)
    }

    func testConcurrentClaimsNeverClaimTwice() throws {
        let path = dbPath()
        let setup = try RunStore(path: path)
        let exp = try setup.upsertExperiment(name: "many", fileText: "x")
        _ = try setup.enqueue(experimentID: exp, runs: newRuns(120))
        let stores = [try RunStore(path: path), try RunStore(path: path), try RunStore(path: path)]
        let lock = NSLock()
        // Appended to under `lock` only.
        nonisolated(unsafe) var claimed: [Int64] = []
        nonisolated(unsafe) var errors: [Error] = []
        DispatchQueue.concurrentPerform(iterations: 6) { worker in
            let store = stores[worker % stores.count]
            while true {
                do {
                    guard let run = try store.claimNextRun(host: "worker\(worker)", staleAfter: 3600) else { break }
                    lock.lock(); claimed.append(run.run.id); lock.unlock()
                } catch {
                    lock.lock(); errors.append(error); lock.unlock()
                    break
                }
            }
        }
        XCTAssertTrue(errors.isEmpty, "\(errors)")
        XCTAssertEqual(claimed.count, 120)
        XCTAssertEqual(Set(claimed).count, 120, "a run was claimed twice")
        XCTAssertEqual(try setup.listRuns().filter { $0.run.status == .running }.count, 120)
        XCTAssertEqual(try setup.listRuns().map(\.run.attempts), Array(repeating: 1, count: 120))
    }

    func testConcurrentClaimsFromTwoProcesses() throws {
        // A second process: this test binary re-run with an environment variable selecting the worker below.
        let path = dbPath()
        let setup = try RunStore(path: path)
        let exp = try setup.upsertExperiment(name: "many", fileText: "x")
        _ = try setup.enqueue(experimentID: exp, runs: newRuns(300))
        let ready = dir.appendingPathComponent("child-ready").path
        let exe = URL(fileURLWithPath: CommandLine.arguments[0])
        #if os(Linux)
        let arguments = ["StoreTests.StoreTests/testClaimWorker"]
        #else
        throw XCTSkip("re-running the test bundle in a child process is only wired up on Linux")
        #endif
        guard FileManager.default.isExecutableFile(atPath: exe.path) else {
            throw XCTSkip("cannot re-run the test binary at \(exe.path)")
        }
        let process = Process()
        process.executableURL = exe
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["ABLATE_CLAIM_DB": path, "ABLATE_CLAIM_READY": ready]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // Start claiming only once the child has its connection open, so the two really overlap.
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: ready) && Date() < deadline && process.isRunning {
            usleep(2_000)
        }
        var mine: [Int64] = []
        while let run = try setup.claimNextRun(host: "parent", staleAfter: 3600) {
            mine.append(run.run.id)
            usleep(500)  // a little "work" between claims, as a trainer would do
        }
        process.waitUntilExit()
        _ = output.fileHandleForReading.readDataToEndOfFile()
        XCTAssertEqual(process.terminationStatus, 0)
        let all = try setup.listRuns()
        XCTAssertEqual(all.filter { $0.run.status == .running }.count, 300)
        XCTAssertEqual(all.map(\.run.attempts), Array(repeating: 1, count: 300), "a run was claimed twice")
        let child = all.filter { $0.run.host == "child" }.count
        XCTAssertEqual(child + mine.count, 300)
        XCTAssertGreaterThan(child, 0, "the child process claimed nothing: the two processes did not overlap")
        XCTAssertGreaterThan(mine.count, 0, "the parent claimed nothing: the two processes did not overlap")
        XCTAssertEqual(Set(mine).count, mine.count)
        print("two-process claims: parent \(mine.count), child \(child)")
    }

    /// Helper for `testConcurrentClaimsFromTwoProcesses`, run in its child process; skipped (not passed) otherwise.
    func testClaimWorker() throws {
        guard let path = ProcessInfo.processInfo.environment["ABLATE_CLAIM_DB"] else {
            throw XCTSkip("the child-process half of testConcurrentClaimsFromTwoProcesses; runs only inside it")
        }
        let store = try RunStore(path: path)
        if let ready = ProcessInfo.processInfo.environment["ABLATE_CLAIM_READY"] {
            _ = FileManager.default.createFile(atPath: ready, contents: Data())
        }
        while try store.claimNextRun(host: "child", staleAfter: 3600) != nil { usleep(500) }
    }

    func testStaleHeartbeatIsReclaimedAndOldLeaseLost() throws {
        let clock = TestClock()
        let path = dbPath()
        let a = try RunStore(path: path, clock: { clock.now })
        let b = try RunStore(path: path, clock: { clock.now })
        let exp = try a.upsertExperiment(name: "demo", fileText: "x")
        _ = try a.enqueue(experimentID: exp, runs: newRuns(2, epochs: 5))
        let first = try XCTUnwrap(a.claimNextRun(host: "alpha", staleAfter: 60))
        try a.recordEpoch(first.lease, EpochMetrics(epoch: 1, trainLoss: 0.9, trainAccuracy: 0.6, testLoss: 0.8,
                                                    testAccuracy: 0.7, learningRate: 1e-3, seconds: 2,
                                                    imagesPerSecond: 30))
        try a.setCheckpoint(first.lease, path: "runs/ckpt/1.ckpt")
        clock.advance(30)
        try a.heartbeat(first.lease)
        clock.advance(45)  // 45 s since the last heartbeat: still alive
        let second = try XCTUnwrap(b.claimNextRun(host: "beta", staleAfter: 60))
        XCTAssertNotEqual(second.run.id, first.run.id)
        XCTAssertFalse(second.isResume)
        clock.advance(30)  // 75 s: dead
        let reclaimed = try XCTUnwrap(b.claimNextRun(host: "beta", staleAfter: 60))
        XCTAssertEqual(reclaimed.run.id, first.run.id)
        XCTAssertTrue(reclaimed.isResume)
        XCTAssertEqual(reclaimed.epochsDone, 1)
        XCTAssertEqual(reclaimed.run.checkpointPath, "runs/ckpt/1.ckpt")
        XCTAssertEqual(reclaimed.run.host, "beta")
        XCTAssertEqual(reclaimed.run.attempts, 2)
        // The killed process, if it comes back, must not write any more.
        expectStoreError(try a.heartbeat(first.lease)) { error in
            XCTAssertEqual(error, .leaseLost(runID: first.run.id, status: .running))
        }
        expectStoreError(try a.finish(first.lease)) { _ in }
        try b.heartbeat(reclaimed.lease)
        XCTAssertNil(try b.claimNextRun(host: "beta", staleAfter: 60))
        expectStoreError(try b.claimNextRun(host: "beta", staleAfter: 0)) { error in
            guard case .invalidArgument = error else { return XCTFail("\(error)") }
        }
    }

    // MARK: results

    /// Each table the migrations create has one record type (Tables.swift) that declares exactly its columns, and
    /// the records store what the hand-written SQL stored: dates as GRDB's "yyyy-MM-dd HH:mm:ss.SSS" (UTC, with
    /// milliseconds), enums as their raw values, probabilities as canonical JSON.
    func testRecordsDeclareTheMigratedTablesAndKeepTheStorageFormat() throws {
        let records: [String: [String]] = [
            MetaRow.databaseTableName: MetaRow.CodingKeys.allCases.map(\.rawValue),
            ExperimentRow.databaseTableName: ExperimentRow.CodingKeys.allCases.map(\.rawValue),
            RunRow.databaseTableName: RunRow.CodingKeys.allCases.map(\.rawValue),
            EpochRow.databaseTableName: EpochRow.CodingKeys.allCases.map(\.rawValue),
            PredictionRow.databaseTableName: PredictionRow.CodingKeys.allCases.map(\.rawValue),
            ExternalTestRow.databaseTableName: ExternalTestRow.CodingKeys.allCases.map(\.rawValue),
            ExternalPredictionRow.databaseTableName: ExternalPredictionRow.CodingKeys.allCases.map(\.rawValue),
        ]
        let start = Date(timeIntervalSince1970: 1_800_000_000.125)  // 2027-01-15 08:00:00.125 UTC
        let store = try RunStore(path: dbPath(), clock: { start })
        let tables = try store.read { db in
            try String.fetchAll(db, sql: """
                SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
                    AND name != 'grdb_migrations'
                """)
        }
        XCTAssertEqual(Set(tables), Set(records.keys), "one record type per table")
        for table in tables {
            let columns = try store.read { db in try db.columns(in: table).map(\.name) }
            XCTAssertEqual(columns, records[table], "the columns of \(table), in the migrations' order")
        }

        let exp = try store.upsertExperiment(name: "demo", fileText: "x")
        _ = try store.enqueue(experimentID: exp, runs: newRuns(1, epochs: 1))
        let c = try XCTUnwrap(store.claimNextRun(host: "h", staleAfter: 60))
        try store.recordEpoch(c.lease, EpochMetrics(epoch: 1, trainLoss: 0.5, trainAccuracy: 0.75, testLoss: nil,
                                                    testAccuracy: 0.5, learningRate: 0.1, seconds: 1, imagesPerSecond: 2))
        try store.recordPredictions(c.lease, epoch: 1, kind: .last, [Prediction(file: "a", label: 1, probabilities: [0.25, 0.75])])
        try store.finish(c.lease)
        try store.recordExternalTest(runID: c.run.id, ExternalTest(
            name: "held", weights: .best, epoch: 1, directory: "/d", accuracy: 1, positiveClass: nil, sensitivity: nil,
            specificity: nil, rocAUC: nil, auditJSON: "{}", evaluatedAt: start,
            predictions: [Prediction(file: "b", label: 0, probabilities: [1, 0])]))
        let stored = try store.read { db in
            try String.fetchAll(db, sql: """
                SELECT created || '|' || updated FROM experiments
                UNION ALL SELECT queued_at || '|' || heartbeat || '|' || started_at || '|' || ended_at || '|' || status
                    || '|' || typeof(seed) || '|' || quote(claim_token) FROM runs
                UNION ALL SELECT recorded_at || '|' || quote(test_loss) || '|' || typeof(train_acc) FROM epochs
                UNION ALL SELECT kind || '|' || predicted || '|' || probabilities FROM predictions
                UNION ALL SELECT weights || '|' || evaluated_at || '|' || images || '|' || quote(roc_auc) FROM external_tests
                UNION ALL SELECT predicted || '|' || probabilities FROM external_predictions
                """)
        }
        let t = "2027-01-15 08:00:00.125"
        XCTAssertEqual(stored, [
            "\(t)|\(t)",
            "\(t)|\(t)|\(t)|\(t)|finished|integer|NULL",
            "\(t)|NULL|real",
            "last|1|[0.25,0.75]",
            "best|\(t)|1|NULL",
            "0|[1.0,0.0]",
        ])
    }

    func testEpochsPredictionsAndProgress() throws {
        let store = try RunStore(path: dbPath())
        let exp = try store.upsertExperiment(name: "demo", fileText: "x")
        _ = try store.enqueue(experimentID: exp, runs: newRuns(2, epochs: 3))
        let c = try XCTUnwrap(store.claimNextRun(host: "h", staleAfter: 60, gitCommit: "abc123",
                                                 ablateVersion: "0.1.0", threads: 2))
        let accs: [Double?] = [0.6, nil, 0.75]
        for (i, acc) in accs.enumerated() {
            try store.recordEpoch(c.lease, EpochMetrics(epoch: i + 1, trainLoss: 1.0 / Double(i + 1),
                                                        trainAccuracy: 0.5 + 0.1 * Double(i), testLoss: acc.map { 1 - $0 },
                                                        testAccuracy: acc, learningRate: 0.01, seconds: 3.5,
                                                        imagesPerSecond: 12.25))
        }
        expectStoreError(try store.recordEpoch(c.lease, EpochMetrics(epoch: 4, trainLoss: 0, trainAccuracy: 0,
            testLoss: nil, testAccuracy: nil, learningRate: 0, seconds: 0, imagesPerSecond: 0))) { error in
            XCTAssertTrue(error.description.contains("epoch 4"), error.description)
        }
        let preds = [Prediction(file: "b.jpg", label: 1, probabilities: [0.25, 0.75]),
                     Prediction(file: "a.jpg", label: 0, probabilities: [0.9, 0.1])]
        try store.recordPredictions(c.lease, epoch: 3, kind: .best, preds)
        try store.recordPredictions(c.lease, epoch: 3, kind: .best, preds)  // replaces, no duplicates
        try store.setDataAudit(c.lease, json: "{\"train\":80,\"test\":20}")
        try store.finish(c.lease)

        let back = try store.predictions(runID: c.run.id, kind: .best)
        XCTAssertEqual(back.map(\.prediction.file), ["a.jpg", "b.jpg"])
        XCTAssertEqual(back[1].prediction.probabilities, [0.25, 0.75])
        XCTAssertEqual(back[1].prediction.predicted, 1)
        XCTAssertTrue(try store.predictions(runID: c.run.id, kind: .last).isEmpty)

        let list = try store.listRuns()
        XCTAssertEqual(list.count, 2)
        XCTAssertEqual(list[0].epochsDone, 3)
        XCTAssertEqual(list[0].bestTestAcc, 0.75)
        XCTAssertEqual(list[0].bestEpoch, 3)
        XCTAssertEqual(list[0].run.status, .finished)
        XCTAssertEqual(list[0].run.gitCommit, "abc123")
        XCTAssertEqual(list[0].run.threads, 2)
        XCTAssertNotNil(list[0].run.endedAt)
        XCTAssertEqual(list[1].epochsDone, 0)
        XCTAssertNil(list[1].bestTestAcc)
        let epochs = try store.epochs(runID: c.run.id)
        XCTAssertEqual(epochs.map(\.metrics.testAccuracy), accs)
        XCTAssertEqual(epochs[2].metrics.imagesPerSecond, 12.25)
        expectStoreError(try store.heartbeat(c.lease)) { error in
            XCTAssertEqual(error, .leaseLost(runID: c.run.id, status: .finished))
        }
    }

    func testExportCSVAndJSON() throws {
        let store = try RunStore(path: dbPath())
        let exp = try store.upsertExperiment(name: "demo", fileText: "x")
        let runs = [NewRun(configJSON: "{\"model\":{\"name\":\"densenet121\"},\"seed\":1}", configHash: "h1",
                           label: "model=densenet121, seed=1", seed: 1, epochsTotal: 2),
                    NewRun(configJSON: "{\"seed\":2}", configHash: "h2", label: "seed=2", seed: 2, epochsTotal: 2)]
        _ = try store.enqueue(experimentID: exp, runs: runs)
        let c = try XCTUnwrap(store.claimNextRun(host: "h", staleAfter: 60))
        for e in 1...2 {
            try store.recordEpoch(c.lease, EpochMetrics(epoch: e, trainLoss: 0.5, trainAccuracy: 0.8, testLoss: 0.4,
                                                        testAccuracy: 0.85 + 0.01 * Double(e), learningRate: 0.001,
                                                        seconds: 10, imagesPerSecond: 5))
        }
        try store.fail(c.lease, message: "bad, \"quoted\"\nsecond line")

        let runsTable = try store.exportTable(.runs)
        let runsCSV = [runsTable.header] + runsTable.rows
        XCTAssertEqual(runsCSV.count, 3)
        XCTAssertTrue(runsCSV.allSatisfy { $0.count == runsCSV[0].count })
        let header = runsCSV[0]
        let row = Dictionary(uniqueKeysWithValues: zip(header, runsCSV[1]))
        XCTAssertEqual(row["label"], "model=densenet121, seed=1")
        XCTAssertEqual(row["status"], "failed")
        XCTAssertEqual(row["error_message"], "bad, \"quoted\"\nsecond line")
        XCTAssertEqual(row["config_json"], runs[0].configJSON)
        XCTAssertEqual(row["best_test_acc"], "0.87")
        XCTAssertEqual(row["epochs_done"], "2")

        let epochsTable = try store.exportTable(.epochs)
        let epochsCSV = [epochsTable.header] + epochsTable.rows
        XCTAssertEqual(epochsCSV.count, 3)
        XCTAssertEqual(epochsCSV[0].first, "run_id")
        XCTAssertEqual(Double(epochsCSV[2][epochsCSV[0].firstIndex(of: "test_acc")!]), 0.87)

        let json = try store.exportJSON()
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let exported = try XCTUnwrap(object["runs"] as? [[String: Any]])
        XCTAssertEqual(exported.count, 2)
        XCTAssertEqual((exported[0]["epochs"] as? [Any])?.count, 2)
        XCTAssertEqual(((exported[0]["config"] as? [String: Any])?["model"] as? [String: Any])?["name"] as? String,
                       "densenet121")
        XCTAssertEqual(exported[1]["status"] as? String, "queued")
    }

    func testJSONValueCanonicalForm() {
        let v: JSONValue = .object(["b": .int(1), "a": .array([.double(0.001), .double(2), .null, .bool(true)]),
                                    "c": .string("q\"\n\u{1}é")])
        XCTAssertEqual(v.canonical, "{\"a\":[0.001,2.0,null,true],\"b\":1,\"c\":\"q\\\"\\n\\u0001é\"}")
    }
}
