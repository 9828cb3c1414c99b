import AblateCore
import Foundation

/// Files `renderReport` wrote, for the caller to print or link.
public struct RenderedReport: Sendable, Equatable {
    public var readme: URL
    public var figures: [FigureFile]
    public var csv: URL
}

public enum ReportFileName {
    public static let readme = "README.md"
    public static let trainingCurves = "training_curves.png"
    public static let finalAccuracy = "final_accuracy.png"
    public static let epochsCSV = "epochs.csv"
    public static let nearDuplicates = "near_duplicates.png"
}

/// Writes README.md, the figures and the per-epoch CSV into `outDir` (created if missing).
/// The markdown is a pure function of `input` except for the one "Generated at" line.
@discardableResult
public func renderReport(_ input: ReportInput, outDir: URL, generatedAt: Date = Date()) throws -> RenderedReport {
    try input.validate()
    do {
        try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
    } catch {
        throw ReportError.io(path: outDir.path, reason: "cannot create the folder: "
            + (ErrorText.obstacle(creatingFolder: outDir.path) ?? ErrorText.reason(error)))
    }
    let hasFinished = input.runs.contains { $0.status == .finished && !$0.epochs.isEmpty }
    var figures: [FigureFile] = []
    if hasFinished {
        figures.append(try Figures.trainingCurves(input, to: outDir.appendingPathComponent(ReportFileName.trainingCurves)))
        figures.append(try Figures.finalAccuracy(input, to: outDir.appendingPathComponent(ReportFileName.finalAccuracy)))
    }
    if !input.nearDuplicatePairs.isEmpty {
        figures.append(try Figures.contactSheet(input.nearDuplicatePairs, title: "Closest test–training pairs by appearance",
                                                to: outDir.appendingPathComponent(ReportFileName.nearDuplicates)))
    }
    let csvURL = outDir.appendingPathComponent(ReportFileName.epochsCSV)
    try write(try CSV.epochs(input), to: csvURL)
    let readmeURL = outDir.appendingPathComponent(ReportFileName.readme)
    try write(try reportMarkdown(input, generatedAt: generatedAt, withFigures: hasFinished), to: readmeURL)
    return RenderedReport(readme: readmeURL, figures: figures, csv: csvURL)
}

/// The README body. Sections appear in a fixed order; the comparison only when there is something to compare.
public func reportMarkdown(_ input: ReportInput, generatedAt: Date, withFigures: Bool = true) throws -> String {
    try input.validate()
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone(identifier: "UTC")
    let finished = input.runs.filter { $0.status == .finished }.count
    let rule = input.epochRule
    let headline = rule.selects
        ? "The headline is the test accuracy of the epoch each run reports (\(rule.statement)), never chosen on the "
            + "test set"
        : "The headline is the last epoch's test accuracy"
    let folds = input.isCrossValidated
        ? " In this k-fold experiment a configuration's headline is out of fold: each seed's folds pooled, so every "
            + "image is tested once per seed (see Cross-validation)."
        : ""
    let stoppedEarly = input.runs.contains { $0.stoppedEarlyAt != nil }
        ? " A run that stopped early (early stopping on validation) is finished and averaged like the others." : ""
    var parts: [String] = [
        "# \(input.title)\n",
        (input.description.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) + "\n\n" } ?? "")
            + input.warnings.map { "> **Warning:** \($0)\n\n" }.joined()
            + "Generated at \(formatter.string(from: generatedAt)).\n",
        "\(input.runs.count) runs" + (input.plannedRuns.map { " of \($0) planned" } ?? "")
            + ", \(finished) finished; accuracies are fractions of the test set; "
            + "target accuracy \(NumberFormat.fixed(input.targetAccuracy)). Means, standard deviations (n − 1) and "
            + "t-based 95% confidence intervals are over finished seeds only; 95% intervals marked bootstrap come "
            + "from resampling the test set's groups (see docs/reading-a-verdict.md). " + headline + "; best test "
            + "accuracy is the maximum over epochs, chosen on the test set and so "
            + "optimistic. First epoch ≥ target is the mean first epoch at the target over the runs that reached it. "
            + "s/epoch and img/s (wall clock of training and test pass; training throughput) are each run's median "
            + "over its epochs." + folds + stoppedEarly + "\n",
        "## Summary\n",
        try ReportTables.summary(input),
        try ReportTables.targetStatement(input),
    ]
    if withFigures {
        parts.append("![Training curves: loss and accuracy per epoch, mean over seeds with ±1 std band](\(ReportFileName.trainingCurves))\n"
            + Figures.curvesNote(input))
    }
    let crossValidation = try ReportTables.crossValidation(input)
    if !crossValidation.isEmpty {
        parts.append("## Cross-validation\n")
        parts.append(crossValidation)
    }
    if !input.dataSplits.isEmpty {
        parts.append("## Data split and leakage\n")
        parts.append(ReportTables.dataSplits(input))
        if !input.nearDuplicatePairs.isEmpty {
            let flagged = input.nearDuplicatePairs.filter(\.flagged).count
            parts.append("The \(input.nearDuplicatePairs.count) closest test–training pairs by appearance (\(flagged) flagged "
                + "as near-duplicates, caption in orange), test image left, training image right:\n\n"
                + "![Closest test–training pairs of the near-duplicate audit](\(ReportFileName.nearDuplicates))\n")
        }
    }
    let pairs = input.comparisonPairs
    if !pairs.isEmpty {
        let baselines = Set(pairs.map(\.baseline))
        parts.append(baselines.count == 1 ? "## Comparison with \(baselines.first!)\n"
                     : "## Comparison of each configuration with its baseline\n")
        parts.append(try ReportTables.comparison(input, pairs: pairs))
    }
    if withFigures {
        parts.append("![Final test accuracy per configuration: \(input.isCrossValidated ? "runs (fold × seed)" : "seeds") as dots, mean with 95% CI](\(ReportFileName.finalAccuracy))\n")
    }
    let external = try ReportTables.externalTests(input)
    if !external.isEmpty {
        parts.append("## External test\n")
        parts.append("Finished runs scored by `ablate evaluate` on labelled folders outside their split.\n")
        parts.append(external)
    }
    let perGroup = try ReportTables.perGroupAccuracy(input)
    if !perGroup.isEmpty {
        parts.append("## Which test cases decide\n")
        parts.append(perGroup)
    }
    parts.append("## Classification metrics\n")
    parts.append(try ReportTables.classificationMetrics(input))
    parts.append("<details><summary>Per run</summary>\n\n" + (try ReportTables.classificationMetricsPerRun(input)) + "\n</details>\n")
    parts.append("## Confusion matrices\n")
    parts.append(try ReportTables.confusionMatrices(input))
    parts.append("## Runs\n")
    parts.append(try ReportTables.runs(input))
    parts.append("Per-epoch data of every run: [\(ReportFileName.epochsCSV)](\(ReportFileName.epochsCSV)).\n")
    parts.append("## Compute\n")
    parts.append(try ReportTables.compute(input))
    return parts.joined(separator: "\n")
}

private func write(_ text: String, to url: URL) throws {
    do {
        try text.write(to: url, atomically: true, encoding: .utf8)
    } catch {
        throw ReportError.io(path: url.path, reason: "cannot write: \(ErrorText.reason(error))")
    }
}
