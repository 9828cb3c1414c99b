import AblateCore
import Engine
import ExperimentFile
import Foundation
import GRDB
import Store
import XCTest
@testable import Runner

/// Runs the built `ablate` executable (next to the test bundle) the way a user would.
final class CLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// Runs ablate; with `limitMemory`, under a 4 GB address-space limit (`ulimit -v`).
    func ablate(_ arguments: [String], limitMemory: Bool = false,
                binDir: URL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        throws -> (status: Int32, out: String, err: String) {
        let exe = binDir.appendingPathComponent("ablate")
        guard FileManager.default.isExecutableFile(atPath: exe.path) else {
            throw XCTSkip("ablate executable not built next to the tests (\(exe.path)); run swift build --build-tests")
        }
        let p = Process()
        if limitMemory {
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "ulimit -v 4000000 && exec \"$0\" \"$@\"", exe.path] + arguments
        } else {
            p.executableURL = exe
            p.arguments = arguments
        }
        p.currentDirectoryURL = packageRoot
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// `ablate bench` runs on either backend and says which one it measured; an unknown backend is refused.
    func testBenchReportsItsBackend() throws {
        for (flags, expected) in [(["--backend", "openblas"], "openblas"), (["--no-winograd"], "onednn"),
                                  ([], Backend.winogradAvailable ? "onednn+winograd" : "onednn")] {
            let r = try ablate(["bench", "--size", "32", "--batch", "2", "--steps", "1", "--warmup", "0", "--json"] + flags)
            XCTAssertEqual(r.status, 0, r.err)
            let object = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
            XCTAssertEqual(object?["backend"] as? String, expected, r.out)
            XCTAssertGreaterThan(object?["images_per_second"] as? Double ?? 0, 0)
        }
        let bad = try ablate(["bench", "--backend", "cuda"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("--backend must be one of openblas, onednn, got 'cuda'"), bad.err)
    }

    /// `ablate bench --freeze` trains with those layers frozen and says so; a prefix that matches nothing is refused
    /// with the model's top-level modules.
    func testBenchFreezesWhatItIsTold() throws {
        let r = try ablate(["bench", "--size", "32", "--batch", "2", "--steps", "1", "--warmup", "0", "--json",
                            "--freeze", "features.conv0", "--freeze", "features.denseblock1"])
        XCTAssertEqual(r.status, 0, r.err)
        let object = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        XCTAssertEqual(object?["freeze"] as? [String], ["features.conv0", "features.denseblock1"], r.out)
        let bad = try ablate(["bench", "--size", "32", "--batch", "2", "--steps", "1", "--freeze", "features.denseblock9"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("'features.denseblock9' matches no parameter of densenet121"), bad.err)
        XCTAssertTrue(bad.err.contains("features.denseblock4, features.norm5, classifier"), bad.err)
    }

    /// `ablate data bench` times decoding, batch assembly and both stages of the near-duplicate audit; the
    /// comparison covers the default split's test × train pairs.
    func testDataBenchTimesTheNearDuplicateAudit() throws {
        let data = dir.appendingPathComponent("data").path
        XCTAssertEqual(try ablate(["data", "synth", "--out", data, "--per-class", "10", "--size", "32"]).status, 0)
        let r = try ablate(["data", "bench", data, "--size", "32", "--repeats", "2", "--epochs", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        XCTAssertEqual((object["signature_seconds"] as? [Double])?.count, 2, r.out)
        XCTAssertGreaterThan(object["signature_median_seconds"] as? Double ?? 0, 0)
        XCTAssertGreaterThan(object["near_duplicate_search_seconds"] as? Double ?? 0, 0)
        XCTAssertEqual(object["near_duplicate_pairs"] as? Int, 4 * 16, r.out)
        let text = try ablate(["data", "bench", data, "--size", "32", "--repeats", "1", "--epochs", "1"])
        XCTAssertTrue(text.out.contains("signatures ") && text.out.contains("(64 pairs)"), text.out)
    }

    func testDryRunListsEveryRunWithItsHash() throws {
        let file = "experiments/monkeypox.yaml"
        let data = dir.appendingPathComponent("monkeypox").path
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let r = try ablate(["run", file, "--dry-run", "--data", data, "--db", dir.appendingPathComponent("x.sqlite").path])
        XCTAssertEqual(r.status, 0, r.err)
        let expected = try Experiment.load(file: packageRoot.appendingPathComponent(file).path,
                                           options: .init(dataOverride: data))
        XCTAssertEqual(expected.runs.count, 12)
        for run in expected.runs {
            XCTAssertTrue(r.out.contains(String(run.configHash.prefix(12))), "missing \(run.label)")
        }
        XCTAssertTrue(r.out.contains("12 runs"), r.out)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.sqlite").path),
                       "a dry run must not create the run store")

        let only = try ablate(["run", file, "--dry-run", "--data", data, "--only", "model=densenet121-se16", "--json"])
        XCTAssertEqual(only.status, 0, only.err)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(only.out.utf8)) as? [String: Any])
        let runs = try XCTUnwrap(doc["runs"] as? [[String: Any]])
        XCTAssertEqual(runs.count, 3)
        XCTAssertEqual(Set(runs.compactMap { $0["config_hash"] as? String }),
                       Set(expected.runs.filter { $0.config.model.name == "densenet121-se16" }.map(\.configHash)))
    }

    func testInvalidFileFailsWithKeyPath() throws {
        let bad = dir.appendingPathComponent("bad.yaml")
        try "name: x\ndata: {path: .}\ntraining: {epochs: 0}\nmodel: densenet121\n".write(to: bad, atomically: true, encoding: .utf8)
        let r = try ablate(["run", bad.path, "--dry-run"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("training.epochs"), r.err)
        XCTAssertTrue(r.err.contains("\(bad.path):3:"), r.err)
    }

    /// `run` and `status` refuse a store with a damaged page (instead of writing into it or reading it silently)
    /// and say how to recover it.
    func testDamagedStoreIsRefused() throws {
        let db = dir.appendingPathComponent("damaged.sqlite").path
        do {
            let store = try RunStore(path: db)
            let e = try Experiment.load(file: packageRoot.appendingPathComponent("experiments/demo.yaml").path,
                                        options: .init(baseDirectory: dir.path))
            _ = try e.enqueue(into: store)
            try store.close()
        }
        let (root, pageSize) = try DatabaseQueue(path: db).read { db in
            (try Int.fetchOne(db, sql: "SELECT rootpage FROM sqlite_master WHERE name = 'runs'")!,
             try Int.fetchOne(db, sql: "PRAGMA page_size")!)
        }
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: db))
        try handle.seek(toOffset: UInt64((root - 1) * pageSize + 1))
        try handle.write(contentsOf: Data(repeating: 0xFF, count: 64))
        try handle.close()

        for args in [["status", "--db", db], ["run", "experiments/demo.yaml", "--db", db, "--data", dir.path + "/nodata"]] {
            let r = try ablate(args)
            XCTAssertNotEqual(r.status, 0, "\(args[0]): \(r.out)")
            XCTAssertTrue(r.err.contains("\(db) is damaged"), "\(args[0]): \(r.err)")
            XCTAssertTrue(r.err.contains("\".recover\""), r.err)
        }
    }

    /// A store on a read-only file system is called just that (not "not an ablate run store … corrupt").
    /// Needs a private mount namespace (`unshare -m`, root in a container); skipped where that is not allowed.
    func testStoreOnReadOnlyFileSystem() throws {
        let folder = dir.appendingPathComponent("ro")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try RunStore(path: folder.appendingPathComponent("ablate.sqlite").path).close()
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ablate")
        let script = "mount --bind \(folder.path) \(folder.path) && mount -o remount,bind,ro \(folder.path) || exit 77; "
            + "exec \(exe.path) status --db \(folder.path)/ablate.sqlite"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        p.arguments = ["-m", "sh", "-c", script]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        guard (try? p.run()) != nil else { throw XCTSkip("unshare is not available") }
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if p.terminationStatus == 77 || text.contains("unshare:") { throw XCTSkip("cannot mount read-only here: \(text)") }
        XCTAssertNotEqual(p.terminationStatus, 0)
        XCTAssertTrue(text.contains("is read-only"), text)
        XCTAssertFalse(text.contains("not an ablate run store"), text)
    }

    /// "Billion laughs": nine lines of aliases of aliases describe 9^10 values. ablate refuses the file in well
    /// under a second with a message naming it (it used to exhaust memory and crash). The child runs under a
    /// 4 GB address-space limit so that a regression fails the test instead of the machine.
    func testYAMLAliasBombIsRefusedQuickly() throws {
        var text = "name: bomb\ndata: {path: .}\nmodel: densenet121\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for level in 1...9 {
            let alias = "*a\(level - 1)"
            text += "a\(level): &a\(level) [" + Array(repeating: alias, count: 9).joined(separator: ", ") + "]\n"
        }
        let bomb = dir.appendingPathComponent("bomb.yaml")
        try text.write(to: bomb, atomically: true, encoding: .utf8)
        let binDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let start = Date()
        let r = try ablate(["run", bomb.path, "--dry-run"], limitMemory: true, binDir: binDir)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertLessThan(seconds, 1.0)
        XCTAssertTrue(r.err.contains(bomb.path), r.err)
        XCTAssertTrue(r.err.contains("aliases"), r.err)
    }

    /// --threads and --stale-after are checked like the experiment file's settings, on every command that takes
    /// them; a negative number is read as a value (not as a missing one) and refused with the allowed range.
    func testThreadsAndStaleAfterAreValidated() throws {
        let demo = "experiments/demo.yaml"
        let cases: [([String], String)] = [
            (["run", demo, "--dry-run", "--threads", "-1"], "--threads must be between 1 and 1024, got -1"),
            (["run", demo, "--dry-run", "--threads=-1"], "--threads must be between 1 and 1024, got -1"),
            (["run", demo, "--dry-run", "--threads", "0"], "--threads must be between 1 and 1024, got 0"),
            (["run", demo, "--dry-run", "--stale-after", "-5"], "--stale-after must be a number of seconds of at least 60"),
            (["run", demo, "--dry-run", "--stale-after", "0"], "--stale-after must be a number of seconds of at least 60"),
            (["run", demo, "--dry-run", "--stale-after", "0.001"], "--stale-after must be a number of seconds of at least 60"),
            (["verify", "x.json", "--threads", "-1"], "--threads must be between 1 and 1024, got -1"),
            (["verify", "x.json", "--threads", "0"], "--threads must be between 1 and 1024, got 0"),
            (["bench", "--threads", "-2"], "--threads must be between 1 and 1024, got -2"),
            (["bench", "--threads", "2000"], "--threads must be between 1 and 1024, got 2000"),
            (["bench", "--size", "8", "--model", "nope"], "--size must be at least 32, got 8"),
            (["bench", "--warmup", "-1"], "--warmup must be at least 0, got -1"),
            (["evaluate", "x", "--run", "-1"], "--run must be a run id (1 or more, see `ablate status`), got -1"),
            (["predict", "--run", "0", "a.jpg"], "--run must be a run id (1 or more, see `ablate status`), got 0"),
            (["run", demo, "--dry-run", "--shard", "-1/2"], "shard -1 does not exist among 2"),
        ]
        for (args, expected) in cases {
            let r = try ablate(args)
            XCTAssertNotEqual(r.status, 0, args.joined(separator: " "))
            XCTAssertTrue(r.err.contains(expected), "\(args.joined(separator: " ")): \(r.err)")
        }
        let ok = try ablate(["run", demo, "--dry-run", "--threads", "2", "--stale-after", "60"])
        XCTAssertEqual(ok.status, 0, ok.err)
    }

    func testStatusAndExport() throws {
        let db = dir.appendingPathComponent("runs/ablate.sqlite").path
        let missing = try ablate(["status", "--db", db])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.err.contains("no run store"), missing.err)

        XCTAssertEqual(try demoStore("runs/ablate.sqlite"), db)

        let table = try ablate(["status", "--db", db])
        XCTAssertEqual(table.status, 0, table.err)
        XCTAssertTrue(table.out.contains("1/10"), table.out)
        XCTAssertTrue(table.out.contains("0m27s"), "ETA = 9 epochs left × 3 s: \(table.out)")
        XCTAssertTrue(table.out.contains("0.7500"), table.out)

        let json = try ablate(["status", "--db", db, "--json"])
        XCTAssertEqual(json.status, 0, json.err)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
        let runs = try XCTUnwrap(doc["runs"] as? [[String: Any]])
        XCTAssertEqual(runs.count, 6)
        XCTAssertEqual(runs[0]["status"] as? String, "running")
        XCTAssertEqual(runs[0]["eta_seconds"] as? Double, 27)
        XCTAssertEqual(runs[0]["epochs_done"] as? Int, 1)
        XCTAssertEqual(runs[0]["best_test_acc"] as? Double, 0.75)
        XCTAssertEqual(runs[1]["status"] as? String, "queued")
        XCTAssertNotNil((runs[0]["config"] as? [String: Any])?["model"])
        XCTAssertNotNil(runs[0]["id"] as? Int)

        let csv = try ablate(["export", "--db", db, "--format", "csv"])
        XCTAssertEqual(csv.status, 0, csv.err)
        let lines = try parseCSV(csv.out)
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines[0].first, "run_id")
        let out = dir.appendingPathComponent("export.json").path
        let exported = try ablate(["export", "--db", db, "--format", "json", "--output", out])
        XCTAssertEqual(exported.status, 0, exported.err)
        let file = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        XCTAssertEqual((file["runs"] as? [Any])?.count, 6)
    }

    /// `export --format csv` goes through the project's one CSV writer: a field holding CRLF, a quote and a comma
    /// comes back whole.
    func testExportCSVQuotesEveryLineBreak() throws {
        let db = dir.appendingPathComponent("csv.sqlite").path
        let store = try RunStore(path: db)
        let e = try Experiment.load(file: packageRoot.appendingPathComponent("experiments/demo.yaml").path,
                                    options: .init(baseDirectory: dir.path))
        _ = try e.enqueue(into: store)
        let c = try XCTUnwrap(store.claimNextRun(host: "cli-test", staleAfter: 60))
        let message = "first line\r\nsecond, \"quoted\"\nthird"
        try store.fail(c.lease, message: message)
        try store.close()
        let r = try ablate(["export", "--db", db, "--format", "csv", "--table", "runs"])
        XCTAssertEqual(r.status, 0, r.err)
        let rows = try parseCSV(r.out)
        XCTAssertEqual(rows.count, 7, r.out)
        let row = Dictionary(uniqueKeysWithValues: zip(rows[0], rows[1]))
        XCTAssertEqual(row["error_message"], message)
        XCTAssertEqual(row["status"], "failed")
    }
}

/// Minimal RFC 4180 reader for the tests (quoted fields, doubled quotes, line breaks inside quotes, CRLF or LF
/// row ends).
func parseCSV(_ text: String) throws -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field = ""
    var inQuotes = false
    var chars = Array(text.unicodeScalars)[...]
    while let ch = chars.popFirst() {
        if inQuotes {
            if ch == "\"" {
                if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { inQuotes = false }
            } else { field.unicodeScalars.append(ch) }
        } else if ch == "\"" {
            guard field.isEmpty else { throw NSError(domain: "csv", code: 1) }
            inQuotes = true
        } else if ch == "," {
            row.append(field); field = ""
        } else if ch == "\r" && chars.first == "\n" {
            continue
        } else if ch == "\n" {
            row.append(field); field = ""; rows.append(row); row = []
        } else { field.unicodeScalars.append(ch) }
    }
    guard !inQuotes else { throw NSError(domain: "csv", code: 2) }
    if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
    return rows
}
