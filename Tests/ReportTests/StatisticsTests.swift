@testable import Report
import AblateCore
import XCTest

// Expected values come from scipy 1.17 (numpy/scipy.stats/scipy.special) on this machine, as noted per test.
final class StatisticsTests: XCTestCase {
    let accuracies = [0.912, 0.905, 0.921, 0.899, 0.917]

    func testMeanAndSampleStandardDeviation() throws {
        // np.mean(x) = 0.9108; np.std(x, ddof=1) = 0.008899438184514804
        XCTAssertEqual(try Statistics.mean(accuracies), 0.9108, accuracy: 1e-12)
        XCTAssertEqual(try Statistics.sampleStandardDeviation(accuracies), 0.008899438184514804, accuracy: 1e-12)
        // By hand: [1, 3] has mean 2 and s = √((1 + 1) / 1) = √2.
        XCTAssertEqual(try Statistics.sampleStandardDeviation([1, 3]), 2.0.squareRoot(), accuracy: 1e-15)
    }

    func testMedian() throws {
        XCTAssertEqual(try Statistics.median(accuracies), 0.912)  // odd count: the middle of the sorted values
        XCTAssertEqual(try Statistics.median([1, 10, 3, 2]), 2.5)  // even count: the mean of the middle two
        XCTAssertThrowsError(try Statistics.median([]))
        XCTAssertThrowsError(try Statistics.median([1, .nan]))
    }

    /// A run paused for ten minutes in one epoch: its s/epoch is the cost of an epoch, not the pause.
    func testEpochCostIsTheMedianOverEpochs() throws {
        let epochs = [50.0, 52, 650, 51].enumerated().map { i, s in
            EpochMetrics(epoch: i + 1, trainLoss: 0.5, trainAccuracy: 0.8, testLoss: 0.6, testAccuracy: 0.7,
                         learningRate: 0.001, seconds: s, imagesPerSecond: 1000 / s)
        }
        let run = ReportRun(configuration: "a", seed: 1, parameters: 1, multiplyAdds: 1, status: .finished,
                            epochs: epochs, predictions: [])
        let digest = RunDigest(run, targetAccuracy: 0.9)
        XCTAssertEqual(digest.medianSecondsPerEpoch, 51.5)
        XCTAssertEqual(try XCTUnwrap(digest.medianImagesPerSecond), (1000 / 51 + 1000 / 52) / 2, accuracy: 1e-12)
    }

    func testTooLittleDataThrows() {
        XCTAssertThrowsError(try Statistics.mean([]))
        XCTAssertThrowsError(try Statistics.sampleStandardDeviation([0.9]))
        XCTAssertThrowsError(try Statistics.meanConfidenceInterval([0.9]))
        XCTAssertThrowsError(try Statistics.mean([0.9, .nan]))
        XCTAssertThrowsError(try Statistics.pairedTTest(candidate: [1, 2], baseline: [1]))
    }

    func testMeanConfidenceInterval() throws {
        // stats.t.interval(0.95, 4, loc=mean, scale=stats.sem(x)) = (0.8997498880020481, 0.921850111997952)
        let ci = try Statistics.meanConfidenceInterval(accuracies)
        XCTAssertEqual(ci.lower, 0.8997498880020481, accuracy: 1e-10)
        XCTAssertEqual(ci.upper, 0.921850111997952, accuracy: 1e-10)
    }

    func testRegularizedIncompleteBeta() throws {
        // scipy.special.betainc(a, b, x)
        let cases: [(Double, Double, Double, Double)] = [
            (2.5, 0.5, 0.3, 0.018927124071945658),
            (0.5, 0.5, 0.9, 0.7951672353008665),
            (10, 3, 0.8, 0.5583457484800002),
            (1.5, 0.5, 0.999, 0.9597433418849682),
            (50, 0.5, 0.95, 0.02387270549699076),
        ]
        for (a, b, x, expected) in cases {
            XCTAssertEqual(try SpecialFunctions.regularizedIncompleteBeta(a: a, b: b, x: x), expected, accuracy: 1e-12, "a=\(a) b=\(b) x=\(x)")
        }
        XCTAssertThrowsError(try SpecialFunctions.regularizedIncompleteBeta(a: 1, b: 1, x: 1.5))
    }

    func testStudentTCDFAndTwoSidedP() throws {
        // stats.t.cdf(t, df) and 2 * stats.t.sf(|t|, df)
        let cases: [(Double, Double, Double, Double)] = [
            (2.0, 4, 0.9419417382415922, 0.11611652351681556),
            (-1.3, 7, 0.11738391769618862, 0.23476783539237725),
            (0.5, 2.5, 0.6711510400651426, 0.6576979198697148),
            (8.0, 3, 0.9979617112061072, 0.004076577587785466),
        ]
        for (t, df, cdf, p) in cases {
            XCTAssertEqual(try StudentT.cdf(t, degreesOfFreedom: df), cdf, accuracy: 1e-12, "t=\(t) df=\(df)")
            XCTAssertEqual(try StudentT.twoSidedPValue(t, degreesOfFreedom: df), p, accuracy: 1e-12, "t=\(t) df=\(df)")
        }
    }

