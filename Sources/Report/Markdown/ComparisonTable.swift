import AblateCore

extension ReportTables {
    /// Significance level of the verdict column.
    public static let significanceLevel = 0.05

    /// Each configuration against the baseline, on last-epoch test accuracy (the model the predictions come
    /// from), paired by seed over seeds finished in both: mean difference, its 95% CI, the paired t-test and,
    /// per seed, McNemar's exact test on the two models' test predictions (clustered when images are copies).
    public static func comparison(_ input: ReportInput, baseline: String) throws -> String {
        var checked = input
        checked.baseline = baseline
        checked.comparisons = []
        try checked.validate()
        return try comparison(input, pairs: checked.comparisonPairs)
    }

    /// The same for explicit (candidate, baseline) pairs, e.g. each SE variant against its own backbone. When the
    /// test images are copies of fewer originals (`ReportRun.testGrouping`), McNemar's test takes each original's
    /// copies as one cluster, and the note says how many independent cases the test set holds.
    public static func comparison(_ input: ReportInput, pairs: [ComparisonPair]) throws -> String {
        try input.validate()
        let grouping = input.sharedTestGrouping
        let uncertainty = TestSetUncertainty.of(input)
        let table = try pairedComparisonTable(
            input.groups(), pairs: pairs, deltaTitle: "Δ last-epoch test acc",
            accuracy: { $0.lastTestAccuracy }, predictions: { $0.run.predictions },
            clusterOf: grouping.map { grouping in { grouping.group(of: $0) } },
            mcnemarTitle: grouping.map { "McNemar per seed (clustered by \($0.unit))" } ?? "McNemar per seed",
            bootstrap: (title: "95% interval of Δ (paired bootstrap over \(uncertainty.groupKeys.count) \(uncertainty.pluralUnit))",
                        delta: { uncertainty.difference(candidate: $0, baseline: $1, .accuracy) }))
        let baselines = Set(pairs.map(\.baseline))
        let against = baselines.count == 1 ? baselines.first! : "its baseline"
        var note = """

            Δ = configuration − \(against), paired by seed. Two kinds of uncertainty: the 95% CI of Δ and the paired \
            t-test are over training seeds (how consistently the difference appears when the models are trained \
            again, on this one test set); the paired bootstrap interval resamples the test set's \
            \(uncertainty.pluralUnit) (the same drawn \(uncertainty.pluralUnit) for both configurations), so it says how much Δ \
            depends on which cases happen to be in the test set. The verdict uses the paired t-test at \
            α = \(NumberFormat.fixed(significanceLevel, digits: 2)); with n paired seeds it has n − 1 degrees of freedom, so with few seeds only large, \
            consistent differences reach significance. The verdict names its family: with more than one comparison \
            in the table the verdicts use Holm-adjusted p-values over all of them, so that the chance of any false \
            verdict among the rows stays at α; a report with fewer comparisons may call the same runs significant.
            """
        if let grouping, let sample = input.runs.first(where: { $0.status == .finished && $0.testGrouping != nil && !$0.predictions.isEmpty }) {
            let cases = Set(sample.predictions.map { grouping.group(of: $0.file) }).count
            note += """
                 McNemar's test compares the two final models for each seed image by image, clustered by \(grouping.unit): \
                the \(sample.predictions.count) test images are copies of \(cases) \(grouping.pluralUnit), and copies tend to be \
                right or wrong together, so counting images as independent cases would overstate the evidence. Under the \
                null hypothesis each \(grouping.unit)'s difference (images only the configuration got right minus images \
                only the baseline got right) is as likely to have either sign; p is exact over all sign flips (McNemar's \
                exact test when every \(grouping.unit) has one image). Every seed is scored on the same \(cases) \
                \(grouping.pluralUnit): the t-test shows how consistently the difference appears across training seeds, \
                not how it would carry over to new \(grouping.pluralUnit).

                """
        } else {
            note += " McNemar's exact test compares the two final models image by image for each seed.\n\n"
        }
        return table + note
    }

