extension ReportTables {
    /// A k-fold report's folds: one row per fold (its test images and each configuration's headline test accuracy,
    /// mean ± std over the seeds that finished it), then the mean ± std over folds and the out-of-fold accuracy of
    /// the pooled predictions with its interval; then which configurations are partial and what they miss. ""
    /// for a report without folds.
    public static func crossValidation(_ input: ReportInput) throws -> String {
        try input.validate()
        guard let cv = input.crossValidation else { return "" }
        let rule = input.epochRule
        let judgements = input.targetJudgements()
        let uncertainty = TestSetUncertainty.of(cv.outOfFold)
        let groups = input.groups()
        let folds = cv.configurations.map(\.folds).max() ?? 0
        var table = MarkdownTable(columns: [.init("Fold"), .init("Test images", .right)]
                                  + cv.configurations.map { .init($0.name, .right) })
        for fold in 0..<folds {
            let images = groups.lazy.flatMap(\.finished).first { $0.run.fold?.fold == fold }?.run.headlinePredictions.count
            try table.addRow(["\(fold)", images.map(String.init) ?? "—"]
                             + cv.configurations.map { SummaryCell.meanStd($0.accuracyOfFold[fold] ?? []) })
        }
        try table.addRow(["mean ± std over folds", ""] + cv.configurations.map { SummaryCell.meanStd($0.foldMeans) })
        try table.addRow(["out of fold (pooled)", "\(uncertainty.counted)"]
                         + judgements.map { j in
                             j.estimate.map { e in NumberFormat.fixed(e.value) + (e.interval.map { " " + NumberFormat.interval($0) } ?? "") }
                                 ?? "—" })
        var text = "Grouped \(folds)-fold cross-validation: each run tests on one fold of whole \(uncertainty.pluralUnit) and "
            + "trains on the others, so over one seed every \(uncertainty.pluralUnit.dropLast()) is tested exactly once. "
            + "A fold's cell: \(rule.adjective.lowercased()) test accuracy, mean ± std over the seeds that finished it. "
            + "Out of fold: each seed's \(folds) runs pooled into one prediction per image, accuracy as the mean over "
            + "seeds with its 95% interval from a cluster bootstrap over all \(uncertainty.counted) "
            + "(every seed scored on the same drawn \(uncertainty.pluralUnit)). It differs from the "
            + "mean over folds when folds differ in size. Seeds: \(cv.seeds.map(String.init).joined(separator: ", ")).\n\n"
            + table.render()
        let partial = cv.configurations.filter { !$0.isComplete }
        if !partial.isEmpty {
            text += "\nPartial (no verdict over folds until every fold of every seed has finished; their out-of-fold "
                + "numbers are over the seeds whose folds all finished):\n\n"
                + partial.map { "- \($0.name): missing \($0.missingText)" }.joined(separator: "\n") + "\n"
        }
        return text
    }
}
