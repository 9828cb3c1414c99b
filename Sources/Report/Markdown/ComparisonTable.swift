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
    /// copies as one cluster, and the note says how many independent cases the test set holds. The accuracy is the
    /// runs' headline (`EpochRule`); a k-fold input is compared by (fold, seed) pairs (`crossValidatedComparison`).
    public static func comparison(_ input: ReportInput, pairs: [ComparisonPair]) throws -> String {
        try input.validate()
        if let cv = input.crossValidation { return try crossValidatedComparison(input, cv, pairs: pairs) }
        let grouping = input.sharedTestGrouping
        let uncertainty = TestSetUncertainty.of(input)
        let table = try pairedComparisonTable(
            input.groups(), pairs: pairs, deltaTitle: "Δ \(input.epochRule.adjective.lowercased()) test acc",
            accuracy: { $0.headlineTestAccuracy }, predictions: { $0.run.headlinePredictions },
            clusterOf: grouping.map { grouping in { grouping.group(of: $0) } },
            mcnemarTitle: grouping.map { "McNemar per seed (clustered by \($0.unit))" } ?? "McNemar per seed",
            bootstrap: (title: "95% interval of Δ (paired bootstrap over \(uncertainty.counted))",
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
            consistent differences reach significance. \(familyNote)
            """
        if let grouping, let sample = input.runs.first(where: { $0.status == .finished && $0.testGrouping != nil && !$0.headlinePredictions.isEmpty }) {
            let cases = Set(sample.headlinePredictions.map { grouping.group(of: $0.file) }).count
            note += mcnemarNote(grouping, images: sample.headlinePredictions.count, cases: cases, over: "training seeds")
        } else {
            note += " McNemar's exact test compares the two final models image by image for each seed.\n\n"
        }
        return table + note
    }

    /// "The verdict names its family: …": how the verdicts of several comparisons are adjusted.
    static let familyNote = """
        The verdict names its family: with more than one comparison \
        in the table the verdicts use Holm-adjusted p-values over all of them, so that the chance of any false \
        verdict among the rows stays at α; a report with fewer comparisons may call the same runs significant.
        """

    /// What McNemar's test clustered by group does, for the notes under a comparison.
    static func mcnemarNote(_ grouping: TestGrouping, images: Int, cases: Int, over: String) -> String {
        """
         McNemar's test compares the two final models for each seed image by image, clustered by \(grouping.unit): \
        the \(images) test images are copies of \(cases) \(grouping.pluralUnit), and copies tend to be \
        right or wrong together, so counting images as independent cases would overstate the evidence. Under the \
        null hypothesis each \(grouping.unit)'s difference (images only the configuration got right minus images \
        only the baseline got right) is as likely to have either sign; p is exact over all sign flips (McNemar's \
        exact test when every \(grouping.unit) has one image). Every seed is scored on the same \(cases) \
        \(grouping.pluralUnit): the t-test shows how consistently the difference appears across \(over), \
        not how it would carry over to new \(grouping.pluralUnit).

        """
    }

    /// A k-fold comparison: the paired t-test over (fold, seed) pairs of the runs' headline accuracies (both
    /// configurations tested on the same fold's groups, trained with the same seed), and on the out-of-fold view
    /// (each seed's folds pooled) the paired cluster bootstrap of Δ over every group and McNemar's test per seed.
    static func crossValidatedComparison(_ input: ReportInput, _ cv: CrossValidation, pairs: [ComparisonPair]) throws -> String {
        let view = cv.outOfFold
        let grouping = view.sharedTestGrouping
        let uncertainty = TestSetUncertainty.of(view)
        let pooled = Dictionary(view.groups().map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        /// The pooled runs of the seeds both configurations completed, among the paired runs' seeds.
        func completeInBoth(_ candidate: String, _ baseline: String, seeds: Set<Int>) -> (ConfigurationGroup, ConfigurationGroup, [Int])? {
            guard let c = pooled[candidate], let b = pooled[baseline] else { return nil }
            let both = Set(c.finished.map(\.run.seed)).intersection(b.finished.map(\.run.seed)).intersection(seeds).sorted()
            return (c, b, both)
        }
        let table = try pairedComparisonTable(
            input.groups(), pairs: pairs, deltaTitle: "Δ \(input.epochRule.adjective.lowercased()) test acc (mean over pairs)",
            pairedBy: "Paired runs (fold, seed)",
            accuracy: { $0.headlineTestAccuracy }, predictions: { $0.run.headlinePredictions },
            mcnemarTitle: "McNemar per seed, out of fold" + (grouping.map { " (clustered by \($0.unit))" } ?? ""),
            mcnemar: { candidate, baseline, keys in
                guard let (c, b, seeds) = completeInBoth(candidate.name, baseline.name, seeds: Set(keys.map(\.seed))) else { return "n/a" }
                return try mcnemarCell(candidate: c, baseline: b, keys: seeds.map(PairKey.init(seed:)),
                                       predictions: { $0.run.headlinePredictions },
                                       clusterOf: grouping.map { grouping in { grouping.group(of: $0) } })
            },
            bootstrap: (title: "95% interval of Δ out of fold (paired bootstrap over \(uncertainty.counted))",
                        delta: { candidate, baseline in
                            guard let name = candidate.first?.configuration, let base = baseline.first?.configuration,
                                  let (c, b, seeds) = completeInBoth(name, base, seeds: Set(candidate.map(\.seed))) else { return nil }
                            let runs = { (g: ConfigurationGroup) in g.finished.filter { seeds.contains($0.run.seed) }.map(\.run) }
                            return uncertainty.difference(candidate: runs(c), baseline: runs(b), .accuracy)
                        }))
        let baselines = Set(pairs.map(\.baseline))
        let against = baselines.count == 1 ? baselines.first! : "its baseline"
        var note = """

            Δ = configuration − \(against), paired by fold and seed: both runs of a pair tested on the same fold's \
            \(uncertainty.pluralUnit) and trained with the same seed. The 95% CI of Δ and the paired t-test are over \
            these pairs; the folds' training sets overlap, so the pairs are not independent and the t-test is \
            somewhat liberal (Nadeau & Bengio 2003). The out-of-fold bootstrap interval pools each seed's folds (every \
            \(uncertainty.pluralUnit.dropLast()) tested once per seed) and resamples all \(uncertainty.counted), \
            the same drawn for both configurations, over the seeds both completed: it says how much \
            Δ depends on which cases the data set happens to hold. The verdict uses the paired t-test at \
            α = \(NumberFormat.fixed(significanceLevel, digits: 2)); with n pairs it has n − 1 degrees of freedom. \(familyNote)
            """
        if let grouping, let sample = view.runs.first(where: { $0.status == .finished && !$0.headlinePredictions.isEmpty }) {
            let cases = Set(sample.headlinePredictions.map { grouping.group(of: $0.file) }).count
            note += mcnemarNote(grouping, images: sample.headlinePredictions.count, cases: cases, over: "training seeds")
        } else {
            note += " McNemar's exact test compares the two configurations' pooled out-of-fold predictions image by "
                + "image for each seed.\n\n"
        }
        return table + note
    }

    /// The comparison table itself, for any per-run accuracy and predictions (the test split's, or an external
    /// test set's): one row per pair, paired by seed (k-fold: by fold and seed) over the finished runs that have a
    /// value in both. Runs for which `accuracy` is nil are left out; pairs whose configurations have no runs in
    /// `groups` are skipped. With more than one baseline the table names each row's. The rows are one family of
    /// tests: with more than one t-test the verdicts use Holm-adjusted p-values, shown in a column of their own.
    /// `mcnemar` replaces the McNemar cell of each pair (default: per seed on `predictions`).
    static func pairedComparisonTable(_ groups: [ConfigurationGroup], pairs: [ComparisonPair], deltaTitle: String,
                                      pairedBy: String = "Paired seeds",
                                      accuracy: (RunDigest) -> Double?,
                                      predictions: (RunDigest) -> [Prediction]?,
                                      clusterOf: ((String) -> String)? = nil,
                                      mcnemarTitle: String = "McNemar per seed",
                                      mcnemar: ((ConfigurationGroup, ConfigurationGroup, [PairKey]) throws -> String)? = nil,
                                      bootstrap: (title: String, delta: ([ReportRun], [ReportRun]) -> Estimate?)? = nil) throws -> String {
        let named = Dictionary(groups.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let showBaseline = Set(pairs.map(\.baseline)).count > 1
        func byKey(_ group: ConfigurationGroup) -> [PairKey: Double] {
            var result: [PairKey: Double] = [:]
            for digest in group.finished { if let a = accuracy(digest) { result[PairKey(digest.run)] = a } }
            return result
        }
        func mcnemarOf(_ candidate: ConfigurationGroup, _ baseline: ConfigurationGroup, _ keys: [PairKey]) throws -> String {
            if let mcnemar { return try mcnemar(candidate, baseline, keys) }
            return try mcnemarCell(candidate: candidate, baseline: baseline, keys: keys, predictions: predictions,
                                   clusterOf: clusterOf)
        }
        struct Row { var lead: [String]; var keys: [PairKey]; var delta: String; var mcnemar: String; var test: PairedTTestResult?
                     var resampled: String }
        var rows: [Row] = []
        for pair in pairs {
            guard let group = named[pair.candidate], let base = named[pair.baseline] else { continue }
            let candidate = byKey(group), baseAccuracy = byKey(base)
            let keys = Set(candidate.keys).intersection(baseAccuracy.keys).sorted()
            let test = keys.count < 2 ? nil
                : try Statistics.pairedTTest(candidate: keys.map { candidate[$0]! }, baseline: keys.map { baseAccuracy[$0]! })
            let delta = test.map { NumberFormat.signed($0.meanDifference) }
                ?? keys.first.map { NumberFormat.signed(candidate[$0]! - baseAccuracy[$0]!) } ?? "—"
            let resampled = bootstrap.map { b -> String in
                let runs = { (g: ConfigurationGroup) in g.finished.filter { keys.contains(PairKey($0.run)) }.map(\.run) }
                return b.delta(runs(group), runs(base))?.interval.map { NumberFormat.interval($0, signed: true) } ?? "n/a"
            }
            rows.append(Row(lead: [group.name] + (showBaseline ? [base.name] : []), keys: keys, delta: delta,
                            mcnemar: try mcnemarOf(group, base, keys), test: test, resampled: resampled ?? ""))
        }
        let tested = rows.indices.filter { rows[$0].test?.pValue != nil }
        let holm = Dictionary(uniqueKeysWithValues: zip(tested, Statistics.holmAdjusted(tested.map { rows[$0].test!.pValue! })))
        let showHolm = tested.count > 1
        var table = MarkdownTable(columns: [.init("Configuration")] + (showBaseline ? [.init("Baseline")] : []) + [
            .init(pairedBy, .right), .init(deltaTitle, .right), .init("95% CI of Δ (\(pairedBy == "Paired seeds" ? "seeds" : "pairs"))", .right)]
            + (bootstrap.map { [.init($0.title, .right)] } ?? []) + [
            .init("Paired t-test", .right)] + (showHolm ? [.init("Holm-adjusted", .right)] : []) + [
            .init(mcnemarTitle), .init("Verdict"),
        ])
        for (index, row) in rows.enumerated() {
            let ci = row.test?.confidenceInterval.map { NumberFormat.interval($0, signed: true) } ?? "n/a"
            let p = row.test?.pValue.map(NumberFormat.pValue) ?? "n/a"
            let adjusted = holm[index].map(NumberFormat.pValue) ?? "n/a"
            let family = tested.count > 1 ? " (Holm over \(tested.count) comparisons)" : " (1 comparison)"
            try table.addRow(row.lead + ["\(row.keys.count)", row.delta, ci] + (bootstrap == nil ? [] : [row.resampled])
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

    /// "seed 1: p = 0.210; seed 2: p < 0.001" (k-fold runs: "fold 0 seed 1: …"), or "n/a (no predictions)".
    static func mcnemarCell(candidate: ConfigurationGroup, baseline: ConfigurationGroup, keys: [PairKey],
                            predictions: (RunDigest) -> [Prediction]?,
                            clusterOf: ((String) -> String)?) throws -> String {
        var parts: [String] = []
        for key in keys {
            guard let c = candidate.finished.first(where: { PairKey($0.run) == key }).flatMap(predictions),
                  let b = baseline.finished.first(where: { PairKey($0.run) == key }).flatMap(predictions),
                  !c.isEmpty, !b.isEmpty else { continue }
            let result: McNemarResult
            do {
                result = try McNemar.test(candidate: c, baseline: b, clusterOf: clusterOf)
            } catch {
                // Name the two runs: the bare error cannot say which pair was evaluated on different images.
                throw ReportError.invalidValue(what: "McNemar \(candidate.name) vs \(baseline.name), \(key)", value: "\(error)")
            }
            parts.append("\(key): \(NumberFormat.pValue(result.pValue))")
        }
        return parts.isEmpty ? "n/a (no predictions)" : parts.joined(separator: "; ")
    }
}

/// What a comparison pairs runs by: the seed, and in a k-fold experiment the fold too (-1 without folds).
struct PairKey: Hashable, Comparable, CustomStringConvertible {
    var seed: Int
    var fold: Int
    init(_ run: ReportRun) { seed = run.seed; fold = run.fold?.fold ?? -1 }
    init(seed: Int) { self.seed = seed; fold = -1 }
    static func < (a: PairKey, b: PairKey) -> Bool { (a.seed, a.fold) < (b.seed, b.fold) }
}

extension PairKey {
    /// "seed 2", "fold 3 seed 2".
    var description: String { (fold >= 0 ? "fold \(fold) " : "") + "seed \(seed)" }
}
