import AblateCore
import ExperimentFile
import Foundation
import Report
import Store
import XCTest
@testable import Runner

/// `--shard I/N` partitions a matrix; `merge` gathers stores and exports into one store, atomically.
final class ShardMergeTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-merge-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    static let experimentText = """
        name: m
        # a comment that may change between sittings
        data: {path: data}
        training: {epochs: 3, optimizer: {name: sgd, lr: 0.1}}
        model: densenet121
        target: test_acc >= 0.8
        matrix:
          seed: [1, 2, 3]
          model: [densenet121, densenet121-se8, densenet121-se16, densenet121-se32]
        """

    func experiment(_ text: String = experimentText) throws -> Experiment {
        try Experiment.parse(text: text, file: "m.yaml", options: .init(checkDataExists: false))
    }

    // MARK: - Shards

    func testShardsCoverTheMatrixExactlyOnce() throws {
        let e = try experiment()
        for filters in [[], ["seed=2"], ["model=densenet121", "model=densenet121-se16"]] {
            let selected = try e.runs(matching: filters).map(\.configHash)
            for n in 1...5 {
                var seen: [String] = []
                for i in 0..<n {
                    let part = try e.runs(matching: filters, shard: Shard(index: i, count: n))
                    XCTAssertTrue(part.allSatisfy { ($0.index - 1) % n == i })
                    seen += part.map(\.configHash)
                }
                XCTAssertEqual(seen.sorted(), selected.sorted(), "N = \(n), filters \(filters)")
                XCTAssertEqual(Set(seen).count, seen.count, "a run in two shards (N = \(n))")
            }
        }
        XCTAssertEqual(try e.runs(matching: [], shard: Shard(parsing: "1/5")).map(\.index), [2, 7, 12])
    }

    func testBadShardsAreClearErrors() {
        for (text, expected) in [("3/3", "numbered 0 to 2"), ("-1/2", "does not exist"), ("a/b", "is not I/N"),
                                 ("1/0", "at least 1"), ("2", "is not I/N")] {
            XCTAssertThrowsError(try Shard(parsing: text), text) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(text): \(error)")
                XCTAssertTrue("\(error)".contains("--shard"), "\(error)")
            }
        }
    }

    /// A task's index: --index, else Slurm's array index, else a Kubernetes indexed Job's.
    func testClusterTaskIndexSources() throws {
        XCTAssertEqual(try clusterTaskIndex(explicit: 3, environment: ["SLURM_ARRAY_TASK_ID": "5"]), 3)
        XCTAssertEqual(try clusterTaskIndex(explicit: nil, environment: ["SLURM_ARRAY_TASK_ID": "5", "JOB_COMPLETION_INDEX": "7"]), 5)
        XCTAssertEqual(try clusterTaskIndex(explicit: nil, environment: ["JOB_COMPLETION_INDEX": "7"]), 7)
        XCTAssertThrowsError(try clusterTaskIndex(explicit: nil, environment: [:])) { XCTAssertTrue("\($0)".contains("--index")) }
        XCTAssertThrowsError(try clusterTaskIndex(explicit: nil, environment: ["SLURM_ARRAY_TASK_ID": "x"])) {
            XCTAssertTrue("\($0)".contains("SLURM_ARRAY_TASK_ID is 'x'"), "\($0)")
        }
    }

    // MARK: - Merge

    /// A store holding the given runs of `experiment`: finished ones with three epochs and predictions, the
    /// others with one epoch and left running.
    @discardableResult
    func makeStore(_ name: String, _ e: Experiment, runs indices: [Int], unfinished: Set<Int> = [],
                   accuracyOffset: Double = 0) throws -> String {
        let store = try RunStore(path: path(name))
        let selected = e.runs.filter { indices.contains($0.index) }
        let (experimentID, _) = try e.enqueue(into: store, runs: selected)
        while let claim = try store.claimNextRun(host: name, staleAfter: 3600, experimentID: experimentID,
                                                 gitCommit: "abc", ablateVersion: "0.1.0", threads: 2) {
            let index = selected.first { $0.configHash == claim.run.configHash }!.index
            let done = unfinished.contains(index) ? 1 : 3
            for epoch in 1...done {
                let acc = 0.5 + 0.01 * Double(index) + 0.1 * Double(epoch) + accuracyOffset
                try store.recordEpoch(claim.lease, EpochMetrics(
                    epoch: epoch, trainLoss: 1 / Double(epoch), trainAccuracy: acc, testLoss: 1 - acc, testAccuracy: acc,
                    learningRate: 0.1 / Double(epoch), seconds: 1.5, imagesPerSecond: 3.25))
            }
            try store.setDataAudit(claim.lease, json: "{\"train_files\":8,\"test_files\":2}")
            try store.setCheckpoint(claim.lease, path: "/elsewhere/\(index).ckpt")
            if !unfinished.contains(index) {
                try store.recordPredictions(claim.lease, epoch: 3, kind: .last, [
                    Prediction(file: "a/M1.jpg", label: 0, probabilities: [0.75, 0.25]),
                    Prediction(file: "b/N1.jpg", label: 1, probabilities: [0.1 + 0.01 * Double(index), 0.9 - 0.01 * Double(index)]),
                ])
                try store.recordPredictions(claim.lease, epoch: 2, kind: .best, [
                    Prediction(file: "a/M1.jpg", label: 0, probabilities: [0.6, 0.4]),
                ])
                try store.finish(claim.lease)
            }
        }
        try store.close()
        return path(name)
    }

    /// What a store holds, without its own ids: comparable across stores.
    func content(_ path: String) throws -> [String] {
        let store = try RunStore(readingOnly: path)
        defer { try? store.close() }
        let archive = try store.archive()
        return archive.runs.map { run in
            var r = run.record
            r.id = 0
            r.experimentID = 0
            let epochs = run.epochs.map { "\($0.metrics) \($0.recordedAt.timeIntervalSince1970)" }
            return "\(run.experimentName) \(r) \(epochs) \(run.predictions)"
        }.sorted() + archive.experiments.map { "\($0)" }
    }

    func testMergeGathersShardsIdempotently() throws {
        let e = try experiment()
        let a = try makeStore("a.sqlite", e, runs: [1, 3, 5])
        let b = try makeStore("b.sqlite", e, runs: [2, 4, 6], unfinished: [6])
        // The export document of b carries everything the store has.
        let bJSON = path("b.json")
        try RunStore(readingOnly: b).exportJSON().write(toFile: bJSON, atomically: true, encoding: .utf8)

        let target = path("all.sqlite")
        let first = try RunMerge.merge(sources: [a, bJSON], into: target, includeUnfinished: false)
        XCTAssertEqual(first.entries.filter { $0.action == .added }.count, 5)
        XCTAssertEqual(first.entries.filter { $0.action == .skippedUnfinished }.map(\.label), [e.runs[5].label])
        XCTAssertEqual(first.experimentsAdded, ["m"])
        let merged = try content(target)
        // Every finished run of a and b is in the target, bit for bit (epochs, predictions, audit, provenance).
        let finishedOfSources = try (content(a) + content(b)).filter { $0.contains("status: RunStatus.finished") }
        XCTAssertEqual(merged.filter { $0.contains("status: RunStatus.finished") }.sorted(),
                       finishedOfSources.sorted())

        let second = try RunMerge.merge(sources: [a, bJSON], into: target, includeUnfinished: false)
        XCTAssertFalse(second.changed)
        XCTAssertEqual(second.entries.filter { $0.action == .keptFinished(identical: true) }.count, 5)
        XCTAssertEqual(try content(target), merged, "merging twice changed the target")

        // With --all the unfinished run comes along, as interrupted; a later finished copy replaces it.
        let third = try RunMerge.merge(sources: [b], into: target, includeUnfinished: true)
        XCTAssertEqual(third.entries.filter { $0.action == .added }.map(\.label), [e.runs[5].label])
        let stored = try RunStore(readingOnly: target).listRuns().first { $0.run.label == e.runs[5].label }
        XCTAssertEqual(stored?.run.status, .interrupted)
        XCTAssertEqual(stored?.epochsDone, 1)
        let finishedSix = try makeStore("c.sqlite", e, runs: [6])
        let fourth = try RunMerge.merge(sources: [finishedSix], into: target, includeUnfinished: false)
        XCTAssertEqual(fourth.entries.map(\.action), [.replacedUnfinished])
        let replaced = try RunStore(readingOnly: target).listRuns().first { $0.run.label == e.runs[5].label }
        XCTAssertEqual(replaced?.run.status, .finished)
        XCTAssertEqual(replaced?.epochsDone, 3)
    }

    func testTwoFinishedCopiesKeepOneAndSaySo() throws {
        let e = try experiment()
        let a = try makeStore("a.sqlite", e, runs: [1])
        let other = try makeStore("other.sqlite", e, runs: [1], accuracyOffset: 0.01)
        let target = path("t.sqlite")
        _ = try RunMerge.merge(sources: [a], into: target, includeUnfinished: false)
        let before = try content(target)
        let summary = try RunMerge.merge(sources: [other], into: target, includeUnfinished: false)
        XCTAssertEqual(summary.entries.map(\.action), [.keptFinished(identical: false)])
        XCTAssertEqual(try content(target), before)
    }

    func testDifferentDefinitionIsRefusedButCommentsAreNot() throws {
        let e = try experiment()
        let a = try makeStore("a.sqlite", e, runs: [1])
        let target = path("t.sqlite")
        _ = try RunMerge.merge(sources: [a], into: target, includeUnfinished: false)
        let before = try content(target)

        let recommented = try experiment(Self.experimentText.replacingOccurrences(of: "# a comment", with: "# cost: 3 min/epoch; a comment"))
        let commented = try makeStore("commented.sqlite", recommented, runs: [2])
        XCTAssertEqual(try RunMerge.merge(sources: [commented], into: target, includeUnfinished: false)
            .entries.map(\.action), [.added])

        let changed = try experiment(Self.experimentText.replacingOccurrences(of: "lr: 0.1", with: "lr: 0.2"))
        let b = try makeStore("b.sqlite", changed, runs: [1, 2])
        let afterComments = try content(target)
        XCTAssertNotEqual(afterComments, before)
        XCTAssertThrowsError(try RunMerge.merge(sources: [a, b], into: target, includeUnfinished: false)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("experiment 'm'") && text.contains("b.sqlite") && text.contains("rename"), text)
        }
        XCTAssertEqual(try content(target), afterComments, "a refused merge changed the target")
    }

    func testSourcesAreOpenedReadOnlyAndNeverChanged() throws {
        let e = try experiment()
        let a = try makeStore("a.sqlite", e, runs: [1, 2])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: a))
        let modified = try FileManager.default.attributesOfItem(atPath: a)[.modificationDate] as? Date
        try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: a)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: a) }
        _ = try RunMerge.merge(sources: [a], into: path("t.sqlite"), includeUnfinished: true)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), bytes)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: a)[.modificationDate] as? Date, modified)
        // SQLite may leave its (empty) WAL index files beside a WAL database it read; nothing is written to them.
        let wal = (try? FileManager.default.attributesOfItem(atPath: a + "-wal")[.size] as? Int) ?? 0
        XCTAssertEqual(wal, 0, "reading wrote to the source's WAL")
    }

    func testBadSourcesAreClearErrors() throws {
        let target = path("t.sqlite")
        try "hello".write(toFile: path("notes.txt"), atomically: true, encoding: .utf8)
        try "{\"format\": \"something-else\", \"schema_version\": 1, \"runs\": []}".write(
            toFile: path("other.json"), atomically: true, encoding: .utf8)
        try "{\"format\": \"ablate-export\", \"schema_version\": 1, \"experiments\": [], \"runs\": [{\"id\": 1}]}".write(
            toFile: path("partial.json"), atomically: true, encoding: .utf8)
        try "{\"format\": \"ablate-export\", \"schema_version\": 1, ".write(
            toFile: path("cut.json"), atomically: true, encoding: .utf8)
        for (source, expected) in [("notes.txt", "neither a SQLite run store nor a JSON export"),
                                   ("missing.json", "no such file"), ("other.json", "not 'ablate-export'"),
                                   ("partial.json", "runs[0].experiment' is missing"), ("cut.json", "not valid JSON"),
                                   ("t.sqlite", "the target database itself")] {
            XCTAssertThrowsError(try RunMerge.merge(sources: [path(source)], into: target, includeUnfinished: false),
                                 source) { error in
                XCTAssertTrue("\(error)".contains(expected) && "\(error)".contains(source), "\(source): \(error)")
            }
        }
    }

    /// An export whose runs were edited or damaged is refused before anything is merged: a configuration that
    /// does not decode, a config hash that is not its configuration's (the run would be filed under another
    /// configuration and trained again), a data audit that is not JSON. A store this merge created is removed.
    func testEditedExportsAreRefusedAndNothingIsLeftBehind() throws {
        let e = try experiment()
        let source = try makeStore("a.sqlite", e, runs: [1, 2])
        let store = try RunStore(readingOnly: source)
        let exported = try store.exportJSON()
        try store.close()
        let existing = try makeStore("existing.sqlite", e, runs: [3])
        let before = try content(existing)

        func edited(_ change: (inout [String: Any]) -> Void) throws -> String {
            var document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(exported.utf8)) as? [String: Any])
            var runs = try XCTUnwrap(document["runs"] as? [[String: Any]])
            change(&runs[1])
            document["runs"] = runs
            let file = path("edited-\(UUID().uuidString).json")
            try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: file))
            return file
        }
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("has the config hash 000000000000, but its configuration hashes to", { $0["config_hash"] = String(repeating: "0", count: 64) }),
            ("has a configuration that does not decode", { $0["config_json"] = "{" }),
            ("has a configuration that does not decode", { $0["config_json"] = "{\"x\":1}" }),
            ("has a data audit that is not JSON", { $0["data_audit_json"] = "{\"a\":" }),
        ]
        for (expected, change) in cases {
            let file = try edited(change)
            for target in [existing, path("new.sqlite")] {
                XCTAssertThrowsError(try RunMerge.merge(sources: [file], into: target, includeUnfinished: true)) { error in
                    XCTAssertTrue("\(error)".contains(expected) && "\(error)".contains("its run 2"), "\(error)")
                }
            }
            XCTAssertEqual(try content(existing), before, "the existing target is as it was")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("new.sqlite")), "no store is left behind")
        }
        // The untouched export merges.
        let clean = try edited { _ in }
        XCTAssertEqual(try RunMerge.merge(sources: [clean], into: path("new.sqlite"), includeUnfinished: true)
                        .entries.filter { $0.action == .added }.count, 2)
    }

    /// A report of a matrix still computing says how much of the plan it holds: "2 runs of 12 planned", seeds
    /// finished out of the planned three, and the configurations without any run yet, by name.
    func testReportOfAPartialMatrixNamesWhatIsMissing() throws {
        let e = try experiment()
        let db = try makeStore("partial.sqlite", e, runs: [1, 2, 5])
        let store = try RunStore(readingOnly: db)
        defer { try? store.close() }
        let input = try StoreReport(store: store, databasePath: db, experiment: "m").input
        XCTAssertEqual(input.plannedRuns, 12)
        XCTAssertEqual(input.plannedSeedsPerConfiguration, 3)
        XCTAssertEqual(input.notYetRun, ["densenet121-se16", "densenet121-se32"])
        let summary = try ReportTables.summary(input)
        XCTAssertTrue(summary.contains("without any run here yet: densenet121-se16, densenet121-se32 (3 seeds each)"), summary)
        XCTAssertTrue(summary.contains("2/3") && summary.contains("1/3"), "seeds finished of the planned three: \(summary)")
        let out = dir.appendingPathComponent("report")
        try renderReport(input, outDir: out)
        XCTAssertTrue(try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
            .contains("3 runs of 12 planned, 3 finished"))
    }
}
