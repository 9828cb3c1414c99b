import AblateCore

extension ReportTables {
    /// One part per external test set (by name): the leakage audit against the runs' training files, accuracy
    /// and positive-vs-rest metrics per configuration and weights (mean ± std over finished seeds), and the
    /// paired comparison with the baseline on the weights each run reports (selected on validation, else the
    /// last epoch's). "" when no run has an external test.
    public static func externalTests(_ input: ReportInput) throws -> String {
        try input.validate()
        var names: [String] = []
        for run in input.runs where run.status == .finished {
            for t in run.externalTests where !names.contains(t.name) { names.append(t.name) }
        }
        guard !names.isEmpty else { return "" }
        let groups = input.groups()
        let rule = input.epochRule
        // The weights the comparisons use first (selected on validation, else last; not `allCases`' order), then
        // the best epoch on test.
        let weightOrder: [PredictionKind] = [.selected, .last, .best]
        let positive = input.classNames[input.positiveClass]
        var parts: [String] = []
        for name in names {
            func result(_ digest: RunDigest, _ weights: PredictionKind) -> ExternalTestResult? {
                digest.run.externalTests.first { $0.name == name && $0.weights == weights }
            }
            let results = groups.flatMap(\.finished).flatMap { d in d.run.externalTests.filter { $0.name == name } }
            parts.append("### \(name)\n\n" + auditSentence(results.map(\.audit)))
            // The set's own cluster bootstrap: its runs' predictions as runs of their own, grouped by the runs' key.
            func asRun(_ digest: RunDigest, _ weights: PredictionKind) -> ReportRun? {
                guard let r = result(digest, weights) else { return nil }
                var run = digest.run
                run.configuration += "\u{1}\(weights.rawValue)"
                run.predictions = r.predictions; run.testGrouping = r.grouping
                run.selection = .last; run.selectedPredictions = []
                return run
            }
            let units = Set(results.map { $0.grouping?.pluralUnit ?? "images" })
            let uncertainty = TestSetUncertainty(
                runs: groups.flatMap(\.finished).flatMap { d in weightOrder.compactMap { asRun(d, $0) } },
                positiveClass: input.positiveClass, pluralUnit: units.count == 1 ? units.first! : "images or groups")

            var table = MarkdownTable(columns: [
                .init("Configuration"), .init("Weights"), .init("Runs", .right), .init("Accuracy (mean ± std)", .right),
                .init("95% interval (bootstrap over \(uncertainty.counted))", .right),
                .init("Sensitivity", .right), .init("Specificity", .right), .init("ROC-AUC", .right),
            ])
            for group in groups {
                for weights in weightOrder {
                    let rows = group.finished.compactMap { result($0, weights) }
                    guard !rows.isEmpty else { continue }
                    let metrics = try rows.map {
                        try ClassificationMetrics.binary(predictions: $0.predictions, positiveClass: input.positiveClass)
                    }
                    let epochs = Set(rows.map(\.epoch)).sorted().map(String.init).joined(separator: ", ")
                    let runs = group.finished.compactMap { asRun($0, weights) }
                    func interval(_ metric: ResampledMetric) -> String {
                        uncertainty.estimate(runs, metric)?.interval.map { " " + NumberFormat.interval($0) } ?? ""
                    }
                    try table.addRow([
                        group.name, "\(weights.rawValue) (epoch \(epochs))", "\(rows.count)",
                        SummaryCell.meanStd(rows.map(\.accuracy)),
                        uncertainty.estimate(runs, .accuracy)?.interval.map { NumberFormat.interval($0) } ?? "n/a",
                        SummaryCell.meanStdOfDefined(metrics.map(\.sensitivity)) + interval(.sensitivity),
                        SummaryCell.meanStdOfDefined(metrics.map(\.specificity)) + interval(.specificity),
                        SummaryCell.meanStdOfDefined(metrics.map(\.rocAUC)) + interval(.rocAUC),
                    ])
                }
            }
            parts.append("Positive class: **\(positive)**. " + (rule.selects
                    ? "Selected-epoch weights (chosen on validation) are the model the test-split comparison uses (last "
                        + "for runs that do not select)" : "Last-epoch weights are the model the test-split comparison uses")
                + "; best-epoch weights were chosen on the test split, not on this set. Brackets: 95% interval of "
                + "the mean from a cluster bootstrap over this set's \(uncertainty.pluralUnit).\n\n" + table.render())
            // Compared: the pairs of the main comparison whose two configurations were both scored on this set.
            let scored = Set(groups.filter { g in g.finished.contains { result($0, $0.run.headlineKind) != nil } }.map(\.name))
            let pairs = input.comparisonPairs.filter { scored.contains($0.candidate) && scored.contains($0.baseline) }
            if !pairs.isEmpty {
                let comparison = try pairedComparisonTable(
                    groups, pairs: pairs, deltaTitle: "Δ accuracy on \(name) (\(rule.adjective.lowercased()) weights)",
                    pairedBy: input.isCrossValidated ? "Paired runs (fold, seed)" : "Paired seeds",
                    accuracy: { result($0, $0.run.headlineKind)?.accuracy },
                    predictions: { result($0, $0.run.headlineKind)?.predictions },
                    mcnemarTitle: input.isCrossValidated ? "McNemar per run (fold, seed)" : "McNemar per seed",
                    bootstrap: (title: "95% interval of Δ (paired bootstrap over \(uncertainty.counted))",
                                delta: { candidate, baseline in
                                    let lift = { (runs: [ReportRun]) in runs.compactMap { run in
                                        groups.flatMap(\.finished).first { $0.run == run }.flatMap { asRun($0, $0.run.headlineKind) }
                                    } }
                                    return uncertainty.difference(candidate: lift(candidate), baseline: lift(baseline), .accuracy)
                                }))
                parts.append((input.isCrossValidated ? "Paired by fold and seed (each fold's model scored on this set):\n\n"
                              : "Paired by seed, as in the comparison above:\n\n") + comparison)
            }
        }
        return parts.joined(separator: "\n")
    }

    /// "434 images; against the runs' training files: 0 byte-identical, 0 …" with a warning when any leaks.
    static func auditSentence(_ audits: [ExternalAudit]) -> String {
        guard !audits.isEmpty else { return "" }
        func range(_ values: [Int]) -> String {
            let low = values.min()!, high = values.max()!
            return low == high ? "\(low)" : "\(low)–\(high)"
        }
        var text = "\(range(audits.map(\.testFiles))) images. Against each run's training files: "
            + "\(range(audits.map(\.byteIdentical))) byte-identical, \(range(audits.map(\.samePhotograph))) from a "
            + "training photograph, \(range(audits.map(\.samePatient))) from a training patient (by file name)"
        let near = audits.compactMap(\.nearDuplicate)
        text += near.isEmpty ? ".\n" : "; \(range(near)) with a near-duplicate among them by appearance.\n"
        if audits.contains(where: \.leaks) {
            text += "\n**Not an external test:** some runs trained on copies of these images, their photographs or "
                + "their patients, or on images that look the same, so accuracy here is inflated for them.\n"
        }
        return text
    }
}