    func testStudentTQuantile() throws {
        // stats.t.ppf(0.975, df)
        let cases: [(Double, Double)] = [
            (1, 12.706204736174694), (2, 4.302652729749462), (4, 2.7764451051977934),
            (9, 2.262157162798205), (30, 2.0422724563012378), (1000, 1.9623390808264083),
        ]
        for (df, expected) in cases {
            XCTAssertEqual(try StudentT.quantile(0.975, degreesOfFreedom: df), expected, accuracy: 1e-9, "df=\(df)")
        }
        // stats.t.ppf(0.01, 5) = -3.364929998907218
        XCTAssertEqual(try StudentT.quantile(0.01, degreesOfFreedom: 5), -3.364929998907218, accuracy: 1e-9)
        XCTAssertThrowsError(try StudentT.quantile(1, degreesOfFreedom: 5))
    }

    func testPairedTTestAndDifferenceBySeed() throws {
        let candidate = [0.902, 0.915, 0.897, 0.921], baseline = [0.895, 0.903, 0.899, 0.910]
        // stats.ttest_rel(candidate, baseline): t = 2.1953751686551297, p = 0.11567104751683623
        // d = candidate - baseline: mean 0.007, stats.t.interval(0.95, 3, loc=d.mean(), scale=stats.sem(d))
        //   = (-0.00314729712490679, 0.017147297124906802)
        let r = try Statistics.pairedTTest(candidate: candidate, baseline: baseline)
        XCTAssertEqual(r.tStatistic, 2.1953751686551297, accuracy: 1e-9)
        XCTAssertEqual(r.pValue!, 0.11567104751683623, accuracy: 1e-10)
        XCTAssertEqual(r.meanDifference, 0.007, accuracy: 1e-12)
        XCTAssertEqual(r.confidenceInterval!.lower, -0.00314729712490679, accuracy: 1e-10)
        XCTAssertEqual(r.confidenceInterval!.upper, 0.017147297124906802, accuracy: 1e-10)

        // Same numbers keyed by seed, shuffled, with an unpaired seed on each side that must be ignored.
        let bySeed = try Statistics.pairedBySeed(
            candidate: [3: 0.897, 1: 0.902, 4: 0.921, 2: 0.915, 9: 0.5],
            baseline: [2: 0.903, 4: 0.910, 1: 0.895, 3: 0.899, 7: 0.1])
        XCTAssertEqual(bySeed.seeds, [1, 2, 3, 4])
        XCTAssertEqual(bySeed.test.pValue!, 0.11567104751683623, accuracy: 1e-10)
    }

    func testPairedTTestWithConstantDifferences() throws {
        XCTAssertEqual(try Statistics.pairedTTest(candidate: [0.9, 0.8], baseline: [0.9, 0.8]).pValue, 1)
        // A constant shift has no spread to test against: no p-value, no interval (not p = 0).
        let shift = try Statistics.pairedTTest(candidate: [0.95, 0.85], baseline: [0.9, 0.8])
        XCTAssertNil(shift.pValue)
        XCTAssertNil(shift.confidenceInterval)
        XCTAssertEqual(shift.meanDifference, 0.05, accuracy: 1e-12)
        // Accuracies of equal counts on 434 images: equal differences up to rounding are still equal.
        let counts = try Statistics.pairedTTest(candidate: [400.0 / 434, 391.0 / 434, 377.0 / 434],
                                                baseline: [395.0 / 434, 386.0 / 434, 372.0 / 434])
        XCTAssertNil(counts.pValue, "sd \(counts.standardDeviation)")
        let none = try Statistics.pairedTTest(candidate: [400.0 / 434, 0.1 + 0.2], baseline: [400.0 / 434, 0.3])
        XCTAssertEqual(none.pValue, 1)
        XCTAssertEqual(none.confidenceInterval, ConfidenceInterval(lower: 0, upper: 0, level: 0.95))
    }

    func testHolmAdjustment() {
        // statsmodels.stats.multitest.multipletests([0.0409, 0.0187, 0.0458, 0.923, 0.180], method="holm")[1]
        //   = [0.1636, 0.0935, 0.1636, 0.923, 0.36]
        let adjusted = Statistics.holmAdjusted([0.0409, 0.0187, 0.0458, 0.923, 0.180])
        for (value, expected) in zip(adjusted, [0.1636, 0.0935, 0.1636, 0.923, 0.36]) {
            XCTAssertEqual(value, expected, accuracy: 1e-12)
        }
        XCTAssertEqual(Statistics.holmAdjusted([0.03]), [0.03], "one test is its own family")
        XCTAssertEqual(Statistics.holmAdjusted([0.6, 0.4]), [0.8, 0.8], "capped by monotonicity, not above 1")
        XCTAssertEqual(Statistics.holmAdjusted([]), [])
    }

