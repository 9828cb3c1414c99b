// The report's cluster-bootstrap intervals (see `ClusterBootstrap`): one set of draws over the test groups of the
// whole report, each run's metrics resampled once and cached, configurations as the mean over their seeds of the
// same resample, differences paired on the same draws.
import AblateCore
import Foundation

/// A metric the bootstrap resamples.
public enum ResampledMetric: CaseIterable, Sendable {
    case accuracy, sensitivity, specificity, rocAUC

    func value(_ outcomes: GroupedOutcomes, _ w: [Int32]) -> Double {
        switch self {
        case .accuracy: return outcomes.accuracy(w)
        case .sensitivity: return outcomes.sensitivity(w)
        case .specificity: return outcomes.specificity(w)
        case .rocAUC: return outcomes.rocAUC(w)
        }
    }
}

/// An estimate with its 95% cluster-bootstrap interval (nil when too few resamples define it).
public struct Estimate: Sendable, Equatable {
    public var value: Double
    public var interval: ClosedRange<Double>?
}

final class TestSetUncertainty {
    let positiveClass: Int
    /// The groups the draws are over, sorted, and their unit for the text ("photos", "patients", "images").
    let groupKeys: [String]
    let pluralUnit: String
    let draws: [[Int32]]

    /// "113 patients", or "patients (none scored yet)" while no run of the view has predictions (a k-fold view
    /// before any seed has every fold).
    var counted: String { groupKeys.isEmpty ? "\(pluralUnit) (none scored yet)" : "\(groupKeys.count) \(pluralUnit)" }
    private let index: [String: Int]
    private var cache: [String: [ResampledMetric: (sample: Double, resampled: [Double])]] = [:]

    /// The uncertainty of `input`, made once per report: every table of one report asks for the same input, and
    /// the resampling is the expensive part (two entries kept: a k-fold report asks for its runs and for their
    /// out-of-fold view; `==` on the input is far cheaper than resampling).
    static func of(_ input: ReportInput) -> TestSetUncertainty {
        lastLock.lock(); defer { lastLock.unlock() }
        if let hit = recent.first(where: { $0.input == input }) { return hit.uncertainty }
        let made = TestSetUncertainty(input)
        recent = [(input, made)] + recent.prefix(1)
        return made
    }
    nonisolated(unsafe) private static var recent: [(input: ReportInput, uncertainty: TestSetUncertainty)] = []
    private static let lastLock = NSLock()

    /// Groups of every finished run's test predictions in `input` (its `testGrouping`, else one group per image).
    convenience init(_ input: ReportInput) {
        self.init(runs: input.runs.filter { $0.status == .finished }, positiveClass: input.positiveClass,
                  // A k-fold view whose configurations are all partial has no scored run: its runs still name the unit.
                  pluralUnit: input.sharedTestGrouping?.pluralUnit ?? input.runs.compactMap(\.testGrouping).first?.pluralUnit
                    ?? "images")
    }

    /// Groups of `runs`' predictions (each run's `testGrouping`, else one group per image).
    init(runs: [ReportRun], positiveClass: Int, pluralUnit: String) {
        self.positiveClass = positiveClass
        var keys = Set<String>()
        for run in runs {
            for p in run.headlinePredictions { keys.insert(run.testGrouping?.group(of: p.file) ?? p.file) }
        }
        groupKeys = keys.sorted()
        index = Dictionary(uniqueKeysWithValues: groupKeys.enumerated().map { ($1, $0) })
        self.pluralUnit = pluralUnit
        draws = ClusterBootstrap.draws(groups: groupKeys.count)
    }

    /// The sample value and every resample's value of `metric` for one run; nil without predictions.
    func resampled(_ run: ReportRun, _ metric: ResampledMetric) -> (sample: Double, resampled: [Double])? {
        guard !run.headlinePredictions.isEmpty else { return nil }
        let key = "\(run.configuration)\u{1}\(run.seed)\u{1}\(run.fold?.fold ?? -1)"
        if let hit = cache[key]?[metric] { return hit }
        let outcomes = GroupedOutcomes(run.headlinePredictions, positiveClass: positiveClass, groups: groupKeys.count) {
            self.index[run.testGrouping?.group(of: $0) ?? $0]!
        }
        let result = (metric.value(outcomes, GroupedOutcomes.sample(groups: groupKeys.count)),
                      draws.map { metric.value(outcomes, $0) })
        cache[key, default: [:]][metric] = result
        return result
    }

    /// Mean over `runs` of the metric, with the interval of that mean over the shared draws; nil when no run has
    /// predictions.
    func estimate(_ runs: [ReportRun], _ metric: ResampledMetric) -> Estimate? {
        let values = runs.compactMap { resampled($0, metric) }
        guard !values.isEmpty else { return nil }
        let mean = values.map(\.sample).reduce(0, +) / Double(values.count)
        let resampledMeans = draws.indices.map { b in values.map { $0.resampled[b] }.reduce(0, +) / Double(values.count) }
        return Estimate(value: mean, interval: ClusterBootstrap.percentileInterval(resampledMeans))
    }

    /// Δ = mean(candidate) − mean(baseline) over the given runs (the seeds both finished), resampled paired: both
    /// on the same drawn groups.
    func difference(candidate: [ReportRun], baseline: [ReportRun], _ metric: ResampledMetric) -> Estimate? {
        let c = candidate.compactMap { resampled($0, metric) }, b = baseline.compactMap { resampled($0, metric) }
        guard !c.isEmpty, !b.isEmpty else { return nil }
        func mean(_ v: [(sample: Double, resampled: [Double])], _ i: Int?) -> Double {
            v.map { value in i.map { value.resampled[$0] } ?? value.sample }.reduce(0, +) / Double(v.count)
        }
        let deltas = draws.indices.map { mean(c, $0) - mean(b, $0) }
        return Estimate(value: mean(c, nil) - mean(b, nil), interval: ClusterBootstrap.percentileInterval(deltas))
    }
}

