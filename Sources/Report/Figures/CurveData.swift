import AblateCore

/// Mean and ±1 std of one quantity over a configuration's finished seeds, epoch by epoch.
struct CurveBand {
    var epochs: [Int] = []
    var mean: [Double] = []
    /// Sample std over seeds; 0 where only one seed has the epoch (no band there).
    var std: [Double] = []
}

/// What the training-curve figure plots for one configuration.
struct ConfigurationCurves {
    let name: String
    /// Index into the palette: position among all configurations, so colours match across figures.
    let colorIndex: Int
    let seedCount: Int
    /// Folds among its finished runs (k-fold); 0 without folds.
    let foldCount: Int
    let trainLoss: CurveBand, testLoss: CurveBand, trainAccuracy: CurveBand, testAccuracy: CurveBand
    /// Validation loss and accuracy: empty bands when no run has a validation part.
    let validationLoss: CurveBand, validationAccuracy: CurveBand
    /// The epochs its runs selected on validation (each once, ascending); empty when none selects.
    let selectedEpochs: [Int]

    /// Curves of finished runs only; configurations without a finished run are left out. Runs of different lengths
    /// (early stopping) are averaged epoch by epoch over the runs that have that epoch: past the end of a run that
    /// stopped early, the mean and band are over the runs still training (`ReportTables`' note under the figure
    /// says so).
    static func from(_ input: ReportInput) -> [ConfigurationCurves] {
        input.groups().enumerated().compactMap { index, group in
            let runs = group.finished.map(\.run)
            guard !runs.isEmpty else { return nil }
            func band(_ value: (EpochMetrics) -> Double?) -> CurveBand {
                var result = CurveBand()
                let lastEpoch = runs.map(\.epochs.count).max() ?? 0
                for epoch in 1...max(1, lastEpoch) {
                    let values = runs.compactMap { $0.epochs.indices.contains(epoch - 1) ? value($0.epochs[epoch - 1]) : nil }
                    guard !values.isEmpty, let m = try? Statistics.mean(values) else { continue }
                    result.epochs.append(epoch)
                    result.mean.append(m)
                    result.std.append((try? Statistics.sampleStandardDeviation(values)) ?? 0)
                }
                return result
            }
            return ConfigurationCurves(name: group.name, colorIndex: index, seedCount: Set(runs.map(\.seed)).count,
                                       foldCount: Set(runs.compactMap(\.fold?.fold)).count,
                                       trainLoss: band(\.trainLoss), testLoss: band(\.testLossOrNaN),
                                       trainAccuracy: band(\.trainAccuracy), testAccuracy: band(\.testAccuracyOrNaN),
                                       validationLoss: band(\.validationLoss), validationAccuracy: band(\.validationAccuracy),
                                       selectedEpochs: Set(runs.filter(\.selectsOnValidation).compactMap(\.selectedEpoch)).sorted())
        }
    }
}