    func testMcNemarExact() throws {
        // stats.binomtest(min(b, c), b + c, 0.5).pvalue
        let cases: [(Int, Int, Double)] = [
            (3, 10, 0.09228515625), (0, 5, 0.0625), (7, 7, 1), (1, 0, 1), (0, 0, 1),
            (40, 60, 0.05688793364098089), (1000, 1100, 0.03072070786424249), (10000, 10400, 0.005211904014323954),
        ]
        for (b, c, expected) in cases {
            XCTAssertEqual(try McNemar.exactPValue(b: b, c: c), expected, accuracy: 1e-9 * max(1, expected), "b=\(b) c=\(c)")
            XCTAssertEqual(try McNemar.exactPValue(b: c, c: b), expected, accuracy: 1e-9, "symmetric b=\(c) c=\(b)")
        }
        XCTAssertThrowsError(try McNemar.exactPValue(b: -1, c: 3))
    }

    func testClusteredMcNemarIsExactOverSignFlips() throws {
        // One image per cluster: McNemar's exact test.
        for (b, c) in [(3, 10), (0, 5), (7, 7), (1, 0), (40, 60)] {
            let differences = Array(repeating: -1, count: b) + Array(repeating: 1, count: c) + [0, 0]
            XCTAssertEqual(McNemar.clusteredExactPValue(differences: differences), try McNemar.exactPValue(b: b, c: c),
                           accuracy: 1e-12, "b=\(b) c=\(c)")
        }
        // By hand over the 8 sign patterns of (3, 1, 2): sums ±6, ±4, ±2, 0, 0; |S| ≥ |3 − 1 + 2| = 4 in 4 of 8.
        XCTAssertEqual(McNemar.clusteredExactPValue(differences: [3, -1, 2]), 0.5)
        // (5, 1, 1, 1): only the all-plus and all-minus patterns reach |S| = 8: 2 of 16.
        XCTAssertEqual(McNemar.clusteredExactPValue(differences: [5, 1, 1, 1]), 0.125)
        XCTAssertEqual(McNemar.clusteredExactPValue(differences: [0, 0]), 1)
        XCTAssertEqual(McNemar.clusteredExactPValue(differences: []), 1)
    }

    func testClusteredMcNemarFromPredictions() throws {
        func prediction(_ file: String, right: Bool) -> Prediction {
            Prediction(file: file, label: 0, probabilities: right ? [0.8, 0.2] : [0.3, 0.7])
        }
        // Photo A: 3 copies the candidate alone gets right; photo B: 1 copy only the baseline gets right;
        // photo C: 2 copies the candidate alone gets right; photo D: both right. d = (3, −1, 2) → p = 0.5;
        // image by image it would be b = 1, c = 5, p = 0.21875.
        let files = ["A1", "A2", "A3", "B1", "B2", "C1", "C2", "D1"]
        let baselineRight: Set = ["B1", "B2", "D1"], candidateRight: Set = ["A1", "A2", "A3", "B2", "C1", "C2", "D1"]
        let baseline = files.map { prediction($0, right: baselineRight.contains($0)) }
        let candidate = files.reversed().map { prediction($0, right: candidateRight.contains($0)) }
        let clustered = try McNemar.test(candidate: candidate, baseline: baseline, clusterOf: { String($0.prefix(1)) })
        XCTAssertEqual(clustered.baselineOnlyCorrect, 1)
        XCTAssertEqual(clustered.candidateOnlyCorrect, 5)
        XCTAssertEqual(clustered.pValue, 0.5)
        XCTAssertEqual(try McNemar.test(candidate: candidate, baseline: baseline).pValue, 0.21875, accuracy: 1e-12)
        // A file named twice on one side is an error, not a double count.
        XCTAssertThrowsError(try McNemar.test(candidate: Array(candidate.dropLast()) + [candidate[0]], baseline: baseline))
    }

    func testMcNemarFromPredictionsPairsByFile() throws {
        func prediction(_ file: String, label: Int, guess: Int) -> Prediction {
            Prediction(file: file, label: label, probabilities: guess == 0 ? [0.8, 0.2] : [0.3, 0.7])
        }
        // baseline right on a, b, c; candidate right on b, c, d, e, f: b = 1 (a), c = 3 (d, e, f).
        let baseline = [prediction("a", label: 0, guess: 0), prediction("b", label: 1, guess: 1), prediction("c", label: 0, guess: 0),
                        prediction("d", label: 1, guess: 0), prediction("e", label: 0, guess: 1), prediction("f", label: 0, guess: 1)]
        let candidate = [prediction("f", label: 0, guess: 0), prediction("e", label: 0, guess: 0), prediction("d", label: 1, guess: 1),
                         prediction("c", label: 0, guess: 0), prediction("b", label: 1, guess: 1), prediction("a", label: 0, guess: 1)]
        let r = try McNemar.test(candidate: candidate, baseline: baseline)
        XCTAssertEqual(r.baselineOnlyCorrect, 1)
        XCTAssertEqual(r.candidateOnlyCorrect, 3)
        // By hand: 2 · (C(4,0) + C(4,1)) / 2^4 = 2 · 5 / 16 = 0.625
        XCTAssertEqual(r.pValue, 0.625, accuracy: 1e-12)
        XCTAssertThrowsError(try McNemar.test(candidate: Array(candidate.dropLast()) + [prediction("zz", label: 0, guess: 0)], baseline: baseline))
    }
}
