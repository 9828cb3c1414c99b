import AblateCore
import Foundation
import Store
@testable import Trackers
import XCTest

/// What the tracker tests share: the `ablate` binary in a temporary folder, a small experiment, the store's
/// epochs, and the real MLflow server and Python that scripts/test.sh starts and installs (ABLATE_TEST_MLFLOW_URI,
/// ABLATE_TEST_PYTHON; ABLATE_TEST_TRACKERS_SKIP names why they are missing when the virtualenv could not be made).
class TrackerTestCase: XCTestCase {
    var dir: URL!

    static let ablate: URL = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("ablate").path) && url.path != "/" {
            url = url.deletingLastPathComponent()
        }
        return url.appendingPathComponent("ablate")
    }()

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.ablate.path) else {
            throw XCTSkip("the ablate executable is not built next to the tests (\(Self.ablate.path)): run `swift build --build-tests` first")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-trackers-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    static func skipReason(_ variable: String) -> String {
        let why = environment["ABLATE_TEST_TRACKERS_SKIP"].map { " (\($0))" } ?? ""
        return "\(variable) is not set\(why): scripts/test.sh installs mlflow and tensorboard into a virtualenv and starts an MLflow server"
    }

    func python() throws -> String {
        guard let python = Self.environment["ABLATE_TEST_PYTHON"], !python.isEmpty else {
            throw XCTSkip(Self.skipReason("ABLATE_TEST_PYTHON"))
        }
        return python
    }

    func mlflowURI() throws -> String {
        guard let uri = Self.environment["ABLATE_TEST_MLFLOW_URI"], !uri.isEmpty else {
            throw XCTSkip(Self.skipReason("ABLATE_TEST_MLFLOW_URI"))
        }
        return uri
    }

    /// A small experiment on synthetic data, named uniquely so tests sharing one MLflow server never meet.
    /// `split` and `training` add settings to those sections (`, validation_fraction: 0.25`, `select: last`),
    /// `top` top-level lines (`tracking: …`), `axes` matrix axes besides the seeds.
    func writeExperiment(_ stem: String, epochs: Int, seeds: [Int], perClass: Int = 24, size: Int = 32,
                         split: String = "", training: [String] = [], top: [String] = [],
                         axes: [String] = []) throws -> (file: String, name: String) {
        let name = "\(stem)-\(UUID().uuidString.prefix(8).lowercased())"
        let text = """
            name: \(name)
            data:
              path: data
              synthesize: {classes: 2, per_class: \(perClass), size: \(size)}
              size: \(size)
              split: {protocol: stratified, test_fraction: 0.25\(split)}
            training:
              epochs: \(epochs)
              batch_size: 8
              optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
              threads: 1
            \(training.map { "  " + $0 + "\n" }.joined())model:
              name: custom
              growth_rate: 4
              block_config: [2, 2]
              init_channels: 8
            \(top.map { $0 + "\n" }.joined())matrix:
              seed: [\(seeds.map(String.init).joined(separator: ", "))]
            \(axes.map { "  " + $0 }.joined(separator: "\n"))
            """
        let file = dir.appendingPathComponent("\(stem).yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return (file.path, name)
    }

    @discardableResult
    func start(_ executable: URL, _ args: [String], output: URL, environment: [String: String]? = nil) throws -> Process {
        let p = Process()
        p.executableURL = executable
        p.arguments = args
        p.currentDirectoryURL = dir
        if let environment { p.environment = environment }
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        return p
    }

    func ablate(_ args: [String], log: String? = nil, environment: [String: String]? = nil) throws -> Process {
        try start(Self.ablate, args, output: dir.appendingPathComponent(log ?? "ablate-\(UUID()).log"),
                  environment: environment)
    }

    /// Runs `ablate` to its end: its exit status and output.
    func run(_ args: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
        let log = "run-\(UUID()).log"
        let p = try ablate(args, log: log, environment: environment)
        p.waitUntilExit()
        return (p.terminationStatus, try String(contentsOf: dir.appendingPathComponent(log), encoding: .utf8))
    }

    func output(_ log: String) -> String {
        (try? String(contentsOf: dir.appendingPathComponent(log), encoding: .utf8)) ?? ""
    }

    func store(_ db: String) throws -> RunStore {
        try RunStore(readingOnly: dir.appendingPathComponent(db).path)
    }

    /// The store's epochs per run: config hash → epochs.
    func storedEpochs(_ db: String) throws -> [String: [EpochMetrics]] {
        let store = try store(db)
        var out: [String: [EpochMetrics]] = [:]
        for s in try store.listRuns() { out[s.run.configHash] = try store.epochs(runID: s.run.id).map(\.metrics) }
        return out
    }

    func waitForEpochs(_ db: String, atLeast n: Int, process: Process, log: String, timeout: TimeInterval = 180) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let count = try? storedEpochs(db).values.map(\.count).reduce(0, +), count >= n { return }
            if !process.isRunning {
                XCTFail("the run exited (status \(process.terminationStatus)) before \(n) epochs were recorded:\n\(output(log))")
                return
            }
            usleep(20_000)
        }
        XCTFail("no \(n) epochs recorded in \(timeout) s")
    }

    // MARK: MLflow read-back (its REST API, as any client sees it)

    struct MLflowRun {
        var id: String
        var status: String
        var tags: [String: String]
        var params: [String: String]
        /// Metric key → (step, value) in the order MLflow returns the history.
        var history: [String: [(step: Int64, value: Double)]]
    }

    /// Every active ablate run of the MLflow experiment `name`, keyed by its config-hash tag (the experiment's
    /// `report` run, which is no ablate run, left out).
    func mlflowRuns(_ uri: String, experiment name: String) throws -> [String: MLflowRun] {
        let client = try MLflowClient(uri: uri)
        let experiment = try client.get("experiments/get-by-name", [("experiment_name", name)])
        let id = try XCTUnwrap(experiment["experiment"]?["experiment_id"]?.text)
        let reply = try client.post("runs/search", .object(["experiment_ids": .array([.string(id)]), "max_results": .int(1000)]))
        var out: [String: MLflowRun] = [:]
        for r in reply["runs"]?.arrayValue ?? [] {
            func pairs(_ field: String) -> [String: String] {
                var o: [String: String] = [:]
                for p in r["data"]?[field]?.arrayValue ?? [] { o[p["key"]!.text!] = p["value"]?.text ?? "" }
                return o
            }
            let runID = try XCTUnwrap(r["info"]?["run_id"]?.text)
            var history: [String: [(Int64, Double)]] = [:]
            for key in TrackedMetrics.keys {
                let h = try client.get("metrics/get-history", [("run_id", runID), ("metric_key", key)])
                history[key] = (h["metrics"]?.arrayValue ?? []).map { m -> (Int64, Double) in (m["step"]!.int64Value!, m["value"]!.metricValue!) }
            }
            let tags = pairs("tags")
            if tags[MLflowSync.kindTag] == MLflowSync.reportKind { continue }
            let hash = try XCTUnwrap(tags[MLflowSync.configHashTag], "an MLflow run without the config-hash tag")
            XCTAssertNil(out[hash], "two MLflow runs carry the config hash \(hash)")
            out[hash] = MLflowRun(id: runID, status: r["info"]?["status"]?.text ?? "", tags: tags,
                                  params: pairs("params"), history: history)
        }
        return out
    }

    /// Every metric of every stored epoch is in MLflow exactly once, at step = epoch, with the stored value bit
    /// for bit; MLflow holds no other step.
    func assertMLflowEqualsStore(_ uri: String, experiment: String, db: String, status: String = "FINISHED",
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        let stored = try storedEpochs(db)
        let runs = try mlflowRuns(uri, experiment: experiment)
        XCTAssertEqual(Set(runs.keys), Set(stored.keys), "one MLflow run per ablate run", file: file, line: line)
        for (hash, epochs) in stored {
            guard let run = runs[hash] else { continue }
            XCTAssertEqual(run.status, status, "status of \(hash.prefix(12))", file: file, line: line)
            for key in TrackedMetrics.keys {
                let expected = epochs.compactMap { e in
                    TrackedMetrics.values(e).first { $0.key == key }.map { (Int64(e.epoch), $0.value) }
                }
                let got = (run.history[key] ?? []).sorted { $0.step < $1.step }
                XCTAssertEqual(got.map(\.step), expected.map(\.0), "\(key) of \(hash.prefix(12)): one step per epoch",
                               file: file, line: line)
                XCTAssertEqual(got.map(\.value.bitPattern), expected.map(\.1.bitPattern),
                               "\(key) of \(hash.prefix(12)): values equal the store's exactly", file: file, line: line)
            }
        }
    }

    // MARK: TensorBoard read-back (its own EventAccumulator)

    /// TensorBoard's view of a log folder: run folder → tag → [[step, value]].
    func accumulate(_ python: String, _ root: URL) throws -> [String: [String: [[Double]]]] {
        let script = """
            import json, os, sys
            from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
            root, out = sys.argv[1], {}
            for folder, _, files in os.walk(root):
                if any("tfevents" in f for f in files):
                    acc = EventAccumulator(folder, size_guidance={"scalars": 0})
                    acc.Reload()
                    out[os.path.relpath(folder, root)] = {t: [[s.step, s.value] for s in acc.Scalars(t)]
                                                          for t in acc.Tags()["scalars"]}
            print(json.dumps(out))
            """
        let log = dir.appendingPathComponent("accumulator-\(UUID()).json")
        let p = try start(URL(fileURLWithPath: python), ["-c", script, root.path], output: log)
        p.waitUntilExit()
        let text = try String(contentsOf: log, encoding: .utf8)
        XCTAssertEqual(p.terminationStatus, 0, text)
        // AblateCore's parser: Foundation's JSONSerialization rounds some doubles on Linux.
        guard case .object(let folders) = try JSONValue.parse(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            XCTFail(text)
            return [:]
        }
        return folders.mapValues { tags in
            guard case .object(let byTag) = tags else { return [:] }
            return byTag.mapValues { $0.arrayValue.map { $0.arrayValue.compactMap(\.metricValue) } }
        }
    }

    /// TensorBoard's scalars equal the store's (as 32-bit floats, what a scalar summary holds), one per epoch, and
    /// no tag is there that the store has no value for.
    func assertTensorBoardEqualsStore(_ seen: [String: [String: [[Double]]]], db: String,
                                      file: StaticString = #filePath, line: UInt = #line) throws {
        let store = try store(db)
        let runs = try store.listRuns()
        XCTAssertEqual(Set(seen.keys), Set(runs.map { RunFolderName.of($0.run, experiment: $0.experimentName) }),
                       file: file, line: line)
        for s in runs {
            let folder = RunFolderName.of(s.run, experiment: s.experimentName)
            let epochs = try store.epochs(runID: s.run.id).map(\.metrics)
            for key in TrackedMetrics.keys {
                let expected = epochs.compactMap { e in
                    TrackedMetrics.values(e).first { $0.key == key }.map { [Double(e.epoch), Double(Float($0.value))] }
                }
                XCTAssertEqual(seen[folder]?[key] ?? [], expected, "\(folder) \(key)", file: file, line: line)
            }
        }
    }
}
