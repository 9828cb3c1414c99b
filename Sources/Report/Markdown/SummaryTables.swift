/// Markdown sections of the report. Each function validates its input and returns a table plus any notes;
/// only finished runs enter means, intervals and tests, and the notes list the others by name.
public enum ReportTables {
    /// One row per configuration: size, seeds finished k/n, headline test accuracy over seeds and its 95%
    /// interval over the test set's groups, the target verdict, the best epoch's accuracy (picked on the test set,
    /// so optimistic), when the target was first reached, speed; then the chance level of the test set. The
    /// headline is the epoch the runs report (`EpochRule`); in a k-fold report it is out of fold (each seed's folds
    /// pooled), with the mean ± std over folds beside it.
    public static func summary(_ input: ReportInput) throws -> String {
        try input.validate()
        let rule = input.epochRule
        let cv = input.crossValidation
        let uncertainty = TestSetUncertainty.of(cv?.outOfFold ?? input)
        var table = MarkdownTable(columns: [
            .init("Configuration"), .init("Params", .right), .init("Mult-adds", .right)]
            + (cv == nil ? [.init("Seeds finished", .right), .init("\(rule.adjective) test acc (mean ± std over seeds)", .right)]
                : [.init("Runs finished (folds × seeds)", .right),
                   .init("Out-of-fold \(rule.adjective.lowercased()) test acc (mean ± std over seeds)", .right)]) + [
            .init("95% interval (bootstrap over \(uncertainty.counted))", .right),
            .init("Target ≥ \(NumberFormat.fixed(input.targetAccuracy, digits: 3))")]
            + (cv == nil ? [] : [.init("\(rule.adjective) test acc per fold (mean ± std over folds)", .right)]) + [
            .init("Best-epoch test acc (picked on test: optimistic)", .right),
            .init("First epoch ≥ target (mean)", .right),
            .init("s/epoch", .right), .init("img/s", .right),
        ])
        for (group, judged) in zip(input.groups(), input.targetJudgements()) {
            let finished = group.finished
            let reached = finished.compactMap(\.epochReachedTarget).map(Double.init)
            let folds = cv?.configuration(group.name)
            try table.addRow([
                group.name,
                sizeCell(group.runs.map(\.run.parameters)),
                sizeCell(group.runs.map(\.run.multiplyAdds)),
                folds.map { NumberFormat.fraction(finished.count, of: $0.folds * (cv!.seeds.count + $0.seedsNotRun)) }
                    ?? NumberFormat.fraction(finished.count, of: group.plannedSeeds),
                SummaryCell.meanStd(judged.values),
                judged.estimate?.interval.map { NumberFormat.interval($0) } ?? "n/a (no predictions)",
                judged.verdictText]
                + (folds.map { [SummaryCell.meanStd($0.foldMeans)] } ?? []) + [
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

    /// The answer to "was the target reached?" in one plain paragraph: each configuration's headline test
    /// accuracy (k-fold: out of fold) and its 95% interval over the test set's groups against the target — reached
    /// (the whole interval at or above it), not reached (the whole interval below), undetermined (the interval
    /// contains it), partial (k-fold with folds missing) — and the best single run, picked on the test set and so
    /// optimistic.
    public static func targetStatement(_ input: ReportInput) throws -> String {
        try input.validate()
        let target = NumberFormat.fixed(input.targetAccuracy)
        let cv = input.crossValidation
        let uncertainty = TestSetUncertainty.of(cv?.outOfFold ?? input)
        let judged = zip(input.groups(), input.targetJudgements()).filter { !$0.0.finished.isEmpty }
        guard !judged.isEmpty else { return "**Target (test accuracy ≥ \(target)):** no finished run yet.\n" }
        let overall = TargetVerdict.overall(judged.map(\.1.verdict))
        func described(_ item: (ConfigurationGroup, TargetJudgement)) -> String {
            let seeds = item.1.values.count
            let over = " over \(seeds) seed\(seeds == 1 ? "" : "s")" + (cv == nil ? "" : " (folds pooled)")
                + (item.1.partial.map { "; missing \($0)" } ?? "")
            guard let estimate = item.1.estimate else {
                return "\(item.0.name) (\(SummaryCell.meanStd(item.1.values))\(over), no stored predictions to resample)"
            }
            return "\(item.0.name) (\(NumberFormat.fixed(estimate.value)) "
                + (estimate.interval.map { NumberFormat.interval($0) } ?? "[no interval]") + over + ")"
        }
        var clauses: [String] = []
        let partial = judged.filter { $0.1.partial != nil }
        for verdict in [TargetVerdict.reached, .undetermined, .notReached] {
            let members = judged.filter { $0.1.verdict == verdict && $0.1.partial == nil }
            guard !members.isEmpty else { continue }
            let lead = verdict == .reached ? "reached by" : verdict == .undetermined ? "undetermined for" : "not reached by"
            clauses.append(lead + " " + members.map(described).joined(separator: ", "))
        }
        if !partial.isEmpty {
            clauses.append("no verdict yet for " + partial.map(described).joined(separator: ", ")
                           + " (folds missing: partial, counted as undetermined)")
        }
        let rule = input.epochRule
        let headline = cv == nil ? "\(rule.adjective.lowercased()) test accuracy, mean over seeds"
            : "out-of-fold \(rule.adjective.lowercased()) test accuracy (each seed's \(cv!.configurations.map(\.folds).max() ?? 0) folds "
                + "pooled, so every test image counts once per seed), mean over seeds"
        var text = "**Target (test accuracy ≥ \(target)): \(overall.rawValue).** Judged per configuration on the "
            + headline + ", with its 95% interval from a cluster bootstrap over the "
            + (cv == nil ? "test set's" : "data set's") + " \(uncertainty.counted): "
            + clauses.joined(separator: "; ") + ". "
            + "Reached means the whole interval is at or above the target, not reached that it is below, undetermined "
            + "that it contains the target."
        if rule.selects { text += " The headline \(rule.statement)." }
        let scored = judged.flatMap(\.0.finished).filter { $0.bestTestAccuracy != nil }
        if let bestRun = scored.max(by: { $0.bestTestAccuracy! < $1.bestTestAccuracy! }) {
            text += " The best single epoch of any run, picked on the test set and so optimistic: "
                + "\(bestRun.run.name) with \(NumberFormat.fixed(bestRun.bestTestAccuracy!)) "
                + "at epoch \(bestRun.bestEpoch!)."
        }
        return text + "\n"
    }

    /// One row per run, finished or not, so nothing disappears from the report. With a selection on validation
    /// the selected epoch and the last epoch's accuracy get columns of their own; k-fold runs name their fold, and
    /// their interval resamples the groups of that fold.
    public static func runs(_ input: ReportInput) throws -> String {
        try input.validate()
        let uncertainty = TestSetUncertainty.of(input)
        let rule = input.epochRule, folds = input.isCrossValidated
        // A k-fold run's interval resamples its own fold's groups: draws over every group would leave most of a
        // run's out of many resamples.
        var foldUncertainty: [Int: TestSetUncertainty] = [:]
        func runInterval(_ run: ReportRun) -> ClosedRange<Double>? {
            guard let fold = run.fold?.fold else { return uncertainty.estimate([run], .accuracy)?.interval }
            if foldUncertainty[fold] == nil {
                foldUncertainty[fold] = TestSetUncertainty(runs: input.runs.filter { $0.status == .finished && $0.fold?.fold == fold },
                                                           positiveClass: input.positiveClass, pluralUnit: uncertainty.pluralUnit)
            }
            return foldUncertainty[fold]!.estimate([run], .accuracy)?.interval
        }
        var table = MarkdownTable(columns: [.init("Configuration")] + (folds ? [.init("Fold", .right)] : []) + [
            .init("Seed", .right), .init("Status"), .init("Epochs", .right),
            .init("Best test acc (epoch)", .right)] + (rule.selects ? [.init("Selected epoch", .right)] : []) + [
            .init("\(rule.adjective) test acc", .right),
            .init("95% interval (bootstrap)", .right), .init("\(rule.adjective) test loss", .right)]
            + (rule.selects ? [.init("Last-epoch test acc", .right)] : []) + [
            .init("Reached target at epoch", .right), .init("s/epoch", .right), .init("img/s", .right),
        ])
        for group in input.groups() {
            for digest in group.runs {
                let run = digest.run
                let best = digest.bestTestAccuracy.map { "\(NumberFormat.fixed($0)) (\(digest.bestEpoch!))" } ?? "—"
                let status = digest.isFinished ? "finished" + (run.stoppedEarlyAt.map { " (stopped early at \($0))" } ?? "")
                    : "\(run.status.rawValue) (not averaged)"
                let selected = run.selectsOnValidation ? digest.headlineEpoch.map(String.init) ?? "—"
                    : run.epochs.isEmpty ? "—" : "last"
                let lead: [String] = [group.name] + (folds ? [run.fold.map { "\($0.fold)" } ?? "—"] : [])
                let interval = digest.isFinished ? runInterval(run) : nil
                let headline: [String] = [
                    digest.headlineTestAccuracy.map { NumberFormat.fixed($0) } ?? "—",
                    interval.map { NumberFormat.interval($0) } ?? "—",
                    digest.headlineTestLoss.map { NumberFormat.fixed($0) } ?? "—",
                ]
                let last: [String] = rule.selects ? [digest.lastTestAccuracy.map { NumberFormat.fixed($0) } ?? "—"] : []
                let tail: [String] = [
                    digest.epochReachedTarget.map(String.init) ?? "not reached",
                    digest.medianSecondsPerEpoch.map { NumberFormat.fixed($0, digits: 1) } ?? "—",
                    digest.medianImagesPerSecond.map { NumberFormat.fixed($0, digits: 1) } ?? "—",
                ]
                let middle: [String] = ["\(run.seed)", status, "\(run.epochs.count)", best] + (rule.selects ? [selected] : [])
                try table.addRow(lead + middle + headline + last + tail)
            }
        }
        return table.render()
    }

    /// The runs that are not finished and the planned configurations without runs, or "" when there are none.
    static func unfinishedNote(_ input: ReportInput) -> String {
        let lines = input.groups().flatMap(\.unfinished).map { digest in
            "- \(digest.run.name): \(digest.run.status.rawValue) after \(digest.run.epochs.count) epoch\(digest.run.epochs.count == 1 ? "" : "s")"
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
