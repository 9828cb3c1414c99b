import AblateCore
import Foundation
import Store
@testable import Trackers
import XCTest

/// Validation metrics, the selected epoch and early stopping in MLflow and TensorBoard, logged live through the
/// experiment file's `tracking:` and exported; `export --artifacts` read back through MLflow's own API and client.
final class ValidationTrackingTests: TrackerTestCase {
    /// A validation part, epoch selection on validation loss and early stopping, twice: with `min_delta: 0` (the
    /// run may or may not stop early) and with `min_delta: 10` (no epoch improves by 10: it stops after epoch 3).
    func writeValidationExperiment(_ stem: String, epochs: Int, top: [String] = []) throws -> (file: String, name: String) {
        try writeExperiment(stem, epochs: epochs, seeds: [1], perClass: 32, split: ", validation_fraction: 0.25",
                            training: ["select: best_val_loss", "early_stop: {metric: val_loss, patience: 2}"],
                            top: top, axes: ["training.early_stop.min_delta: [0, 10]"])
    }

    /// The run's selected epoch as the store records it: the epoch of its `selected` predictions.
    func storedSelectedEpoch(_ store: RunStore, _ run: RunRecord) throws -> Int? {
        try store.predictions(runID: run.id, kind: .selected).first?.epoch
    }

