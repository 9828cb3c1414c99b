/// Markdown sections of the report. Each function validates its input and returns a table plus any notes;
/// only finished runs enter means, intervals and tests, and the notes list the others by name.
public enum ReportTables {
    /// One row per configuration: size, seeds finished k/n, last-epoch test accuracy over seeds and its 95%
    /// interval over the test set's groups, the target verdict, the best epoch's accuracy (picked on the test set,
    /// so optimistic), when the target was first reached, speed; then the chance level of the test set.
    public static func summary(_ input: ReportInput) throws -> String {
        try input.validate()
        let uncertainty = TestSetUncertainty.of(input)
        var table = MarkdownTable(columns: [
            .init("Configuration"), .init("Params", .right), .init("Mult-adds", .right), .init("Seeds finished", .right),
            .init("Last-epoch test acc (mean ± std over seeds)", .right),
            .init("95% interval (bootstrap over \(uncertainty.groupKeys.count) \(uncertainty.pluralUnit))", .right),
            .init("Target ≥ \(NumberFormat.fixed(input.targetAccuracy, digits: 3))"),
            .init("Best-epoch test acc (picked on test: optimistic)", .right),
            .init("First epoch ≥ target (mean)", .right),
            .init("s/epoch", .right), .init("img/s", .right),
        ])
        for (group, judged) in zip(input.groups(), input.targetJudgements(uncertainty)) {
            let finished = group.finished
            let reached = finished.compactMap(\.epochReachedTarget).map(Double.init)
            try table.addRow([
                group.name,
                sizeCell(group.runs.map(\.run.parameters)),
                sizeCell(group.runs.map(\.run.multiplyAdds)),
                NumberFormat.fraction(finished.count, of: group.plannedSeeds),
                SummaryCell.meanStd(finished.compactMap(\.lastTestAccuracy)),
                judged.estimate?.interval.map { NumberFormat.interval($0) } ?? "n/a (no predictions)",
                judged.verdict.rawValue,
                SummaryCell.meanStd(finished.compactMap(\.bestTestAccuracy)),
                reached.isEmpty ? "never" : SummaryCell.mean(reached, digits: 1) + " (\(reached.count)/\(finished.count))",
                SummaryCell.mean(finished.compactMap(\.medianSecondsPerEpoch), digits: 1),
                SummaryCell.mean(finished.compactMap(\.medianImagesPerSecond), digits: 1),
            ])
        }
        return table.render() + chanceNote(input) + unfinishedNote(input)
    }

    /// "Chance: always answering Others scores 238/434 = 0.548 on this test set." — the accuracy of the majority
    /// class of each distinct test set among the finished runs' predictions; "" without predictions.
    static func chanceNote(_ input: ReportInput) -> String {
        let levels = input.chanceLevels
        guard !levels.isEmpty else { return "" }
        let parts = levels.map { c in
            "always answering \(input.classNames[c.majorityClass]) scores \(c.majorityCount)/\(c.images) = "
                + NumberFormat.fixed(Double(c.majorityCount) / Double(c.images))
        }
        let what = levels.count == 1 ? "on this test set" : "on the \(levels.count) test sets of these runs, in order of first use"
        return "\nChance level: " + parts.joined(separator: "; ") + " \(what) (the dotted line in the accuracy "
            + "figures); a ROC-AUC of 0.5 is chance for the ranking.\n"
    }

    /// The answer to "was the target reached?" in one plain paragraph: each configuration's last-epoch test
    /// accuracy and its 95% interval over the test set's groups against the target — reached (the whole interval
    /// at or above it), not reached (the whole interval below), undetermined (the interval contains it) — and the
    /// best single run, picked on the test set and so optimistic.
    public static func targetStatement(_ input: ReportInput) throws -> String {
        try input.validate()
        let target = NumberFormat.fixed(input.targetAccuracy)
        let uncertainty = TestSetUncertainty.of(input)
        let judged = zip(input.groups(), input.targetJudgements(uncertainty)).filter { !$0.0.finished.isEmpty }
        guard !judged.isEmpty else { return "**Target (test accuracy ≥ \(target)):** no finished run yet.\n" }
        let overall = TargetVerdict.overall(judged.map(\.1.verdict))
        func described(_ item: (ConfigurationGroup, TargetJudgement)) -> String {
            let seeds = item.0.finished.compactMap(\.lastTestAccuracy).count
            guard let estimate = item.1.estimate else {
                return "\(item.0.name) (\(SummaryCell.meanStd(item.0.finished.compactMap(\.lastTestAccuracy))) over "
                    + "\(seeds) seed\(seeds == 1 ? "" : "s"), no stored predictions to resample)"
            }
            return "\(item.0.name) (\(NumberFormat.fixed(estimate.value)) "
                + (estimate.interval.map { NumberFormat.interval($0) } ?? "[no interval]")
                + " over \(seeds) seed\(seeds == 1 ? "" : "s"))"
        }
        var clauses: [String] = []
        for verdict in [TargetVerdict.reached, .undetermined, .notReached] {
            let members = judged.filter { $0.1.verdict == verdict }
            guard !members.isEmpty else { continue }
            let lead = verdict == .reached ? "reached by" : verdict == .undetermined ? "undetermined for" : "not reached by"
            clauses.append(lead + " " + members.map(described).joined(separator: ", "))
        }
        var text = "**Target (test accuracy ≥ \(target)): \(overall.rawValue).** Judged per configuration on the "
            + "last-epoch test accuracy, mean over seeds, with its 95% interval from a cluster bootstrap over the test "
            + "set's \(uncertainty.groupKeys.count) \(uncertainty.pluralUnit): " + clauses.joined(separator: "; ") + ". "
            + "Reached means the whole interval is at or above the target, not reached that it is below, undetermined "
            + "that it contains the target."
        let scored = judged.flatMap(\.0.finished).filter { $0.bestTestAccuracy != nil }
        if let bestRun = scored.max(by: { $0.bestTestAccuracy! < $1.bestTestAccuracy! }) {
            text += " The best single epoch of any run, picked on the test set and so optimistic: "
                + "\(bestRun.run.configuration) seed \(bestRun.run.seed) with \(NumberFormat.fixed(bestRun.bestTestAccuracy!)) "
                + "at epoch \(bestRun.bestEpoch!)."
        }
        return text + "\n"
    }

    /// One row per run, finished or not, so nothing disappears from the report.
    public static func runs(_ input: ReportInput) throws -> String {
        try input.validate()
        let uncertainty = TestSetUncertainty.of(input)
        var table = MarkdownTable(columns: [
            .init("Configuration"), .init("Seed", .right), .init("Status"), .init("Epochs", .right),
            .init("Best test acc (epoch)", .right), .init("Last-epoch test acc", .right),
            .init("95% interval (bootstrap)", .right), .init("Last-epoch test loss", .right),
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
                    (digest.isFinished ? uncertainty.estimate([digest.run], .accuracy)?.interval : nil)
                        .map { NumberFormat.interval($0) } ?? "—",
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
