import Foundation
import Store
import XCTest

/// Shards, merge and logs with the real binary in child processes.
extension EndToEndTests {
    /// Shards run disjoint parts with the metrics an unsharded run gets; their stores merge into one; exported as
    /// JSON and merged again, the same report comes out.
    func testShardsMergeAndExportRoundTripGiveTheSameReport() throws {
        let file = try writeExperiment("sharded", epochs: 2, matrix: "  seed: [1, 2, 3]")
        let dry = try run(["run", file, "--dry-run", "--shard", "1/2"])
        XCTAssertEqual(dry.status, 0, dry.output)
        XCTAssertTrue(dry.output.contains("shard 1/2: 1 runs") && dry.output.contains("seed=2"), dry.output)
        XCTAssertFalse(dry.output.contains("seed=1") || dry.output.contains("seed=3"), dry.output)
        for i in 0..<2 {
            let r = try run(["run", file, "--shard", "\(i)/2", "--db", "s\(i).sqlite", "--runs-dir", "runs-s\(i)"])
            XCTAssertEqual(r.status, 0, r.output)
        }
        XCTAssertEqual(try epochs("s0.sqlite").map { $0[0] }, [1, 1, 3, 3])
        XCTAssertEqual(try epochs("s1.sqlite").map { $0[0] }, [2, 2])
        let full = try run(["run", file, "--db", "full.sqlite", "--runs-dir", "runs-full"])
        XCTAssertEqual(full.status, 0, full.output)

        let merged = try run(["merge", "s0.sqlite", "s1.sqlite", "--into", "merged.sqlite"])
        XCTAssertEqual(merged.status, 0, merged.output)
        XCTAssertTrue(merged.output.contains("3 added"), merged.output)
        func sorted(_ db: String) throws -> [[UInt64]] { try epochs(db).map { $0.map(\.bitPattern) }.sorted { $0.lexicographicallyPrecedes($1) } }
        XCTAssertEqual(try sorted("merged.sqlite"), try sorted("full.sqlite"), "sharded runs differ from unsharded ones")

        let exported = try run(["export", "--db", "merged.sqlite", "--format", "json", "--output", "runs.json"])
        XCTAssertEqual(exported.status, 0, exported.output)
        XCTAssertEqual(try run(["merge", "runs.json", "--into", "rebuilt.sqlite"]).status, 0)
        let again = try run(["merge", "runs.json", "--into", "rebuilt.sqlite"])
        XCTAssertTrue(again.output.contains("nothing changed"), again.output)
        for (db, out) in [("merged.sqlite", "r1"), ("rebuilt.sqlite", "r2")] {
            let r = try run(["report", "--db", db, "--out", out])
            XCTAssertEqual(r.status, 0, r.output)
        }
        func body(_ folder: String) throws -> [Substring] {
            try String(contentsOf: dir.appendingPathComponent("\(folder)/README.md"), encoding: .utf8)
                .split(separator: "\n").filter { !$0.hasPrefix("Generated at") }
        }
        XCTAssertEqual(try body("r1"), try body("r2"))
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("r1/epochs.csv")),
                       try Data(contentsOf: dir.appendingPathComponent("r2/epochs.csv")))
    }

    /// `merge --reuse-for FILE` files another experiment's finished runs of the same configurations under FILE's
    /// experiment; `ablate run FILE` then trains only the rest, and the reused runs are the runs it would have trained.
    func testMergeReusesRunsOfTheSameConfigurationFromAnotherExperiment() throws {
        let first = try writeExperiment("first", epochs: 2, matrix: "  seed: [1, 2]")
        let second = try writeExperiment("second", epochs: 2, matrix: "  seed: [2, 3]")
        XCTAssertEqual(try run(["run", first, "--db", "a.sqlite", "--runs-dir", "runs-a"]).status, 0)

        let refused = try run(["merge", "a.sqlite", "--into", "b.sqlite", "--reuse-for", second, "--all"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("--all does not go with --reuse-for"), refused.output)
        let unrelated = try writeExperiment("unrelated", epochs: 3, matrix: "  seed: [2]")
        let none = try run(["merge", "a.sqlite", "--into", "b.sqlite", "--reuse-for", unrelated])
        XCTAssertEqual(none.status, 0, none.output)
        XCTAssertTrue(none.output.contains("no finished run in a.sqlite is a configuration of unrelated"), none.output)

        let reused = try run(["merge", "a.sqlite", "--into", "b.sqlite", "--reuse-for", second])
        XCTAssertEqual(reused.status, 0, reused.output)
        XCTAssertTrue(reused.output.contains("a.sqlite (experiment first, run 2): second seed=2"), reused.output)
        XCTAssertTrue(reused.output.contains("1 added"), reused.output)
        XCTAssertTrue(try run(["merge", "a.sqlite", "--into", "b.sqlite", "--reuse-for", second]).output
            .contains("nothing changed"))
        let rest = try run(["run", second, "--db", "b.sqlite", "--runs-dir", "runs-b"])
        XCTAssertEqual(rest.status, 0, rest.output)
        XCTAssertTrue(rest.output.contains("queued 1 new run(s)"), rest.output)
        XCTAssertFalse(rest.output.contains("seed=2: starting"), rest.output)

        let store = try RunStore(path: dir.appendingPathComponent("b.sqlite").path, create: false)
        XCTAssertEqual(try store.listRuns().map { "\($0.experimentName) \($0.run.label) \($0.run.status)" }.sorted(),
                       ["second seed=2 finished", "second seed=3 finished"])
        XCTAssertEqual(try run(["run", second, "--db", "c.sqlite", "--runs-dir", "runs-c"]).status, 0)
        func bits(_ db: String) throws -> [[UInt64]] { try epochs(db).map { $0.map(\.bitPattern) }.sorted { $0.lexicographicallyPrecedes($1) } }
        XCTAssertEqual(try bits("b.sqlite"), try bits("c.sqlite"), "a reused run differs from the run it stands for")
    }

    /// The report lists configurations in the experiment file's matrix order, whatever order the runs reached the
    /// store in (here the second configuration was trained first), and shows the file's description.
    func testReportFollowsTheMatrixOrder() throws {
        let file = try writeExperiment("ordered", epochs: 1, matrix: "  training.optimizer.lr: [0.05, 0.01]\n"
                                       + "description: Two learning rates, in this order.")
        XCTAssertEqual(try run(["run", file, "--only", "training.optimizer.lr=0.01", "--db", "o.sqlite"]).status, 0)
        XCTAssertEqual(try run(["run", file, "--db", "o.sqlite"]).status, 0)
        let report = try run(["report", "--db", "o.sqlite", "--out", "r"])
        XCTAssertEqual(report.status, 0, report.output)
        let text = try String(contentsOf: dir.appendingPathComponent("r/README.md"), encoding: .utf8)
        XCTAssertTrue(text.contains("Two learning rates, in this order.\n\nGenerated at"), "the description under the title: \(text)")
        let first = try XCTUnwrap(text.range(of: "lr=0.05")), second = try XCTUnwrap(text.range(of: "lr=0.01"))
        XCTAssertLessThan(first.lowerBound, second.lowerBound, text)
    }

    /// A merge killed inside its transaction leaves the target exactly as it was.
    func testMergeKilledMidwayLeavesTheTargetAsItWas() throws {
        let file = try writeExperiment("killmerge", epochs: 1, matrix: "  seed: [1, 2, 3, 4]")
        XCTAssertEqual(try run(["run", file, "--shard", "0/2", "--db", "a.sqlite", "--runs-dir", "ra"]).status, 0)
        XCTAssertEqual(try run(["run", file, "--shard", "1/2", "--db", "b.sqlite", "--runs-dir", "rb"]).status, 0)
        XCTAssertEqual(try run(["merge", "a.sqlite", "--into", "t.sqlite"]).status, 0)
        let before = try epochs("t.sqlite")

        let p = Process()
        p.executableURL = Self.ablate
        p.arguments = ["merge", "b.sqlite", "--into", "t.sqlite"]
        p.currentDirectoryURL = dir
        p.environment = ProcessInfo.processInfo.environment.merging(["ABLATE_TEST_MERGE_KILL_AFTER_RUNS": "1"]) { $1 }
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal, "the merge was not killed")

        let store = try RunStore(path: dir.appendingPathComponent("t.sqlite").path, create: false)
        XCTAssertEqual(try store.listRuns().count, 2)
        try store.close()
        XCTAssertEqual(try epochs("t.sqlite").map { $0.map(\.bitPattern) }, before.map { $0.map(\.bitPattern) })
        let finished = try run(["merge", "b.sqlite", "--into", "t.sqlite"])
        XCTAssertTrue(finished.output.contains("2 added"), finished.output)
        XCTAssertEqual(try epochs("t.sqlite").count, 4)
    }

    /// A 40-epoch `ablate run` of the experiment `name` with its standard output a pipe, read as it comes, and
    /// whether its first epoch line arrived while it was still running (waited for up to three minutes).
    func startPipedRun(_ name: String, db: String) throws -> (process: Process, pipe: Pipe, received: ReceivedText, sawEpoch: Bool) {
        let file = try writeExperiment(name, epochs: 40, matrix: "  seed: [1]")
        let p = Process()
        p.executableURL = Self.ablate
        p.arguments = ["run", file, "--db", db]
        p.currentDirectoryURL = dir
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        let received = ReceivedText()
        pipe.fileHandleForReading.readabilityHandler = { handle in
            received.append(String(decoding: handle.availableData, as: UTF8.self))
        }
        try p.run()
        let deadline = Date().addingTimeInterval(180)  // generous: the machine may be busy with other tests
        var sawEpoch = false
        while Date() < deadline && p.isRunning && !sawEpoch {
            sawEpoch = received.text.contains("epoch 1/40")
            usleep(20_000)
        }
        return (p, pipe, received, sawEpoch && p.isRunning)
    }

    /// With standard output a pipe, each line arrives when it is printed, with a timestamp.
    func testLogLinesReachAPipeWhileTheRunGoesOn() throws {
        let (p, pipe, received, sawEpoch) = try startPipedRun("logged", db: "log.sqlite")
        defer { if p.isRunning { Darwin_kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        XCTAssertTrue(sawEpoch, "no epoch line reached the pipe while the run was going: \(received.text)")
        Darwin_kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        pipe.fileHandleForReading.readabilityHandler = nil
        let text = received.text
        let stamp = try NSRegularExpression(pattern: "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ \\S")
        let lines = text.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        XCTAssertFalse(lines.isEmpty)
        for line in lines.prefix(4) {
            XCTAssertNotNil(stamp.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)), "no timestamp: \(line)")
        }
    }

    /// `ablate run … | head -2`: when the reader of the output goes away the run stops as on Ctrl-C (checkpoint
    /// kept, marked interrupted, resumable) instead of dying on SIGPIPE with the run left `running`.
    func testRunWhoseReaderGoesAwayStopsCleanly() throws {
        let (p, pipe, received, sawEpoch) = try startPipedRun("piped", db: "pipe.sqlite")
        defer { if p.isRunning { Darwin_kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        XCTAssertTrue(sawEpoch, received.text)
        pipe.fileHandleForReading.readabilityHandler = nil
        try pipe.fileHandleForReading.close()
        try pipe.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertFalse(p.isRunning, "the run went on without a reader")
        guard !p.isRunning else { return }
        XCTAssertEqual(p.terminationReason, .exit, "not killed by SIGPIPE")
        XCTAssertEqual(p.terminationStatus, 130)
        let store = try RunStore(path: dir.appendingPathComponent("pipe.sqlite").path, create: false)
        XCTAssertEqual(try store.run(id: 1).status, .interrupted)
        XCTAssertGreaterThanOrEqual(try store.epochs(runID: 1).count, 1)
    }
}

/// Text gathered from a pipe's reader thread.
final class ReceivedText: @unchecked Sendable {
    private let lock = NSLock()
    private var value = ""
    func append(_ s: String) { lock.lock(); value += s; lock.unlock() }
    var text: String { lock.lock(); defer { lock.unlock() }; return value }
}
