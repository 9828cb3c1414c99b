// Grouped k-fold cross-validation. Each run tests on one fold; over the folds of one seed every group (patient) is
// tested exactly once. So per configuration and seed the folds' headline predictions pool into one out-of-fold
// prediction set of the whole data set, and the report's prediction-based numbers (target verdict, classification
// metrics, confusion matrices, per-group table, cluster-bootstrap intervals) read those pooled sets: the
// out-of-fold view, an input of one pooled run per configuration and seed. Numbers per fold (mean ± std over
// folds, the per-fold table, the paired t-test over (fold, seed) pairs) read the fold runs themselves.
import AblateCore

/// A k-fold experiment's folds per configuration: which (fold, seed) runs are missing, and the accuracies per fold.
struct CrossValidation {
    struct Configuration {
        let name: String
        let folds: Int
        /// (fold, seed) without a finished run, by fold then seed.
        let missing: [(fold: Int, seed: Int)]
        /// Planned seeds without any run of this configuration (beyond `seeds`).
        let seedsNotRun: Int
        /// Per fold, the headline test accuracies of its finished runs (one per seed).
        let accuracyOfFold: [Int: [Double]]

        /// Every fold of every seed finished: only then is the configuration judged over its folds.
        var isComplete: Bool { missing.isEmpty && seedsNotRun == 0 }

        /// Mean over its seeds of each fold's accuracy, for the folds with a finished run.
        var foldMeans: [Double] {
            accuracyOfFold.keys.sorted().compactMap { try? Statistics.mean(accuracyOfFold[$0]!) }
        }

        /// "fold 2 (seed 1), fold 4 (seeds 1, 2)" and "1 planned seed not yet run"; "" when complete.
        var missingText: String {
            var byFold: [Int: [Int]] = [:]
            for m in missing { byFold[m.fold, default: []].append(m.seed) }
            var parts = byFold.keys.sorted().map { fold -> String in
                let seeds = byFold[fold]!
                return "fold \(fold) (seed\(seeds.count == 1 ? "" : "s") \(seeds.map(String.init).joined(separator: ", ")))"
            }
            if seedsNotRun > 0 { parts.append("\(seedsNotRun) planned seed\(seedsNotRun == 1 ? "" : "s") not yet run") }
            return parts.joined(separator: ", ")
        }
    }

    /// In `groups()` order.
    let configurations: [Configuration]
    /// Seeds of the experiment (of any configuration's runs), ascending.
    let seeds: [Int]
    /// One run per configuration and seed: finished, with the folds' headline predictions pooled, when every fold
    /// of that seed finished; else queued, without predictions (so the configuration still has a run to name).
    let outOfFold: ReportInput

    func configuration(_ name: String) -> Configuration? { configurations.first { $0.name == name } }
}

extension ReportInput {
    /// Whether the runs are grouped k-fold cross-validation.
    var isCrossValidated: Bool { runs.contains { $0.fold != nil } }

    /// The folds of a k-fold input; nil for every other split.
    var crossValidation: CrossValidation? { isCrossValidated ? CrossValidation(self) : nil }
}

extension CrossValidation {
    init(_ input: ReportInput) {
        seeds = Set(input.runs.map(\.seed)).sorted()
        var configurations: [Configuration] = [], pooled: [ReportRun] = []
        for group in input.groups() {
            let folds = group.runs.compactMap(\.run.fold?.folds).max() ?? 1
            var missing: [(fold: Int, seed: Int)] = [], accuracyOfFold: [Int: [Double]] = [:]
            for fold in 0..<folds {
                for seed in seeds {
                    let run = group.finished.first { $0.run.seed == seed && $0.run.fold?.fold == fold }
                    if let accuracy = run?.headlineTestAccuracy { accuracyOfFold[fold, default: []].append(accuracy) }
                    if run == nil { missing.append((fold, seed)) }
                }
            }
            let seedsNotRun = max(0, (input.plannedSeedsPerConfiguration ?? 0) - seeds.count)
            configurations.append(Configuration(name: group.name, folds: folds, missing: missing,
                                                seedsNotRun: seedsNotRun, accuracyOfFold: accuracyOfFold))
            for seed in seeds {
                let runs = group.runs.filter { $0.run.seed == seed }.sorted { ($0.run.fold?.fold ?? 0) < ($1.run.fold?.fold ?? 0) }
                guard let first = runs.first?.run else { continue }
                let complete = !missing.contains { $0.seed == seed }
                let groupings = runs.compactMap(\.run.testGrouping)
                var groupOfFile: [String: String] = [:]
                for grouping in groupings { groupOfFile.merge(grouping.groupOfFile) { a, _ in a } }
                pooled.append(ReportRun(
                    configuration: group.name, seed: seed, parameters: first.parameters, multiplyAdds: first.multiplyAdds,
                    status: complete ? .finished : .queued, epochs: [],
                    predictions: complete ? runs.flatMap(\.run.headlinePredictions) : [],
                    testGrouping: groupings.first.map { TestGrouping(unit: $0.unit, groupOfFile: groupOfFile) }))
            }
        }
        self.configurations = configurations
        var view = input
        view.runs = pooled
        outOfFold = view
    }
}