    func testValidationLoggedLiveThroughTheFileAndExportedEqualTheStore() throws {
        let uri = try mlflowURI()
        let python = try python()
        let (file, name) = try writeValidationExperiment("val", epochs: 8, top: ["tracking: {mlflow: '\(uri)'}"])
        // The file's tracking.mlflow comes before MLFLOW_TRACKING_URI (here a port nobody listens on).
        var environment = Self.environment
        environment["MLFLOW_TRACKING_URI"] = "http://127.0.0.1:9"
        let live = try run(["run", file, "--db", "v.sqlite", "--tensorboard", "live"], environment: environment)
        XCTAssertEqual(live.status, 0, live.output)
        XCTAssertTrue(live.output.contains("MLflow: logging to \(uri) (from tracking.mlflow of the experiment file, "
                                           + "which replaces MLFLOW_TRACKING_URI)"), live.output)
        XCTAssertFalse(live.output.contains("warning: MLflow"), live.output)

        let store = try store("v.sqlite")
        let runs = try store.listRuns()
        XCTAssertEqual(runs.count, 2)
        var stoppedEarly = 0
        for s in runs {
            let epochs = try store.epochs(runID: s.run.id).map(\.metrics)
            XCTAssertFalse(epochs.isEmpty)
            XCTAssertTrue(epochs.allSatisfy { $0.validationLoss != nil && $0.validationAccuracy != nil })
            if s.run.label.hasSuffix("min_delta=10") {
                XCTAssertEqual(s.run.stoppedEarlyAt, 3, "no epoch improves validation loss by 10")
                XCTAssertEqual(epochs.count, 3)
            }
            if let stop = s.run.stoppedEarlyAt { stoppedEarly += 1; XCTAssertEqual(epochs.count, stop) }
            XCTAssertEqual(try storedSelectedEpoch(store, s.run), EpochSelection.bestValLoss.selectedEpoch(in: epochs))
        }
        XCTAssertGreaterThanOrEqual(stoppedEarly, 1)

        // MLflow, live: every metric (val/loss and val/accuracy among them) equals the store's; the tags name the
        // selected epoch and the early stop as the store records them.
        try assertMLflowEqualsStore(uri, experiment: name, db: "v.sqlite")
        func checkMLflowTags() throws {
            let mlflow = try mlflowRuns(uri, experiment: name)
            for s in runs {
                let r = try XCTUnwrap(mlflow[s.run.configHash])
                let epochs = try store.epochs(runID: s.run.id)
                XCTAssertEqual(r.history["val/loss"]?.map(\.value.bitPattern), epochs.map { $0.metrics.validationLoss!.bitPattern })
                XCTAssertEqual(r.history["val/accuracy"]?.map(\.value.bitPattern), epochs.map { $0.metrics.validationAccuracy!.bitPattern })
                XCTAssertEqual(r.tags[MLflowSync.selectedEpochTag], try storedSelectedEpoch(store, s.run).map(String.init))
                XCTAssertNotNil(r.tags[MLflowSync.selectedEpochTag])
                XCTAssertEqual(r.tags[MLflowSync.stoppedEarlyTag], s.run.stoppedEarlyAt.map(String.init))
                XCTAssertEqual(r.params["training.select"], "best_val_loss")
                XCTAssertEqual(r.params["data.split.validation_fraction"], "0.25")
                print("MLflow read back for \(s.run.label): val/loss \(r.history["val/loss"]?.map(\.value) ?? []), "
                      + "val/accuracy \(r.history["val/accuracy"]?.map(\.value) ?? []), "
                      + "\(MLflowSync.selectedEpochTag) \(r.tags[MLflowSync.selectedEpochTag] ?? "-"), "
                      + "\(MLflowSync.stoppedEarlyTag) \(r.tags[MLflowSync.stoppedEarlyTag] ?? "-")")
            }
        }
        try checkMLflowTags()
        // An export afterwards has nothing to add, and changes nothing.
        let export = try run(["export", "--format", "mlflow", "--db", "v.sqlite", "--mlflow", uri])
        XCTAssertTrue(export.output.contains("2 run(s), 0 created; sent 0 metric value(s), 0 param(s), 0 tag(s), 0 status change(s)"),
                      export.output)
        try assertMLflowEqualsStore(uri, experiment: name, db: "v.sqlite")
        try checkMLflowTags()

        // TensorBoard, live and exported: the same scalars, the selected epoch so far at every step, early
        // stopping's epoch once; a second export writes nothing.
        func checkTensorBoard(_ folder: String) throws {
            let seen = try accumulate(python, dir.appendingPathComponent(folder))
            try assertTensorBoardEqualsStore(seen, db: "v.sqlite")
            for s in runs {
                let tags = try XCTUnwrap(seen[RunFolderName.of(s.run, experiment: name)])
                let epochs = try store.epochs(runID: s.run.id).map(\.metrics)
                let selected = epochs.map { e in
                    [Double(e.epoch), Double(EpochSelection.bestValLoss.selectedEpoch(in: epochs.filter { $0.epoch <= e.epoch })!)]
                }
                XCTAssertEqual(tags[TrackedMetrics.selectedEpochKey], selected, folder)
                XCTAssertEqual(tags[TrackedMetrics.selectedEpochKey]?.last?.last,
                               try storedSelectedEpoch(store, s.run).map(Double.init), folder)
                XCTAssertEqual(tags[TrackedMetrics.stoppedEarlyKey], s.run.stoppedEarlyAt.map { [[Double($0), Double($0)]] },
                               folder)
                print("TensorBoard \(folder) read back for \(s.run.label): val/loss \(tags["val/loss"] ?? []), "
                      + "selected_epoch \(tags[TrackedMetrics.selectedEpochKey] ?? []), "
                      + "stopped_early_at \(tags[TrackedMetrics.stoppedEarlyKey] ?? [])")
            }
        }
        try checkTensorBoard("live")
        let exported = try run(["export", "--format", "tensorboard", "--db", "v.sqlite", "--out", "exported"])
        XCTAssertEqual(exported.status, 0, exported.output)
        try checkTensorBoard("exported")
        for folder in ["exported", "live"] {
            let again = try run(["export", "--format", "tensorboard", "--db", "v.sqlite", "--out", folder])
            XCTAssertTrue(again.output.contains("0 epoch(s) of 2 run(s)"), again.output)
            try checkTensorBoard(folder)
        }
    }

