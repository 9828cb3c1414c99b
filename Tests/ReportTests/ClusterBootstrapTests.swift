import AblateCore
@testable import Report
import XCTest

final class ClusterBootstrapTests: XCTestCase {
    /// Three groups with accuracies 0, 1/2, 1 (2 images each): the bootstrap distribution of the pooled accuracy
    /// is enumerable — each of the 3³ ordered draws equally likely. Its extremes (all draws the 0 group, or all the
    /// 1 group) each have probability 1/27 ≈ 3.7% > 2.5%, so the exact 2.5% and 97.5% quantiles are 0 and 1; the
    /// mean of the resampled accuracies is the sample's 0.5; the probability that accuracy is exactly 0.5 is
    /// P(draws balance) = 7/27 (each group once: 6 orders, or the middle group three times: 1).
    func testAgainstExactEnumerationOfThreeGroups() {
        let predictions = [("g0", false), ("g0", false), ("g1", true), ("g1", false), ("g2", true), ("g2", true)]
            .enumerated().map { i, p in
                Prediction(file: "\(p.0)/\(i).png", label: 0, probabilities: p.1 ? [0.9, 0.1] : [0.1, 0.9])
            }
        let index = ["g0": 0, "g1": 1, "g2": 2]
        let outcomes = GroupedOutcomes(predictions, positiveClass: 0, groups: 3) { index[String($0.prefix(2))]! }
        XCTAssertEqual(outcomes.accuracy(GroupedOutcomes.sample(groups: 3)), 0.5)
        let draws = ClusterBootstrap.draws(groups: 3, resamples: 20_000)
        XCTAssertTrue(draws.allSatisfy { $0.reduce(0, +) == 3 })
        let values = draws.map { outcomes.accuracy($0) }
        XCTAssertEqual(values.reduce(0, +) / Double(values.count), 0.5, accuracy: 0.01)
        XCTAssertEqual(Double(values.filter { $0 == 0.5 }.count) / Double(values.count), 7.0 / 27, accuracy: 0.01)
        XCTAssertEqual(Double(values.filter { $0 == 0 }.count) / Double(values.count), 1.0 / 27, accuracy: 0.005)
        let interval = ClusterBootstrap.percentileInterval(values)
        XCTAssertEqual(interval, 0...1)
        // The exact distribution over the 10 multisets: enumerate the 27 ordered draws.
        var exact: [Double: Int] = [:]
        for a in 0..<3 { for b in 0..<3 { for c in 0..<3 {
            var w = [Int32](repeating: 0, count: 3); w[a] += 1; w[b] += 1; w[c] += 1
            exact[outcomes.accuracy(w), default: 0] += 1
        } } }
        for (value, count) in exact {
            XCTAssertEqual(Double(values.filter { $0 == value }.count) / Double(values.count), Double(count) / 27,
                           accuracy: 0.012, "P(accuracy = \(value))")
        }
    }

    /// Same input, same draws, same interval, on every call (a fixed seed): reports rebuild byte for byte.
    func testDrawsAreReproducible() {
        XCTAssertEqual(ClusterBootstrap.draws(groups: 17), ClusterBootstrap.draws(groups: 17))
        XCTAssertNotEqual(ClusterBootstrap.draws(groups: 17, seed: 1), ClusterBootstrap.draws(groups: 17, seed: 2))
        let input = SampleInput.make()
        XCTAssertEqual(try ReportTables.summary(input), try ReportTables.summary(input))
    }

    /// ROC-AUC with all weights 1 is the plain AUC; a group drawn twice counts as its images duplicated.
    func testWeightedAUCIsTheAUCOfTheResampledImages() throws {
        let predictions = SampleInput.make().runs[0].predictions
        let files = predictions.map(\.file)
        let index = Dictionary(uniqueKeysWithValues: files.enumerated().map { ($1, $0) })
        let outcomes = GroupedOutcomes(predictions, positiveClass: 0, groups: files.count) { index[$0]! }
        let plain = try ClassificationMetrics.binary(predictions: predictions, positiveClass: 0).rocAUC!
        XCTAssertEqual(outcomes.rocAUC(GroupedOutcomes.sample(groups: files.count)), plain, accuracy: 1e-12)
        var w = [Int32](repeating: 1, count: files.count)
        for i in stride(from: 0, to: files.count, by: 3) { w[i] = 2 }
        for i in stride(from: 1, to: files.count, by: 5) { w[i] = 0 }
        var duplicated: [Prediction] = []
        for (i, p) in predictions.enumerated() { duplicated += Array(repeating: p, count: Int(w[i])) }
        let expected = try ClassificationMetrics.binary(predictions: duplicated, positiveClass: 0).rocAUC!
        XCTAssertEqual(outcomes.rocAUC(w), expected, accuracy: 1e-12)
    }

    func testVerdictAtEachBoundary() {
        func verdict(_ range: ClosedRange<Double>?) -> TargetVerdict {
            TargetVerdict(range.map { Estimate(value: ($0.lowerBound + $0.upperBound) / 2, interval: $0) }, target: 0.89)
        }
        XCTAssertEqual(verdict(0.89...0.95), .reached, "lower bound at the target reaches it")
        XCTAssertEqual(verdict(0.8899...0.95), .undetermined)
        XCTAssertEqual(verdict(0.85...0.89), .undetermined, "upper bound at the target does not rule it out")
        XCTAssertEqual(verdict(0.85...0.8899), .notReached)
        XCTAssertEqual(verdict(nil), .undetermined, "no predictions, no interval")
        XCTAssertEqual(TargetVerdict.overall([.notReached, .undetermined, .reached]), .reached)
        XCTAssertEqual(TargetVerdict.overall([.notReached, .undetermined]), .undetermined)
        XCTAssertEqual(TargetVerdict.overall([.notReached]), .notReached)
    }

    /// Paired Δ: both configurations on the same drawn groups, so a configuration against itself has Δ = 0 in
    /// every resample, and a constant shift has a zero-width interval.
    func testPairedDifferenceUsesTheSameDraws() throws {
        let input = SampleInput.make()
        let uncertainty = TestSetUncertainty(input)
        let runs = input.runs.filter { $0.configuration == "DenseNet-121" }
        let same = try XCTUnwrap(uncertainty.difference(candidate: runs, baseline: runs, .accuracy))
        XCTAssertEqual(same.value, 0)
        XCTAssertEqual(same.interval, 0...0)
        let single = try XCTUnwrap(uncertainty.estimate([runs[0]], .accuracy))
        let lastAccuracy = try XCTUnwrap(runs[0].epochs.last?.testAccuracy)
        XCTAssertEqual(single.value, lastAccuracy, accuracy: 1e-12)
        XCTAssertTrue(single.interval!.contains(single.value))
    }
}
