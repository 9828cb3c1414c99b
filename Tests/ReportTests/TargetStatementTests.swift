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

    func testNotReachedNamesTheClosestConfigurationAndTheBestRun() throws {
        let runs = [run("base", seed: 1, [0.80, 0.87, 0.86]), run("base", seed: 2, [0.85, 0.84, 0.85]),
                    run("se", seed: 1, [0.70, 0.90, 0.82]), run("se", seed: 2, [0.60, 0.70, 0.75])]
        let text = try ReportTables.targetStatement(input(runs))
        XCTAssertFalse(input(runs).reachesTarget)
        // base: best 0.87, 0.85 → mean 0.860; se: 0.90, 0.75 → 0.825; best single run: se seed 1, 0.900 at epoch 2.
        XCTAssertTrue(text.hasPrefix("**Target (test accuracy ≥ 0.890): not reached.**"), text)
        XCTAssertTrue(text.contains("The closest is base (best epoch 0.860 ± 0.014 over 2 seeds, last epoch 0.855 ± 0.007; 0 of 2 runs reached it in some epoch)"), text)
        XCTAssertTrue(text.contains("the best single run is se seed 1 with 0.900 at epoch 2"), text)
    }

    func testReachedListsEveryConfigurationThatReachesIt() throws {
        let runs = [run("base", seed: 1, [0.91, 0.90]), run("base", seed: 2, [0.88, 0.89]),
                    run("se", seed: 1, [0.95, 0.93]), run("se", seed: 2, [0.80, 0.99], status: .failed)]
        let text = try ReportTables.targetStatement(input(runs))
        XCTAssertTrue(input(runs).reachesTarget)
        XCTAssertTrue(text.hasPrefix("**Target (test accuracy ≥ 0.890): reached** by base (best epoch 0.900 ± 0.014 over 2 seeds, "
                                     + "last epoch 0.895 ± 0.007; 2 of 2 runs reached it in some epoch); se (best epoch 0.950"), text)
        XCTAssertTrue(text.contains("over 1 seed,"), "the failed run is not counted: \(text)")
        XCTAssertTrue(text.contains("the best single run is se seed 1 with 0.950 at epoch 1"), text)
        let readme = try reportMarkdown(input(runs), generatedAt: Date(timeIntervalSince1970: 0), withFigures: false)
        XCTAssertTrue(readme.contains(text), "the statement is in the report, under the summary")
    }

    func testNothingFinishedYet() throws {
        let text = try ReportTables.targetStatement(input([run("base", seed: 1, [0.95], status: .running)]))
        XCTAssertEqual(text, "**Target (test accuracy ≥ 0.890):** no finished run yet.\n")
    }
}
