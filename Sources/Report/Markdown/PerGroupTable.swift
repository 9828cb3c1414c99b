extension ReportTables {
    /// Each test group's accuracy per configuration (the runs' headline epoch, all finished seeds' images of that
    /// group together; k-fold: each seed's folds pooled), so a reader sees which photographs or patients decide the
    /// comparisons; groups sorted by the spread between configurations, then by name. "" without predictions.
    public static func perGroupAccuracy(_ input: ReportInput) throws -> String {
        try input.validate()
        let rule = input.epochRule, pooled = input.isCrossValidated
        let input = input.crossValidation?.outOfFold ?? input
        let uncertainty = TestSetUncertainty.of(input)
        let groups = input.groups().filter { $0.finished.contains { !$0.run.headlinePredictions.isEmpty } }
        guard !groups.isEmpty, !uncertainty.groupKeys.isEmpty else { return "" }
        var cells: [String: [String: (right: Int, images: Int)]] = [:]
        var labels: [String: Set<Int>] = [:]
        for group in groups {
            for digest in group.finished {
                for p in digest.run.headlinePredictions {
                    let key = digest.run.testGrouping?.group(of: p.file) ?? p.file
                    var cell = cells[key, default: [:]][group.name] ?? (0, 0)
                    cell.images += 1
                    if p.predicted == p.label { cell.right += 1 }
                    cells[key, default: [:]][group.name] = cell
                    labels[key, default: []].insert(p.label)
                }
            }
        }
        func accuracy(_ key: String, _ name: String) -> Double? {
            cells[key]?[name].map { Double($0.right) / Double(max(1, $0.images)) }
        }
        func spread(_ key: String) -> Double {
            let values = groups.compactMap { accuracy(key, $0.name) }
            return (values.max() ?? 0) - (values.min() ?? 0)
        }
        let keys = uncertainty.groupKeys.sorted { (spread($0), $1) > (spread($1), $0) }
        var table = MarkdownTable(columns: [.init("Test group"), .init("Class"), .init("Images per seed", .right)]
                                  + groups.map { .init($0.name, .right) })
        for key in keys {
            let seeds = max(1, groups.first.map { g in g.finished.filter { !$0.run.headlinePredictions.isEmpty }.count } ?? 1)
            let images = (cells[key]?[groups[0].name]?.images ?? 0) / seeds
            let classes = (labels[key] ?? []).sorted().map { $0 < input.classNames.count ? input.classNames[$0] : "\($0)" }
            try table.addRow([key, classes.joined(separator: ", "), "\(images)"]
                             + groups.map { g in accuracy(key, g.name).map { NumberFormat.fixed($0, digits: 2) } ?? "—" })
        }
        let right = keys.filter { key in groups.allSatisfy { (accuracy(key, $0.name) ?? 0) >= 0.9 } }.count
        let wrong = keys.filter { key in groups.allSatisfy { (accuracy(key, $0.name) ?? 1) <= 0.1 } }.count
        return "<details><summary>Accuracy per test \(uncertainty.pluralUnit.dropLast()) (\(keys.count); \(right) at least "
            + "0.9 and \(wrong) at most 0.1 in every configuration)</summary>\n\n"
            + "\(rule.adjective) accuracy over each group's images and all finished seeds"
            + (pooled ? " (each seed's folds pooled: every image once per seed)" : "")
            + "; rows with the largest difference "
            + "between configurations first.\n\n" + table.render() + "\n</details>\n"
    }
}
