extension ReportTables {
    /// Positive-vs-rest metrics (e.g. Monkeypox vs everything else) of each finished run's final model:
    /// one row per configuration, mean ± std over its runs with predictions, and for sensitivity, specificity and
    /// ROC-AUC the 95% cluster-bootstrap interval of that mean over the test set's groups. The final model is the
    /// epoch each run reports (`EpochRule`); in a k-fold report a run is a seed's folds pooled (out of fold).
    public static func classificationMetrics(_ input: ReportInput) throws -> String {
        try input.validate()
        let pooled = input.isCrossValidated
        let input = input.crossValidation?.outOfFold ?? input
        let positive = input.classNames[input.positiveClass]
        let uncertainty = TestSetUncertainty.of(input)
        var table = MarkdownTable(columns: [
            .init("Configuration"), .init("Runs", .right), .init("Sensitivity", .right), .init("Specificity", .right),
            .init("Precision", .right), .init("F1", .right), .init("Accuracy (\(positive) vs rest)", .right),
            .init("ROC-AUC", .right),
        ])
        for group in input.groups() {
            let metrics = try group.finished.filter { !$0.run.headlinePredictions.isEmpty }
                .map { try ClassificationMetrics.binary(predictions: $0.run.headlinePredictions, positiveClass: input.positiveClass) }
            let cell = { (values: [Double?]) in SummaryCell.meanStdOfDefined(values) }
            let runs = group.finished.map(\.run)
            func resampled(_ values: [Double?], _ metric: ResampledMetric) -> String {
                let interval = uncertainty.estimate(runs, metric)?.interval
                return cell(values) + (interval.map { " " + NumberFormat.interval($0) } ?? "")
            }
            try table.addRow([
                group.name, "\(metrics.count)", resampled(metrics.map(\.sensitivity), .sensitivity),
                resampled(metrics.map(\.specificity), .specificity),
                cell(metrics.map(\.precision)), cell(metrics.map(\.f1)), cell(metrics.map(\.accuracy)),
                resampled(metrics.map(\.rocAUC), .rocAUC),
            ])
        }
        return "Positive class: **\(positive)**. Sensitivity = TP/(TP+FN), specificity = TN/(TN+FP), "
            + "precision = TP/(TP+FP); ROC-AUC ranks the softmax probability of \(positive) (ties count ½; 0.5 is "
            + "chance). Mean ± std over seeds" + (pooled ? " of the out-of-fold predictions (each seed's folds pooled)" : "")
            + "; in brackets the 95% interval of the mean from a cluster bootstrap over "
            + "the \(pooled ? "data" : "test") set's \(uncertainty.counted).\n\n"
            + table.render()
    }

    /// The same positive-vs-rest metrics for every finished run with predictions, one row per run (k-fold: per
    /// seed, its folds pooled).
    public static func classificationMetricsPerRun(_ input: ReportInput) throws -> String {
        try input.validate()
        let input = input.crossValidation?.outOfFold ?? input
        var table = MarkdownTable(columns: [
            .init("Configuration"), .init("Seed", .right), .init("TP", .right), .init("FN", .right), .init("FP", .right),
            .init("TN", .right), .init("Sensitivity", .right), .init("Specificity", .right), .init("Precision", .right),
            .init("F1", .right), .init("ROC-AUC", .right),
        ])
        for group in input.groups() {
            for digest in group.finished where !digest.run.headlinePredictions.isEmpty {
                let m = try ClassificationMetrics.binary(predictions: digest.run.headlinePredictions, positiveClass: input.positiveClass)
                let cells = [m.sensitivity, m.specificity, m.precision, m.f1, m.rocAUC].map { $0.map { NumberFormat.fixed($0) } ?? "undefined" }
                try table.addRow([group.name, "\(digest.run.seed)", "\(m.truePositives)", "\(m.falseNegatives)",
                                  "\(m.falsePositives)", "\(m.trueNegatives)"] + cells)
            }
        }
        return table.render()
    }

    /// One k × k confusion matrix per configuration (rows = true class, columns = predicted), summed over its
    /// finished runs with predictions (k-fold: each seed's folds pooled, so every image counts once per seed).
    public static func confusionMatrices(_ input: ReportInput) throws -> String {
        try input.validate()
        let input = input.crossValidation?.outOfFold ?? input
        var sections: [String] = []
        for group in input.groups() {
            let runs = group.finished.filter { !$0.run.headlinePredictions.isEmpty }
            guard !runs.isEmpty else { continue }
            var total = Array(repeating: Array(repeating: 0, count: input.classNames.count), count: input.classNames.count)
            for digest in runs {
                let m = try ClassificationMetrics.confusionMatrix(labels: digest.run.headlinePredictions.map(\.label),
                                                                  predicted: digest.run.headlinePredictions.map(\.predicted),
                                                                  classCount: input.classNames.count)
                for i in m.indices { for j in m[i].indices { total[i][j] += m[i][j] } }
            }
            var table = MarkdownTable(columns: [.init("True \\ predicted")] + input.classNames.map { .init($0, .right) }
                                      + [.init("Total", .right), .init("Recall", .right)])
            for (i, row) in total.enumerated() {
                let sum = row.reduce(0, +)
                try table.addRow([input.classNames[i]] + row.map(String.init) + ["\(sum)",
                                  sum == 0 ? "—" : NumberFormat.fixed(Double(row[i]) / Double(sum))])
            }
            let seeds = runs.map { "\($0.run.seed)" }.joined(separator: ", ")
            sections.append("**\(group.name)** (summed over seed\(runs.count == 1 ? "" : "s") \(seeds))\n\n" + table.render())
        }
        return sections.isEmpty ? "No test predictions recorded.\n" : sections.joined(separator: "\n")
    }
}
