import AblateCore
import Foundation
import XCTest
@testable import Runner

/// What `ablate status` and `ablate run` print about time left, and what a run records about where it ran.
final class ProgressTests: XCTestCase {
    func testSecondsLeftFromEpochTimes() {
        let runs = [
            ETA.Run(id: 1, experiment: "a", status: .finished, epochsTotal: 4, epochsDone: 4, epochSeconds: [10, 10, 10, 10]),
            ETA.Run(id: 2, experiment: "a", status: .running, epochsTotal: 4, epochsDone: 2, epochSeconds: [20, 40]),
            ETA.Run(id: 3, experiment: "a", status: .queued, epochsTotal: 5, epochsDone: 0, epochSeconds: []),
            ETA.Run(id: 4, experiment: "b", status: .interrupted, epochsTotal: 3, epochsDone: 0, epochSeconds: []),
            ETA.Run(id: 5, experiment: "a", status: .failed, epochsTotal: 3, epochsDone: 1, epochSeconds: [50]),
        ]
        let eta = ETA.secondsLeft(runs)
        XCTAssertNil(eta[1], "finished runs have nothing left")
        XCTAssertEqual(eta[2], 2 * 30, "its own mean epoch")
        // Before its first epoch: the mean of its experiment's runs' means (10, 30 and 50 seconds).
        XCTAssertEqual(eta[3], 5 * 30)
        XCTAssertNil(eta[4], "nothing to go by")
        XCTAssertNil(eta[5], "a failed run is not waiting")
    }

    func testDurationFormat() {
        XCTAssertEqual(ETA.format(0), "0m00s")
        XCTAssertEqual(ETA.format(65.4), "1m05s")
        XCTAssertEqual(ETA.format(3599.6), "1h00m")
        XCTAssertEqual(ETA.format(7620), "2h07m")
    }

    func testTrainingClock() {
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        var clock = TrainingClock()
        clock.runStarted(queueLeft: 2, at: t0)
        // Half of the first epoch in 50 s: an epoch takes 100 s; 150 s left in this run plus 3 × 100 s for each of
        // the two runs queued after it.
        var left = clock.secondsLeft(epoch: 1, epochs: 3, batch: 5, batches: 10, at: t0.addingTimeInterval(50))
        XCTAssertEqual(left.run, 250, accuracy: 1e-9)
        XCTAssertEqual(left.all, 850, accuracy: 1e-9)
        // After an epoch of 120 s, the next is taken to last as long.
        clock.epochFinished(seconds: 120)
        left = clock.secondsLeft(epoch: 2, epochs: 3, batch: 1, batches: 10, at: t0.addingTimeInterval(150))
        XCTAssertEqual(left.run, 120 + 90, accuracy: 1e-9)
        XCTAssertEqual(left.all, 210 + 2 * 360, accuracy: 1e-9)
        // Never negative when an epoch runs long.
        left = clock.secondsLeft(epoch: 3, epochs: 3, batch: 9, batches: 10, at: t0.addingTimeInterval(500))
        XCTAssertEqual(left.run, 0)
    }

    func testGitCommitOfACheckoutAndOutsideOne() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablate-provenance-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertNil(Provenance.gitCommit(in: dir.path), "not a checkout")
        func git(_ args: [String]) throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["git", "-C", dir.path, "-c", "user.name=t", "-c", "user.email=t@example.invalid"] + args
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = FileHandle.nullDevice
            try p.run()
            let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw XCTSkip("git \(args.joined(separator: " ")) failed here") }
            return out.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        _ = try git(["init", "-q"])
        XCTAssertNil(Provenance.gitCommit(in: dir.path), "a checkout without commits")
        _ = try git(["commit", "-q", "--allow-empty", "-m", "first"])
        let commit = try XCTUnwrap(Provenance.gitCommit(in: dir.path))
        XCTAssertEqual(commit.count, 12)
        XCTAssertEqual(commit, String(try git(["rev-parse", "HEAD"]).prefix(12)))
        XCTAssertFalse(Provenance.host.isEmpty)
    }
}
