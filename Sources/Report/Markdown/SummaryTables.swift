/// Markdown sections of the report. Each function validates its input and returns a table plus any notes;
/// only finished runs enter means, intervals and tests, and the notes list the others by name.
public enum ReportTables {
    /// One row per configuration: size, seeds finished k/n, best and last-epoch test accuracy, target, speed.
    public static func summary(_ input: ReportInput) throws -> String {
        try input.validate()
        var table = MarkdownTable(columns: [
            .init("Configuration"), .init("Params", .right), .init("Mult-adds", .right), .init("Seeds finished", .right),
            .init("Best test acc (mean ± std)", .right), .init("Best test acc 95% CI", .right),
            .init("Last-epoch test acc (mean ± std)", .right),
            .init("Reached \(NumberFormat.fixed(input.targetAccuracy, digits: 3))", .right), .init("Mean epoch reached", .right),
            .init("s/epoch", .right), .init("img/s", .right),
        ])
        for group in input.groups() {
            let finished = group.finished
            let best = finished.compactMap(\.bestTestAccuracy)
            let reached = finished.compactMap(\.epochReachedTarget).map(Double.init)
            try table.addRow([
                group.name,
                sizeCell(group.runs.map(\.run.parameters)),
                sizeCell(group.runs.map(\.run.multiplyAdds)),
                NumberFormat.fraction(finished.count, of: group.plannedSeeds),
                SummaryCell.meanStd(best),
                SummaryCell.confidenceInterval(best),
                SummaryCell.meanStd(finished.compactMap(\.lastTestAccuracy)),
                NumberFormat.fraction(reached.count, of: finished.count),
                SummaryCell.mean(reached, digits: 1),
                SummaryCell.mean(finished.compactMap(\.medianSecondsPerEpoch), digits: 1),
                SummaryCell.mean(finished.compactMap(\.medianImagesPerSecond), digits: 1),
            ])
        }
        return table.render() + unfinishedNote(input)
    }

    /// The answer to "was the target reached?" in one plain paragraph, with the best results either way. A
    /// configuration reaches the target when the mean over its finished seeds of the best-epoch test accuracy
    /// does (`ReportInput.reachesTarget`); best epochs are picked on the test set, so the paragraph also gives the
    /// last-epoch mean of the same configuration, which is not.
    public static func targetStatement(_ input: ReportInput) throws -> String {
        try input.validate()
        let target = NumberFormat.fixed(input.targetAccuracy)
        let scored = input.groups().filter { $0.meanBestTestAccuracy != nil }
        guard let top = scored.max(by: { $0.meanBestTestAccuracy! < $1.meanBestTestAccuracy! }),
              let bestRun = scored.flatMap(\.finished).filter({ $0.bestTestAccuracy != nil })
                .max(by: { $0.bestTestAccuracy! < $1.bestTestAccuracy! }) else {
            return "**Target (test accuracy ≥ \(target)):** no finished run yet.\n"
        }
        func described(_ group: ConfigurationGroup) -> String {
            let best = group.finished.compactMap(\.bestTestAccuracy), last = group.finished.compactMap(\.lastTestAccuracy)
            let runs = group.finished.filter { $0.epochReachedTarget != nil }.count
            return "\(group.name) (best epoch \(SummaryCell.meanStd(best)) over \(best.count) seed\(best.count == 1 ? "" : "s"), "
                + "last epoch \(SummaryCell.meanStd(last)); \(runs) of \(group.finished.count) runs reached it in some epoch)"
        }
        let reaching = scored.filter { $0.meanBestTestAccuracy! >= input.targetAccuracy }
        let single = "the best single run is \(bestRun.run.configuration) seed \(bestRun.run.seed) with "
            + "\(NumberFormat.fixed(bestRun.bestTestAccuracy!)) at epoch \(bestRun.bestEpoch!)"
        let caveat = " Best-epoch accuracy is picked on the test set and so optimistic; the last-epoch accuracy is not."
        if reaching.isEmpty {
            return "**Target (test accuracy ≥ \(target)): not reached.** No configuration's mean best-epoch test "
                + "accuracy reaches it. The closest is \(described(top)); \(single).\(caveat)\n"
        }
        return "**Target (test accuracy ≥ \(target)): reached** by " + reaching.map(described).joined(separator: "; ")
            + "; \(single).\(caveat)\n"
    }