    /// The comparison table itself, for any per-run accuracy and predictions (the test split's, or an external
    /// test set's): one row per pair, paired by seed over the finished runs that have a value in both. Runs for
    /// which `accuracy` is nil are left out; pairs whose configurations have no runs in `groups` are skipped. With
    /// more than one baseline the table names each row's. The rows are one family of tests: with more than one
    /// t-test the verdicts use Holm-adjusted p-values, shown in a column of their own.
    static func pairedComparisonTable(_ groups: [ConfigurationGroup], pairs: [ComparisonPair], deltaTitle: String,
                                      accuracy: (RunDigest) -> Double?,
                                      predictions: (RunDigest) -> [Prediction]?,
                                      clusterOf: ((String) -> String)? = nil,
                                      mcnemarTitle: String = "McNemar per seed",
                                      bootstrap: (title: String, delta: ([ReportRun], [ReportRun]) -> Estimate?)? = nil) throws -> String {
        let named = Dictionary(groups.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let showBaseline = Set(pairs.map(\.baseline)).count > 1
        func bySeed(_ group: ConfigurationGroup) -> [Int: Double] {
            var result: [Int: Double] = [:]
            for digest in group.finished { if let a = accuracy(digest) { result[digest.run.seed] = a } }
            return result
        }
        struct Row { var lead: [String]; var seeds: [Int]; var delta: String; var mcnemar: String; var test: PairedTTestResult?
                     var resampled: String }
        var rows: [Row] = []
        for pair in pairs {
            guard let group = named[pair.candidate], let base = named[pair.baseline] else { continue }
            let candidate = bySeed(group), baseAccuracy = bySeed(base)
            let seeds = Set(candidate.keys).intersection(baseAccuracy.keys).sorted()
            let mcnemar = try mcnemarCell(candidate: group, baseline: base, seeds: seeds, predictions: predictions,
                                          clusterOf: clusterOf)
            let test = seeds.count < 2 ? nil : try Statistics.pairedBySeed(candidate: candidate, baseline: baseAccuracy).test
            let delta = test.map { NumberFormat.signed($0.meanDifference) }
                ?? seeds.first.map { NumberFormat.signed(candidate[$0]! - baseAccuracy[$0]!) } ?? "—"
            let resampled = bootstrap.map { b -> String in
                let runs = { (g: ConfigurationGroup) in g.finished.filter { seeds.contains($0.run.seed) }.map(\.run) }
                return b.delta(runs(group), runs(base))?.interval.map { NumberFormat.interval($0, signed: true) } ?? "n/a"
            }
            rows.append(Row(lead: [group.name] + (showBaseline ? [base.name] : []), seeds: seeds, delta: delta,
                            mcnemar: mcnemar, test: test, resampled: resampled ?? ""))
        }
        let tested = rows.indices.filter { rows[$0].test?.pValue != nil }
        let holm = Dictionary(uniqueKeysWithValues: zip(tested, Statistics.holmAdjusted(tested.map { rows[$0].test!.pValue! })))
        let showHolm = tested.count > 1
        var table = MarkdownTable(columns: [.init("Configuration")] + (showBaseline ? [.init("Baseline")] : []) + [
            .init("Paired seeds", .right), .init(deltaTitle, .right), .init("95% CI of Δ (seeds)", .right)]
            + (bootstrap.map { [.init($0.title, .right)] } ?? []) + [
            .init("Paired t-test", .right)] + (showHolm ? [.init("Holm-adjusted", .right)] : []) + [
            .init(mcnemarTitle), .init("Verdict"),
        ])
        for (index, row) in rows.enumerated() {
            let ci = row.test?.confidenceInterval.map { NumberFormat.interval($0, signed: true) } ?? "n/a"
            let p = row.test?.pValue.map(NumberFormat.pValue) ?? "n/a"
            let adjusted = holm[index].map(NumberFormat.pValue) ?? "n/a"
            let family = tested.count > 1 ? " (Holm over \(tested.count) comparisons)" : " (1 comparison)"
            try table.addRow(row.lead + ["\(row.seeds.count)", row.delta, ci] + (bootstrap == nil ? [] : [row.resampled])
                + [p] + (showHolm ? [adjusted] : [])
                + [row.mcnemar, verdict(row.test, adjustedP: holm[index]) + (row.test?.pValue == nil ? "" : family)])
        }
        return table.render()
    }

    /// The verdict of one row from its t-test and the p-value the decision uses (Holm-adjusted in a family).
    static func verdict(_ test: PairedTTestResult?, adjustedP: Double?) -> String {
        guard let test else { return "too few paired seeds (need 2)" }
        guard let p = adjustedP ?? test.pValue else { return "same Δ in every seed: t-test undefined" }
        guard p < significanceLevel else { return "not significant" }
        return test.meanDifference > 0 ? "higher than baseline" : "lower than baseline"
    }

    /// "seed 1: p = 0.210; seed 2: p < 0.001", or "n/a (no predictions)".
    static func mcnemarCell(candidate: ConfigurationGroup, baseline: ConfigurationGroup, seeds: [Int],
                            predictions: (RunDigest) -> [Prediction]?,
                            clusterOf: ((String) -> String)?) throws -> String {
        var parts: [String] = []
        for seed in seeds {
            guard let c = candidate.finished.first(where: { $0.run.seed == seed }).flatMap(predictions),
                  let b = baseline.finished.first(where: { $0.run.seed == seed }).flatMap(predictions),
                  !c.isEmpty, !b.isEmpty else { continue }
            let result: McNemarResult
            do {
                result = try McNemar.test(candidate: c, baseline: b, clusterOf: clusterOf)
            } catch {
                // Name the two runs: the bare error cannot say which pair was evaluated on different images.
                throw ReportError.invalidValue(what: "McNemar \(candidate.name) vs \(baseline.name), seed \(seed)", value: "\(error)")
            }
            parts.append("seed \(seed): \(NumberFormat.pValue(result.pValue))")
        }
        return parts.isEmpty ? "n/a (no predictions)" : parts.joined(separator: "; ")
    }
}
