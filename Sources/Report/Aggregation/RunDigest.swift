import AblateCore

/// Per-run numbers every table and figure uses, computed once.
struct RunDigest {
    let run: ReportRun
    /// Highest test accuracy over all epochs, and the (first) epoch it happened.
    let bestTestAccuracy: Double?
    let bestEpoch: Int?
    /// Test accuracy after the last completed epoch.
    let lastTestAccuracy: Double?
    /// The epoch the run reports (`ReportRun.headlineEpoch`: selected on validation, else the last) and its test
    /// accuracy and loss: the model the headline predictions come from.
    let headlineEpoch: Int?
    let headlineTestAccuracy: Double?
    let headlineTestLoss: Double?
    /// First epoch whose test accuracy is ≥ the target; nil if never reached.
    let epochReachedTarget: Int?
    /// Cost of one epoch: medians over the run's epochs, so the few epochs of a run that was paused (SIGSTOP,
    /// a suspended machine) or shared the cores with another job do not stand for all of them.
    let medianSecondsPerEpoch: Double?
    let medianImagesPerSecond: Double?

    var isFinished: Bool { run.status == .finished }

    init(_ run: ReportRun, targetAccuracy: Double) {
        self.run = run
        var best: EpochMetrics?
        for e in run.epochs where best == nil || e.testAccuracyOrNaN > best!.testAccuracyOrNaN { best = e }
        bestTestAccuracy = best?.testAccuracyOrNaN
        bestEpoch = best?.epoch
        lastTestAccuracy = run.epochs.last?.testAccuracyOrNaN
        headlineEpoch = run.headlineEpoch
        let headline = headlineEpoch.map { run.epochs[$0 - 1] }
        headlineTestAccuracy = headline?.testAccuracyOrNaN
        headlineTestLoss = headline?.testLossOrNaN
        epochReachedTarget = run.epochs.first { $0.testAccuracyOrNaN >= targetAccuracy }?.epoch
        medianSecondsPerEpoch = try? Statistics.median(run.epochs.map(\.seconds))
        medianImagesPerSecond = try? Statistics.median(run.epochs.map(\.imagesPerSecond))
    }
}

/// All runs of one configuration, ordered by seed (and fold).
struct ConfigurationGroup {
    let name: String
    let runs: [RunDigest]
    /// n in "k/n finished": planned seeds, or the runs present if more (or nothing was planned).
    let plannedSeeds: Int

    var finished: [RunDigest] { runs.filter(\.isFinished) }
    var unfinished: [RunDigest] { runs.filter { !$0.isFinished } }

    /// Mean over finished seeds of the best-epoch test accuracy: what "the configuration reaches the target"
    /// is judged on. nil before any seed finished.
    var meanBestTestAccuracy: Double? {
        let best = finished.compactMap(\.bestTestAccuracy)
        return best.isEmpty ? nil : best.reduce(0, +) / Double(best.count)
    }
}

extension ReportInput {
    /// Configurations in display order: `configurationOrder` first, then the rest by first appearance.
    var configurationNames: [String] {
        var names: [String] = []
        for name in configurationOrder + runs.map(\.configuration) where !names.contains(name) {
            if runs.contains(where: { $0.configuration == name }) { names.append(name) }
        }
        return names
    }

    func groups() -> [ConfigurationGroup] {
        configurationNames.map { name in
            let runs = self.runs.filter { $0.configuration == name }
                .sorted { ($0.seed, $0.fold?.fold ?? 0) < ($1.seed, $1.fold?.fold ?? 0) }
                .map { RunDigest($0, targetAccuracy: targetAccuracy) }
            return ConfigurationGroup(name: name, runs: runs, plannedSeeds: max(plannedSeedsPerConfiguration ?? 0, runs.count))
        }
    }
}

/// Mean ± std (or a note why not) for table cells. Kept here so every table words missing data alike.
enum SummaryCell {
    /// "0.912 ± 0.008"; one value: "0.912 (n=1)"; none: "—".
    static func meanStd(_ values: [Double], digits: Int = 3) -> String {
        switch values.count {
        case 0: return "—"
        case 1: return "\(NumberFormat.fixed(values[0], digits: digits)) (n=1)"
        default:
            let m = (try? Statistics.mean(values)) ?? .nan, s = (try? Statistics.sampleStandardDeviation(values)) ?? .nan
            return NumberFormat.meanStd(m, s, digits: digits)
        }
    }

    /// `meanStd` of the defined values; when some are undefined (a metric with a zero denominator) and more than one
    /// remains, says how many are averaged: "0.912 ± 0.008 (n=2)" (one value already says "(n=1)").
    static func meanStdOfDefined(_ values: [Double?], digits: Int = 3) -> String {
        let defined = values.compactMap { $0 }
        let text = meanStd(defined, digits: digits)
        return defined.count < values.count && defined.count > 1 ? "\(text) (n=\(defined.count))" : text
    }

    /// "[0.901, 0.923]"; fewer than two values: "n/a (n=1)".
    static func confidenceInterval(_ values: [Double], digits: Int = 3) -> String {
        guard values.count >= 2, let ci = try? Statistics.meanConfidenceInterval(values) else { return "n/a (n=\(values.count))" }
        return NumberFormat.interval(ci, digits: digits)
    }

    /// Mean only, "—" when empty.
    static func mean(_ values: [Double], digits: Int) -> String {
        guard let m = try? Statistics.mean(values) else { return "—" }
        return NumberFormat.fixed(m, digits: digits)
    }
}