    /// A bad `tracking.mlflow` stops `ablate run` before anything trains, naming the key.
    func testBadTrackingAddressNamesTheKey() throws {
        let (file, _) = try writeExperiment("badtracking", epochs: 1, seeds: [1], top: ["tracking: {mlflow: 'file:///tmp/mlruns'}"])
        let r = try run(["run", file, "--db", "b.sqlite"])
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("tracking.mlflow"), r.output)
        XCTAssertTrue(r.output.contains("not an MLflow tracking server address"), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("b.sqlite").path))
    }

    func testMLflowAddressPrecedence() {
        XCTAssertNil(MLflowChoice.resolve(flag: nil, file: nil, environment: nil))
        XCTAssertNil(MLflowChoice.resolve(flag: nil, file: nil, environment: ""))
        let all = MLflowChoice.resolve(flag: "http://f:1", file: "http://y:2", environment: "http://e:3")
        XCTAssertEqual(all, MLflowChoice(uri: "http://f:1", source: .flag, overrides: [.file, .environment]))
        XCTAssertEqual(all?.explanation,
                       "--mlflow, which replaces tracking.mlflow of the experiment file and MLFLOW_TRACKING_URI")
        XCTAssertEqual(MLflowChoice.resolve(flag: nil, file: "http://y:2", environment: "http://e:3"),
                       MLflowChoice(uri: "http://y:2", source: .file, overrides: [.environment]))
        XCTAssertEqual(MLflowChoice.resolve(flag: nil, file: nil, environment: "http://e:3")?.explanation, "MLFLOW_TRACKING_URI")
    }

    /// `--artifacts`: each finished run's weights (selected.safetensors when it selects on validation, the last
    /// epoch's weights taken out of its checkpoint otherwise) and the report folder, listed back by MLflow's
    /// `artifacts/list` at their sizes and downloaded by MLflow's own client byte for byte; a second export
    /// uploads nothing and lists the same.
    func testArtifactsUploadOnceAndReadBackEqual() throws {
        let uri = try mlflowURI()
        let python = try python()
        let (file, name) = try writeExperiment("artifacts", epochs: 3, seeds: [1], perClass: 32,
                                               split: ", validation_fraction: 0.25",
                                               axes: ["training.select: [best_val_loss, last]"])
        let trained = try run(["run", file, "--db", "a.sqlite"])
        XCTAssertEqual(trained.status, 0, trained.output)
        let report = try run(["report", "--db", "a.sqlite", "--out", "rep"])
        XCTAssertEqual(report.status, 0, report.output)
        let reportFiles = try ArtifactFile.folder(dir.appendingPathComponent("rep"), under: "report")
        XCTAssertFalse(reportFiles.isEmpty)

        let args = ["export", "--format", "mlflow", "--db", "a.sqlite", "--mlflow", uri, "--artifacts", "--report-dir", "rep"]
        let first = try run(args)
        XCTAssertEqual(first.status, 0, first.output)
        XCTAssertTrue(first.output.contains("artifacts: \(2 + reportFiles.count) file(s) uploaded"), first.output)

        let store = try store("a.sqlite")
        let client = try MLflowClient(uri: uri)
        let runs = try mlflowRuns(uri, experiment: name)
        /// MLflow's listing (tracking API, `artifacts/list`), path → size, folders walked.
        func listing(_ runID: String, _ path: String) throws -> [String: Int64] {
            let reply = try client.get("artifacts/list", [("run_id", runID), ("path", path)])
            var out: [String: Int64] = [:]
            for f in reply["files"]?.arrayValue ?? [] {
                let p = try XCTUnwrap(f["path"]?.text)
                if f["is_dir"] == .bool(true) {
                    out.merge(try listing(runID, p)) { a, _ in a }
                } else {
                    out[p] = try XCTUnwrap(f["file_size"]?.int64Value)
                }
            }
            return out
        }
        let reportRunID = try XCTUnwrap(reportRun(uri, experiment: name))
        let listed = try Dictionary(uniqueKeysWithValues: ([reportRunID] + runs.values.map(\.id)).map {
            ($0, try listing($0, ""))
        })
        print("artifacts listed back: \(listed.values.flatMap { $0.map { "\($0.key) \($0.value)" } }.sorted())")

        // MLflow's own client downloads them: the selected weights and the report as they are on disk, the last
        // weights as the checkpoint's model tensors, byte for byte, without its optimiser state.
        let downloads = dir.appendingPathComponent("downloads")
        let script = """
            import sys, mlflow
            mlflow.set_tracking_uri(sys.argv[1])
            for run_id in sys.argv[3:]:
                mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=sys.argv[2] + "/" + run_id)
            """
        let log = dir.appendingPathComponent("download.log")
        let p = try start(URL(fileURLWithPath: python), ["-c", script, uri, downloads.path] + Array(listed.keys), output: log)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, output("download.log"))
        for s in try store.listRuns() {
            let folder = URL(fileURLWithPath: s.run.checkpointPath!).deletingLastPathComponent()
            let id = runs[s.run.configHash]!.id
            if s.run.label.contains("best_val_loss") {
                XCTAssertEqual(try Data(contentsOf: downloads.appendingPathComponent("\(id)/weights/selected.safetensors")),
                               try Data(contentsOf: folder.appendingPathComponent("selected.safetensors")))
            } else {
                let last = try SafetensorsFile(downloads.appendingPathComponent("\(id)/weights/last.safetensors"))
                let checkpoint = try SafetensorsFile(folder.appendingPathComponent("checkpoint.safetensors"))
                XCTAssertEqual(last.metadata, ["epoch": "3"])
                XCTAssertEqual(Set(last.entries.keys), Set(checkpoint.entries.keys.filter { !$0.hasPrefix("optimizer.") }))
                XCTAssertTrue(checkpoint.entries.keys.contains { $0.hasPrefix("optimizer.") })
                for (key, entry) in last.entries { XCTAssertEqual(entry, checkpoint.entries[key], key) }
                XCTAssertEqual(Int64(last.size), listed[id]?["weights/last.safetensors"])
            }
        }
        for f in reportFiles {
            XCTAssertEqual(try Data(contentsOf: downloads.appendingPathComponent("\(reportRunID)/\(f.path)")),
                           try Data(contentsOf: f.local), f.path)
        }
        // The listing's sizes: the files on disk (the last weights: as downloaded, checked above).
        var expected: [String: [String: Int64]] = [:]
        for s in try store.listRuns() {
            let folder = URL(fileURLWithPath: s.run.checkpointPath!).deletingLastPathComponent()
            let id = runs[s.run.configHash]!.id
            expected[id] = s.run.label.contains("best_val_loss")
                ? ["weights/selected.safetensors": try size(folder.appendingPathComponent("selected.safetensors"))]
                : ["weights/last.safetensors": try size(downloads.appendingPathComponent("\(id)/weights/last.safetensors"))]
        }
        expected[reportRunID] = Dictionary(uniqueKeysWithValues: try reportFiles.map { ($0.path, try size($0.local)) })
        XCTAssertEqual(listed, expected)

        // Again: nothing uploaded, the same listing (one file per path).
        let second = try run(args)
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertTrue(second.output.contains("artifacts: 0 file(s) uploaded (0 bytes), \(2 + reportFiles.count) already there"),
                      second.output)
        XCTAssertTrue(second.output.contains("0 created; sent 0 metric value(s), 0 param(s), 0 tag(s)"), second.output)
        XCTAssertEqual(try reportRun(uri, experiment: name), reportRunID)
        XCTAssertEqual(try Dictionary(uniqueKeysWithValues: listed.keys.map { ($0, try listing($0, "")) }), listed)
        try assertMLflowEqualsStore(uri, experiment: name, db: "a.sqlite")
    }

    func size(_ file: URL) throws -> Int64 {
        Int64(try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber).int64Value)
    }

    /// The id of the experiment's `report` run.
    func reportRun(_ uri: String, experiment name: String) throws -> String? {
        let client = try MLflowClient(uri: uri)
        let experiment = try client.get("experiments/get-by-name", [("experiment_name", name)])
        let id = try XCTUnwrap(experiment["experiment"]?["experiment_id"]?.text)
        let reply = try client.post("runs/search", .object(["experiment_ids": .array([.string(id)]), "max_results": .int(100)]))
        let reports = (reply["runs"]?.arrayValue ?? []).filter { r in
            (r["data"]?["tags"]?.arrayValue ?? []).contains {
                $0["key"]?.text == MLflowSync.kindTag && $0["value"]?.text == MLflowSync.reportKind
            }
        }
        XCTAssertLessThanOrEqual(reports.count, 1, "one report run")
        return reports.first?["info"]?["run_id"]?.text
    }
}

