import AblateCore
import Foundation
import Store
import XCTest

/// Validation-selected epochs and early stopping through the real binary: killed with SIGKILL and resumed, a run
/// stops after the same epoch, selects the same epoch and keeps the same metrics, predictions and weights as an
/// uninterrupted one; export and merge carry all of it; `predict` uses the selected weights.
extension EndToEndTests {
    /// A synthetic stratified experiment with a validation part that selects on validation loss and stops early.
    /// `min_delta` is so large that only the first epoch counts as an improvement of the watched metric: early
    /// stopping then ends the run after epoch 1 + patience, whatever the numbers (selection has no min_delta).
    func writeSelectingExperiment(_ name: String, epochs: Int, patience: Int, minDelta: Double) throws -> String {
        let text = """
            name: \(name)
            data:
              path: data
              synthesize: {classes: 2, per_class: 30, size: 32}
              size: 32
              split: {protocol: stratified, test_fraction: 0.25, validation_fraction: 0.2}
              augment: {hflip: true}
            training:
              epochs: \(epochs)
              batch_size: 8
              optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
              select: best_val_loss
              early_stop: {metric: val_loss, patience: \(patience), min_delta: \(minDelta)}
              threads: 1
            model:
              name: custom
              growth_rate: 4
              block_config: [2, 2]
              init_channels: 8
              drop_rate: 0.1
            matrix:
              seed: [5]
            """
        let file = dir.appendingPathComponent("\(name).yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    /// Every recorded number of a store's runs, validation included, as bit patterns.
    func recorded(_ db: String) throws -> (epochs: [[UInt64]], selected: [(epoch: Int, prediction: Prediction)], run: RunRecord) {
        let store = try RunStore(path: dir.appendingPathComponent(db).path, create: false)
        guard let run = try store.listRuns().first?.run else { throw CocoaError(.fileReadNoSuchFile) }  // not queued yet
        let epochs = try store.epochs(runID: run.id).map { e -> [UInt64] in
            let m = e.metrics
            return [Double(m.epoch), m.trainLoss, m.trainAccuracy, m.testLoss ?? .nan, m.testAccuracy ?? .nan,
                    m.validationLoss ?? .nan, m.validationAccuracy ?? .nan, m.learningRate].map(\.bitPattern)
        }
        return (epochs, try store.predictions(runID: run.id, kind: .selected), run)
    }

    func testSelectionAndEarlyStoppingSurviveKillNineBitIdentically() throws {
        let file = try writeSelectingExperiment("select", epochs: 12, patience: 4, minDelta: 100)
        let reference = try run(["run", file, "--db", "full.sqlite", "--runs-dir", "runs-full"])
        XCTAssertEqual(reference.status, 0, reference.output)
        XCTAssertTrue(reference.output.contains("stopping early"), reference.output)
        XCTAssertTrue(reference.output.contains(" validation / "), "the data line counts the validation part: \(reference.output)")
        let expected = try recorded("full.sqlite")
        // Early stopping: epoch 1 is the only improvement by more than min_delta, so 4 more epochs end the run.
        XCTAssertEqual(expected.epochs.count, 5)
        XCTAssertEqual(expected.run.stoppedEarlyAt, 5)
        XCTAssertEqual(expected.run.status, .finished)
        XCTAssertEqual(expected.run.epochsTotal, 12)
        // Selection: the epoch of the lowest validation loss (the first of equals), its test predictions stored.
        let store = try RunStore(path: dir.appendingPathComponent("full.sqlite").path, create: false)
        let metrics = try store.epochs(runID: expected.run.id).map(\.metrics)
        let losses = metrics.map { try! XCTUnwrap($0.validationLoss) }
        let argmin = losses.indices.min { losses[$0] < losses[$1] || (losses[$0] == losses[$1] && $0 < $1) }!
        let selectedEpoch = try XCTUnwrap(expected.selected.first?.epoch)
        XCTAssertEqual(selectedEpoch, metrics[argmin].epoch)
        XCTAssertEqual(Set(expected.selected.map(\.epoch)), [selectedEpoch])
        let accuracy = Double(expected.selected.filter { $0.prediction.predicted == $0.prediction.label }.count)
            / Double(expected.selected.count)
        XCTAssertEqual(accuracy, metrics[argmin].testAccuracy!, accuracy: 1e-12,
                       "the selected predictions are the selected epoch's test predictions")
        let runFolder = URL(fileURLWithPath: try XCTUnwrap(expected.run.checkpointPath)).deletingLastPathComponent()
        let selectedFile = runFolder.appendingPathComponent("selected.safetensors")
        XCTAssertTrue(FileManager.default.fileExists(atPath: selectedFile.path))

        // Killed right after epochs 1, 2 and 3 are recorded (mid-epoch or mid-checkpoint), resumed each time.
        for kill in 1...3 {
            let log = dir.appendingPathComponent("kill-\(kill).log")
            let p = try start(["run", file, "--db", "killed.sqlite", "--runs-dir", "runs-killed"], output: log)
            try waitForSelectedEpochs("killed.sqlite", atLeast: kill, process: p, log: log)
            Darwin_kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .uncaughtSignal, "the run finished before it could be killed")
        }
        let resumed = try run(["run", file, "--db", "killed.sqlite", "--runs-dir", "runs-killed"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("resuming after epoch"), resumed.output)
        let got = try recorded("killed.sqlite")
        XCTAssertEqual(got.epochs, expected.epochs, "per-epoch metrics (validation included) differ after kill -9 and resume")
        XCTAssertEqual(got.run.stoppedEarlyAt, 5)
        XCTAssertEqual(got.selected.map(\.epoch), expected.selected.map(\.epoch))
        XCTAssertEqual(got.selected.map(\.prediction), expected.selected.map(\.prediction))
        let killedFolder = URL(fileURLWithPath: try XCTUnwrap(got.run.checkpointPath)).deletingLastPathComponent()
        XCTAssertEqual(try Data(contentsOf: killedFolder.appendingPathComponent("selected.safetensors")),
                       try Data(contentsOf: selectedFile), "the selected weights are the same bytes")

        // Export and merge keep validation metrics, the stop epoch and the selected predictions.
        let export = try run(["export", "--db", "full.sqlite", "--format", "json", "-o", "runs.json"])
        XCTAssertEqual(export.status, 0, export.output)
        let text = try String(contentsOf: dir.appendingPathComponent("runs.json"), encoding: .utf8)
        XCTAssertTrue(text.contains("\"stopped_early_at\": 5") || text.contains("\"stopped_early_at\":5"), text.prefix(2000).description)
        XCTAssertTrue(text.contains("\"val_loss\""))
        let merge = try run(["merge", "runs.json", "--into", "merged.sqlite"])
        XCTAssertEqual(merge.status, 0, merge.output)
        let merged = try recorded("merged.sqlite")
        XCTAssertEqual(merged.epochs, expected.epochs)
        XCTAssertEqual(merged.run.stoppedEarlyAt, 5)
        XCTAssertEqual(merged.selected.map(\.prediction), expected.selected.map(\.prediction))

        // `predict` answers with the selected weights: its probabilities for a test image are the stored ones.
        let probe = try XCTUnwrap(expected.selected.first?.prediction)
        let predicted = try run(["predict", "--db", "full.sqlite", "--run", "\(expected.run.id)", "--json", probe.file])
        XCTAssertEqual(predicted.status, 0, predicted.output)
        let answers = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(predicted.output.utf8)) as? [[String: Any]])
        let probabilities = try XCTUnwrap(answers.first?["probabilities"] as? [String: Double])
        let byClass = probabilities.sorted { $0.key < $1.key }.map(\.value)
        for (a, b) in zip(byClass, probe.probabilities) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    }

    /// Patience longer than the run: every epoch trains, and no stop is recorded.
    func testEarlyStoppingThatNeverTriggersTrainsEveryEpoch() throws {
        let file = try writeSelectingExperiment("patient", epochs: 3, patience: 5, minDelta: 0)
        let result = try run(["run", file, "--db", "p.sqlite", "--runs-dir", "runs-p"])
        XCTAssertEqual(result.status, 0, result.output)
        let got = try recorded("p.sqlite")
        XCTAssertEqual(got.epochs.count, 3)
        XCTAssertNil(got.run.stoppedEarlyAt)
        XCTAssertFalse(result.output.contains("stopping early"))
    }

    func waitForSelectedEpochs(_ db: String, atLeast n: Int, process: Process, log: URL, timeout: TimeInterval = 120) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent(db).path),
               let count = try? recorded(db).epochs.count, count >= n { return }
            if !process.isRunning {
                let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                return XCTFail("the run exited (status \(process.terminationStatus)) before \(n) epochs were recorded:\n\(output)")
            }
            usleep(20_000)
        }
        XCTFail("no \(n) epochs recorded in \(timeout) s")
    }
}
