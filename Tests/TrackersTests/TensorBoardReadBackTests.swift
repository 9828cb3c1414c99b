import AblateCore
import Foundation
@testable import Trackers
import XCTest

/// Event files written live and by export, read back by TensorBoard's own EventAccumulator.
final class TensorBoardReadBackTests: TrackerTestCase {
    func testLiveAndExportedEventsReadBackEqualToTheStore() throws {
        let python = try python()
        let (file, _) = try writeExperiment("tb", epochs: 3, seeds: [1, 2])
        let live = try run(["run", file, "--db", "tb.sqlite", "--tensorboard", "live"])
        XCTAssertEqual(live.status, 0, live.output)
        try assertTensorBoardEqualsStore(try accumulate(python, dir.appendingPathComponent("live")), db: "tb.sqlite")

        let exported = try run(["export", "--format", "tensorboard", "--db", "tb.sqlite", "--out", "exported"])
        XCTAssertEqual(exported.status, 0, exported.output)
        XCTAssertTrue(exported.output.contains("6 epoch(s) of 2 run(s)"), exported.output)
        try assertTensorBoardEqualsStore(try accumulate(python, dir.appendingPathComponent("exported")), db: "tb.sqlite")

        // Exporting into a folder that has every epoch writes nothing: no second copy of a step.
        for folder in ["exported", "live"] {
            let again = try run(["export", "--format", "tensorboard", "--db", "tb.sqlite", "--out", folder])
            XCTAssertTrue(again.output.contains("0 epoch(s) of 2 run(s)"), again.output)
        }
        try assertTensorBoardEqualsStore(try accumulate(python, dir.appendingPathComponent("live")), db: "tb.sqlite")
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
        try assertTensorBoardEqualsStore(try accumulate(python, dir.appendingPathComponent("live")), db: "k.sqlite")
        let folder = dir.appendingPathComponent("live/\(name)/seed=1")
        let steps = try TensorBoardLog.events(in: folder).compactMap { e -> Int64? in
            if case .scalars(let s) = e.content, !s.isEmpty { return e.step }
            return nil
        }
        XCTAssertEqual(steps, [1, 2, 3, 4, 5, 6].map(Int64.init), "each step written once, in order")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path).count, 2, "one file per process")
    }
}
