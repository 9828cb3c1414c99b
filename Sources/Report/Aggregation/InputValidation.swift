extension ReportRun {
    /// "DenseNet-121 seed 2", "DenseNet-121 fold 3 seed 2": how the report names one run.
    var name: String { "\(configuration)" + (fold.map { " fold \($0.fold)" } ?? "") + " seed \(seed)" }
}

extension ReportInput {
    /// Checks the input once up front so the renderers can trust it. Throws on the first problem found.
    public func validate() throws {
        guard !classNames.isEmpty else { throw ReportError.invalidValue(what: "classNames", value: "empty") }
        guard classNames.indices.contains(positiveClass) else {
            throw ReportError.classOutOfRange(what: "positiveClass", index: positiveClass, classCount: classNames.count)
        }
        guard targetAccuracy.isFinite, (0...1).contains(targetAccuracy) else {
            throw ReportError.invalidValue(what: "targetAccuracy (a fraction in [0, 1])", value: "\(targetAccuracy)")
        }
        if let planned = plannedSeedsPerConfiguration, planned < 1 {
            throw ReportError.invalidValue(what: "plannedSeedsPerConfiguration", value: "\(planned)")
        }
        if let baseline, !runs.contains(where: { $0.configuration == baseline }) {
            throw ReportError.invalidValue(what: "baseline (no run has this configuration)", value: baseline)
        }
        for pair in comparisons {
            for name in [pair.candidate, pair.baseline] where !runs.contains(where: { $0.configuration == name }) {
                throw ReportError.invalidValue(what: "comparison (no run has this configuration)", value: name)
            }
        }
        var seen = Set<String>()
        for run in runs {
            let name = run.name
            guard seen.insert("\(run.configuration)\u{0}\(run.seed)\u{0}\(run.fold?.fold ?? -1)").inserted else {
                throw ReportError.invalidValue(what: "runs", value: "duplicate \(name)")
            }
            for (i, e) in run.epochs.enumerated() {
                guard e.epoch == i + 1 else {
                    throw ReportError.invalidValue(what: "\(name) epoch numbers (expected 1, 2, 3, …)", value: "\(e.epoch) at position \(i + 1)")
                }
                let values = [e.trainLoss, e.trainAccuracy, e.testLossOrNaN, e.testAccuracyOrNaN, e.seconds, e.imagesPerSecond]
                try Statistics.requireFinite(values, what: "\(name) epoch \(e.epoch)")
                for accuracy in [e.trainAccuracy, e.testAccuracyOrNaN] where !(0...1).contains(accuracy) {
                    throw ReportError.invalidValue(what: "\(name) epoch \(e.epoch) accuracy (a fraction in [0, 1])", value: "\(accuracy)")
                }
            }
            if let fold = run.fold, !(fold.folds >= 2 && (0..<fold.folds).contains(fold.fold)) {
                throw ReportError.invalidValue(what: "\(name) fold (0..<folds, folds ≥ 2)", value: "\(fold.fold) of \(fold.folds)")
            }
            if let epoch = run.selectedEpoch, run.epochs.isEmpty || !(1...run.epochs.count).contains(epoch) {
                throw ReportError.invalidValue(what: "\(name) selected epoch (one of its epochs)", value: "\(epoch)")
            }
            if let epoch = run.stoppedEarlyAt, epoch != run.epochs.count, run.status == .finished {
                throw ReportError.invalidValue(what: "\(name) stopped early at (its last epoch, \(run.epochs.count))", value: "\(epoch)")
            }
            for p in run.predictions + run.selectedPredictions + run.externalTests.flatMap(\.predictions) {
                guard classNames.indices.contains(p.label) else {
                    throw ReportError.classOutOfRange(what: "\(name) label of \(p.file)", index: p.label, classCount: classNames.count)
                }
                guard p.probabilities.count == classNames.count else {
                    throw ReportError.lengthMismatch(what: "\(name) probabilities of \(p.file) vs classNames",
                                                     left: p.probabilities.count, right: classNames.count)
                }
                try Statistics.requireFinite(p.probabilities, what: "\(name) probabilities of \(p.file)")
            }
            var tests = Set<String>()
            for t in run.externalTests {
                guard tests.insert("\(t.name)\u{0}\(t.weights)").inserted else {
                    throw ReportError.invalidValue(what: "\(name) external tests", value: "duplicate \(t.name) (\(t.weights.rawValue))")
                }
                guard !t.predictions.isEmpty else {
                    throw ReportError.invalidValue(what: "\(name) external test \(t.name)", value: "no predictions")
                }
            }
        }
    }
}