/// Whether a configuration reaches the target accuracy, judged on the interval of its test accuracy.
public enum TargetVerdict: String, Sendable, Equatable {
    /// The whole 95% interval is at or above the target.
    case reached
    /// The whole interval is below it.
    case notReached = "not reached"
    /// The interval contains the target (or there is no interval: no stored predictions).
    case undetermined

    /// reached when lower ≥ target, not reached when upper < target, else undetermined.
    public init(_ estimate: Estimate?, target: Double) {
        guard let interval = estimate?.interval else { self = .undetermined; return }
        if interval.lowerBound >= target { self = .reached } else if interval.upperBound < target {
            self = .notReached
        } else { self = .undetermined }
    }

    /// The experiment's answer from its configurations': reached when one is, else undetermined when one is,
    /// else not reached (also when there is no configuration to judge).
    public static func overall(_ verdicts: [TargetVerdict]) -> TargetVerdict {
        if verdicts.contains(.reached) { return .reached }
        return verdicts.contains(.undetermined) ? .undetermined : .notReached
    }
}

/// One configuration's target check: its headline accuracy estimate (nil without predictions) and verdict. In a
/// k-fold report the headline is out of fold, and a configuration with folds missing is partial: its estimate is
/// over the seeds whose folds all finished (if any), it gets no verdict of its own, and the experiment's verdict
/// counts it as undetermined.
struct TargetJudgement {
    /// The values the estimate averages: per finished run (k-fold: per seed, pooled over its folds).
    var values: [Double]
    var estimate: Estimate?
    var verdict: TargetVerdict
    /// k-fold: what is missing ("fold 2 (seed 1)"); nil when nothing is.
    var partial: String?

    /// The verdict cell: "reached", or "partial (missing fold 2 (seed 1))".
    var verdictText: String { partial.map { "partial (missing \($0))" } ?? verdict.rawValue }
}

/// The majority class of one test set: what always answering it scores.
struct ChanceLevel: Equatable {
    var majorityClass: Int
    var majorityCount: Int
    var images: Int
}

extension ReportInput {
    /// Per configuration (in `groups()` order), the headline accuracy of its finished runs (k-fold: out of fold,
    /// per seed whose folds all finished) with its cluster-bootstrap interval, and the target verdict.
    func targetJudgements() -> [TargetJudgement] {
        if let cv = crossValidation {
            let view = cv.outOfFold, uncertainty = TestSetUncertainty.of(view)
            return zip(view.groups(), cv.configurations).map { group, configuration in
                let runs = group.finished.map(\.run)
                let estimate = uncertainty.estimate(runs, .accuracy)
                return TargetJudgement(values: runs.compactMap { uncertainty.resampled($0, .accuracy)?.sample },
                                       estimate: estimate,
                                       verdict: configuration.isComplete ? TargetVerdict(estimate, target: targetAccuracy) : .undetermined,
                                       partial: configuration.isComplete ? nil : configuration.missingText)
            }
        }
        let uncertainty = TestSetUncertainty.of(self)
        return groups().map { group in
            let estimate = uncertainty.estimate(group.finished.map(\.run), .accuracy)
            return TargetJudgement(values: group.finished.compactMap(\.headlineTestAccuracy), estimate: estimate,
                                   verdict: TargetVerdict(estimate, target: targetAccuracy))
        }
    }

    /// The experiment's target verdict (`ablate report --check-target`): reached when some configuration's whole
    /// interval is at or above the target, undetermined when none is but some interval contains it (or a k-fold
    /// configuration is partial), else not reached.
    public var targetVerdict: TargetVerdict {
        let judged = zip(groups(), targetJudgements()).filter { !$0.0.finished.isEmpty }
        return TargetVerdict.overall(judged.map(\.1.verdict))
    }

    /// The chance level of each distinct test set (its files and labels) among finished runs with predictions,
    /// in order of first appearance (k-fold: of the pooled out-of-fold set); ties between classes go to the lower
    /// class index.
    var chanceLevels: [ChanceLevel] {
        if let cv = crossValidation { return cv.outOfFold.chanceLevels }
        var seen: [[String]] = [], levels: [ChanceLevel] = []
        for run in runs where run.status == .finished && !run.headlinePredictions.isEmpty {
            let predictions = run.headlinePredictions
            let files = predictions.map(\.file).sorted()
            guard !seen.contains(files) else { continue }
            seen.append(files)
            var counts = [Int](repeating: 0, count: max(classNames.count, (predictions.map(\.label).max() ?? 0) + 1))
            for p in predictions { counts[p.label] += 1 }
            let majority = counts.indices.max { counts[$0] < counts[$1] || (counts[$0] == counts[$1] && $0 > $1) }!
            levels.append(ChanceLevel(majorityClass: majority, majorityCount: counts[majority], images: predictions.count))
        }
        return levels
    }
}

extension ReportInput {
    /// The chance level the figures draw: the majority-class accuracy of the runs' test set, when they share one.
    var chanceAccuracy: Double? {
        let levels = chanceLevels
        guard levels.count == 1, let level = levels.first else { return nil }
        return Double(level.majorityCount) / Double(level.images)
    }
}
