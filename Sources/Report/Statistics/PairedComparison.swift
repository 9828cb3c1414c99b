import Foundation

/// Result of a paired t-test on differences dᵢ = candidateᵢ − baselineᵢ.
public struct PairedTTestResult: Sendable, Equatable {
    /// Number of pairs n.
    public var count: Int
    /// d̄, the mean of the differences (= difference of the paired means).
    public var meanDifference: Double
    /// s_d, the sample standard deviation of the differences.
    public var standardDeviation: Double
    /// t = d̄ / (s_d / √n) with n − 1 degrees of freedom (±∞ when s_d = 0 and d̄ ≠ 0).
    public var tStatistic: Double
    /// Two-sided p-value P(|T_{n−1}| ≥ |t|); nil when the test is undefined (see `pairedTTest`).
    public var pValue: Double?
    /// d̄ ± t_{0.975, n−1} · s_d / √n; nil when the test is undefined.
    public var confidenceInterval: ConfidenceInterval?
}

/// A paired-by-seed comparison of one configuration against the baseline.
public struct SeedPairedDifference: Sendable, Equatable {
    /// Seeds present (and finished) in both configurations, ascending.
    public var seeds: [Int]
    public var test: PairedTTestResult
}

extension Statistics {
    /// Paired two-sided t-test of `candidate` against `baseline` (same order, same length ≥ 2).
    /// When all differences are equal (s_d = 0, up to rounding: accuracies of equal counts subtract to 1e-17, not 0)
    /// the t statistic is undefined: a sample without spread says nothing about the spread of the population, and
    /// with two or three seeds whose accuracies move in steps of 1/(test images) equal differences are common.
    /// Then p = 1 with the interval [0, 0] when every difference is zero (no difference at all), and p and the
    /// interval are nil otherwise (a constant shift that the t-test cannot judge).
    public static func pairedTTest(candidate: [Double], baseline: [Double], level: Double = 0.95) throws -> PairedTTestResult {
        guard candidate.count == baseline.count else {
            throw ReportError.lengthMismatch(what: "paired t-test", left: candidate.count, right: baseline.count)
        }
        guard candidate.count >= 2 else {
            throw ReportError.insufficientData(what: "paired t-test", needed: 2, got: candidate.count)
        }
        let differences = zip(candidate, baseline).map { $0 - $1 }
        let n = Double(differences.count)
        let meanDifference = try mean(differences)
        let sd = try sampleStandardDeviation(differences)
        let rounding = 1e-12 * (candidate + baseline).map(abs).max()!
        if sd <= rounding {
            let none = abs(meanDifference) <= rounding
            let t: Double = none ? 0 : (meanDifference > 0 ? .infinity : -.infinity)
            return PairedTTestResult(count: differences.count, meanDifference: none ? 0 : meanDifference, standardDeviation: 0,
                                     tStatistic: t, pValue: none ? 1 : nil,
                                     confidenceInterval: none ? ConfidenceInterval(lower: 0, upper: 0, level: level) : nil)
        }
        let t = meanDifference / (sd / n.squareRoot())
        let p = try StudentT.twoSidedPValue(t, degreesOfFreedom: n - 1)
        let ci = try meanConfidenceInterval(differences, level: level)
        return PairedTTestResult(count: differences.count, meanDifference: meanDifference, standardDeviation: sd,
                                 tStatistic: t, pValue: p, confidenceInterval: ci)
    }

    /// Difference of means paired by seed: keeps the seeds both dictionaries have, sorts them, and runs
    /// `pairedTTest` on candidate[seed] − baseline[seed].
    public static func pairedBySeed(candidate: [Int: Double], baseline: [Int: Double], level: Double = 0.95) throws -> SeedPairedDifference {
        let seeds = Set(candidate.keys).intersection(baseline.keys).sorted()
        let test = try pairedTTest(candidate: seeds.map { candidate[$0]! }, baseline: seeds.map { baseline[$0]! }, level: level)
        return SeedPairedDifference(seeds: seeds, test: test)
    }
}
