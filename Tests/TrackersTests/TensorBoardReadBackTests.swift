import AblateCore
import Foundation
@testable import Trackers
import XCTest

/// Event files written live and by export, read back by TensorBoard's own EventAccumulator.
final class TensorBoardReadBackTests: TrackerTestCase {
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

    /// TensorBoard's scalars equal the store's (as 32-bit floats, what a scalar summary holds), one per epoch.
    func assertEqualsStore(_ seen: [String: [String: [[Double]]]], db: String) throws {
        let store = try store(db)
        let runs = try store.listRuns()
        XCTAssertEqual(Set(seen.keys), Set(runs.map { RunFolderName.of($0.run, experiment: $0.experimentName) }))
        for s in runs {
            let folder = RunFolderName.of(s.run, experiment: s.experimentName)
            let epochs = try store.epochs(runID: s.run.id).map(\.metrics)
            for key in TrackedMetrics.keys {
                let expected = epochs.compactMap { e in
                    TrackedMetrics.values(e).first { $0.key == key }.map { [Double(e.epoch), Double(Float($0.value))] }
                }
                XCTAssertEqual(seen[folder]?[key], expected, "\(folder) \(key)")
            }
        }
    }

    func testLiveAndExportedEventsReadBackEqualToTheStore() throws {
        let python = try python()
        let (file, _) = try writeExperiment("tb", epochs: 3, seeds: [1, 2])
        let live = try run(["run", file, "--db", "tb.sqlite", "--tensorboard", "live"])
        XCTAssertEqual(live.status, 0, live.output)
        try assertEqualsStore(try accumulate(python, dir.appendingPathComponent("live")), db: "tb.sqlite")

        let exported = try run(["export", "--format", "tensorboard", "--db", "tb.sqlite", "--out", "exported"])
        XCTAssertEqual(exported.status, 0, exported.output)
        XCTAssertTrue(exported.output.contains("6 epoch(s) of 2 run(s)"), exported.output)
        try assertEqualsStore(try accumulate(python, dir.appendingPathComponent("exported")), db: "tb.sqlite")

        // Exporting into a folder that has every epoch writes nothing: no second copy of a step.
        for folder in ["exported", "live"] {
            let again = try run(["export", "--format", "tensorboard", "--db", "tb.sqlite", "--out", folder])
            XCTAssertTrue(again.output.contains("0 epoch(s) of 2 run(s)"), again.output)
        }
        try assertEqualsStore(try accumulate(python, dir.appendingPathComponent("live")), db: "tb.sqlite")
    }

    /// Killed mid-run and resumed with the same --tensorboard folder: each process adds an event file with only
    /// the epochs after the last one the folder holds.
    func testKillNineAndResumeWritesEachStepOnce() throws {
        let python = try python()
        let (file, name) = try writeExperiment("tbkill", epochs: 6, seeds: [1], perClass: 64)
        let p = try ablate(["run", file, "--db", "k.sqlite", "--tensorboard", "live"], log: "kill.log")
        try waitForEpochs("k.sqlite", atLeast: 2, process: p, log: "kill.log")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal, "the run finished before it could be killed")
        let resumed = try run(["run", file, "--db", "k.sqlite", "--tensorboard", "live"])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        try assertEqualsStore(try accumulate(python, dir.appendingPathComponent("live")), db: "k.sqlite")
        let folder = dir.appendingPathComponent("live/\(name)/seed=1")
        let steps = try TensorBoardLog.events(in: folder).compactMap { e -> Int64? in
            if case .scalars(let s) = e.content, !s.isEmpty { return e.step }
            return nil
        }
        XCTAssertEqual(steps, [1, 2, 3, 4, 5, 6].map(Int64.init), "each step written once, in order")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path).count, 2, "one file per process")
    }
}
