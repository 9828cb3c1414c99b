// The report says in words whether the target was reached, by which configuration, and the best results.
import AblateCore
import Foundation
@testable import Report
import XCTest

final class TargetStatementTests: XCTestCase {
    func run(_ name: String, seed: Int, _ accuracies: [Double], status: RunStatus = .finished) -> ReportRun {
        ReportRun(configuration: name, seed: seed, parameters: 1, multiplyAdds: 1, status: status,
                  epochs: accuracies.enumerated().map { i, a in
                      EpochMetrics(epoch: i + 1, trainLoss: 0.5, trainAccuracy: 0.8, testLoss: 0.5, testAccuracy: a,
                                   learningRate: 0.001, seconds: 10, imagesPerSecond: 20)
                  })
    }

    func input(_ runs: [ReportRun]) -> ReportInput {
        ReportInput(title: "t", runs: runs, targetAccuracy: 0.89, classNames: ["a", "b"], positiveClass: 0)
    }

    /// Runs with last-epoch predictions on 100 images, `right` of them right.
    func scored(_ name: String, seed: Int, _ accuracies: [Double], right: Int) -> ReportRun {
        var r = run(name, seed: seed, accuracies)
        r.predictions = (0..<100).map { i in
            Prediction(file: "img\(i).png", label: i % 2, probabilities: (i < right) == (i % 2 == 0) ? [0.8, 0.2] : [0.2, 0.8])
        }
        return r
    }

    func testThreeStatesFromTheLastEpochInterval() throws {
        // base: 80/100 right ([0.72, 0.87] or so: below 0.89 → not reached); mid: 89/100 (interval contains 0.89);
        // top: 99/100 (whole interval above 0.89 → reached).
        let runs = [scored("base", seed: 1, [0.85, 0.80], right: 80), scored("base", seed: 2, [0.86, 0.80], right: 80),
                    scored("mid", seed: 1, [0.95, 0.89], right: 89), scored("top", seed: 1, [0.97, 0.99], right: 99)]
        let text = try ReportTables.targetStatement(input(runs))
        XCTAssertEqual(input(runs).targetVerdict, .reached)
        XCTAssertTrue(text.hasPrefix("**Target (test accuracy ≥ 0.890): reached.**"), text)
        XCTAssertTrue(text.contains("reached by top (0.990 ["), text)
        XCTAssertTrue(text.contains("undetermined for mid (0.890 ["), text)
        XCTAssertTrue(text.contains("not reached by base (0.800 ["), text)
        XCTAssertTrue(text.contains("over the test set's 100 images"), text)
        XCTAssertTrue(text.contains("picked on the test set and so optimistic: top seed 1 with 0.990 at epoch 2"), text)
        XCTAssertEqual(input(Array(runs.prefix(3))).targetVerdict, .undetermined)
        XCTAssertEqual(input(Array(runs.prefix(2))).targetVerdict, .notReached)
        let readme = try reportMarkdown(input(runs), generatedAt: Date(timeIntervalSince1970: 0), withFigures: false)
        XCTAssertTrue(readme.contains(text), "the statement is in the report, under the summary")
        XCTAssertTrue(readme.contains("Chance level: always answering a scores 50/100 = 0.500"), readme)
    }

    /// Old stores without predictions: the accuracy is still reported, the verdict is undetermined and says why.
    func testWithoutPredictionsTheVerdictIsUndetermined() throws {
        let runs = [run("base", seed: 1, [0.91, 0.95]), run("base", seed: 2, [0.88, 0.93])]
        let text = try ReportTables.targetStatement(input(runs))
        XCTAssertTrue(text.hasPrefix("**Target (test accuracy ≥ 0.890): undetermined.**"), text)
        XCTAssertTrue(text.contains("no stored predictions to resample"), text)
    }

    func testNothingFinishedYet() throws {
        let text = try ReportTables.targetStatement(input([run("base", seed: 1, [0.95], status: .running)]))
        XCTAssertEqual(text, "**Target (test accuracy ≥ 0.890):** no finished run yet.\n")
    }
}