    /// One row per run, finished or not, so nothing disappears from the report.
    public static func runs(_ input: ReportInput) throws -> String {
        try input.validate()
        var table = MarkdownTable(columns: [
            .init("Configuration"), .init("Seed", .right), .init("Status"), .init("Epochs", .right),
            .init("Best test acc (epoch)", .right), .init("Last-epoch test acc", .right), .init("Last-epoch test loss", .right),
            .init("Reached target at epoch", .right), .init("s/epoch", .right), .init("img/s", .right),
        ])
        for group in input.groups() {
            for digest in group.runs {
                let best = digest.bestTestAccuracy.map { "\(NumberFormat.fixed($0)) (\(digest.bestEpoch!))" } ?? "—"
                try table.addRow([
                    group.name, "\(digest.run.seed)",
                    digest.isFinished ? "finished" : "\(digest.run.status.rawValue) (not averaged)",
                    "\(digest.run.epochs.count)", best,
                    digest.lastTestAccuracy.map { NumberFormat.fixed($0) } ?? "—",
                    digest.lastTestLoss.map { NumberFormat.fixed($0) } ?? "—",
                    digest.epochReachedTarget.map(String.init) ?? "not reached",
                    digest.medianSecondsPerEpoch.map { NumberFormat.fixed($0, digits: 1) } ?? "—",
                    digest.medianImagesPerSecond.map { NumberFormat.fixed($0, digits: 1) } ?? "—",
                ])
            }
        }
        return table.render()
    }

    /// The runs that are not finished and the planned configurations without runs, or "" when there are none.
    static func unfinishedNote(_ input: ReportInput) -> String {
        let lines = input.groups().flatMap(\.unfinished).map { digest in
            "- \(digest.run.configuration) seed \(digest.run.seed): \(digest.run.status.rawValue) after \(digest.run.epochs.count) epoch\(digest.run.epochs.count == 1 ? "" : "s")"
        }
        var note = lines.isEmpty ? "" : "\nNot finished, so not averaged into the table above:\n\n" + lines.joined(separator: "\n") + "\n"
        if !input.notYetRun.isEmpty {
            note += "\nPlanned by the experiment but without any run here yet: " + input.notYetRun.joined(separator: ", ")
                + (input.plannedSeedsPerConfiguration.map { " (\($0) seed\($0 == 1 ? "" : "s") each)" } ?? "") + ".\n"
        }
        return note
    }

    /// One size for the configuration, or "a – b" if its runs disagree (a bug worth seeing, not hiding).
    static func sizeCell(_ values: [Int]) -> String {
        guard let low = values.min(), let high = values.max() else { return "—" }
        return low == high ? NumberFormat.magnitude(low) : "\(NumberFormat.magnitude(low)) – \(NumberFormat.magnitude(high))"
    }
}

extension ReportTables {
    /// One row per distinct split: sizes and how many test files have a byte-identical copy, or a file of the
    /// same group (same photograph / patient), in training. Non-zero counts mean the test accuracy is inflated.
    /// "test groups" is how many distinct originals the test files come from: the number of independent cases.
    public static func dataSplits(_ input: ReportInput) -> String {
        var table = MarkdownTable(columns: [
            .init("split"), .init("train files", .right), .init("test files", .right),
            .init("test byte-identical to a train file", .right), .init("test sharing a group with train", .right),
            .init("test with a near-duplicate in train", .right),
            .init("group key"), .init("test groups", .right), .init("skipped files", .right),
        ])
        for s in input.dataSplits {
            try? table.addRow([s.description, "\(s.trainFiles)", "\(s.testFiles)", "\(s.testByteIdenticalInTrain)",
                               "\(s.testGroupSharedWithTrain)", s.testNearDuplicateInTrain.map { "\($0)" } ?? "—",
                               s.groupKey, s.testGroups.map { "\($0)" } ?? "—", "\(s.skippedFiles)"])
        }
        var text = table.render()
        if input.dataSplits.contains(where: { $0.testByteIdenticalInTrain > 0 || $0.testGroupSharedWithTrain > 0
                                              || ($0.testNearDuplicateInTrain ?? 0) > 0 }) {
            text += "\nThe test set shares images (or copies of the same photograph) with the training set: accuracy on this split measures memorisation as much as recognition. Compare with a `grouped` split.\n"
        }
        if let rule = input.dataSplits.lazy.compactMap(\.nearDuplicateRule).first {
            text += "\nNear-duplicates are found by appearance, not names: \(rule). \"—\": runs stored before this audit.\n"
        }
        return text
    }
}
