import AblateCore
import ExperimentFile
import Foundation
import Store
import XCTest

/// `ablate report --check-target` answers in three states from the binary: 0 reached, 3 undetermined, 2 not
/// reached, judged on the bootstrap interval of the last-epoch test accuracy.
extension CLITests {
    /// A store of the demo experiment (with `target`) whose six runs finished at 48/60 = 0.8 test accuracy.
    func finishedDemoStore(_ name: String, target: String) throws -> String {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("experiments/demo.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "target: test_acc >= 0.8", with: "target: test_acc >= \(target)")
        let file = dir.appendingPathComponent("\(name).yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let db = dir.appendingPathComponent("\(name).sqlite").path
        let store = try RunStore(path: db)
        let e = try Experiment.load(file: file.path, options: .init(baseDirectory: dir.path))
        _ = try e.enqueue(into: store)
        while let c = try store.claimNextRun(host: "target-test", staleAfter: 60) {
            try store.recordEpoch(c.lease, EpochMetrics(epoch: 1, trainLoss: 0.5, trainAccuracy: 0.8, testLoss: 0.5,
                                                        testAccuracy: 0.8, learningRate: 0.05, seconds: 1, imagesPerSecond: 100))
            let predictions = (0..<60).map { i -> Prediction in
                let label = i % 2, right = i < 48
                let p = right ? 0.9 : 0.1
                return Prediction(file: "data/\(label == 0 ? "a" : "b")/img\(i).png", label: label,
                                  probabilities: label == 0 ? [p, 1 - p] : [1 - p, p])
            }
            for kind in PredictionKind.allCases { try store.recordPredictions(c.lease, epoch: 1, kind: kind, predictions) }
            try store.finish(c.lease)
        }
        try store.close()
        return db
    }

    func testCheckTargetExitCodesFollowTheInterval() throws {
        for (target, status, word) in [("0.5", Int32(0), "reached"), ("0.8", 3, "undetermined"), ("0.99", 2, "not reached")] {
            let db = try finishedDemoStore("t\(status)", target: target)
            let r = try ablate(["report", "--db", db, "--out", dir.appendingPathComponent("r\(status)").path, "--check-target"])
            XCTAssertEqual(r.status, status, "target \(target): \(r.out) \(r.err) \((try? String(contentsOf: dir.appendingPathComponent("r\(status)/README.md"), encoding: .utf8)) ?? "")")
            XCTAssertTrue(r.out.contains("target \(target): \(word)"), r.out)
            let readme = try String(contentsOf: dir.appendingPathComponent("r\(status)/README.md"), encoding: .utf8)
            XCTAssertTrue(readme.contains("**Target (test accuracy ≥ \(target == "0.5" ? "0.500" : target == "0.8" ? "0.800" : "0.990")): \(word).**"), readme)
            XCTAssertTrue(readme.contains("Chance level: always answering"), readme)
        }
        let help = try ablate(["report", "--help"])
        let words = help.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        XCTAssertTrue(words.contains("exit 0 when some configuration's whole interval is at or above the target (reached), 3 when none is but some interval contains the target (undetermined), 2 when every interval is below it (not reached)"), help.out)
    }
}