/// A safetensors file read by the test itself: each entry's dtype, shape and raw bytes, and the metadata.
struct SafetensorsFile {
    struct Entry: Equatable {
        var dtype: String
        var shape: [Int]
        var bytes: Data
    }

    var entries: [String: Entry] = [:]
    var metadata: [String: String] = [:]
    var size: Int

    init(_ url: URL) throws {
        let data = try Data(contentsOf: url)
        size = data.count
        let length = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian)
        guard case .object(let header) = try JSONValue.parse(String(decoding: data[8..<(8 + length)], as: UTF8.self)) else {
            throw TrackerError.io("\(url.path): no JSON header")
        }
        for (name, value) in header {
            if name == "__metadata__" {
                if case .object(let m) = value { metadata = m.compactMapValues(\.text) }
                continue
            }
            let offsets = value["data_offsets"]?.arrayValue.compactMap(\.int64Value).map(Int.init) ?? []
            guard offsets.count == 2 else { throw TrackerError.io("\(url.path): \(name) has no offsets") }
            entries[name] = Entry(dtype: value["dtype"]?.text ?? "", shape: value["shape"]?.arrayValue.compactMap(\.int64Value).map(Int.init) ?? [],
                                  bytes: data.subdata(in: (8 + length + offsets[0])..<(8 + length + offsets[1])))
        }
    }
}
