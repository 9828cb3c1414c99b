// From the run store to the report's plain input: the only place that knows both. Configurations are the
// matrix axes other than the seed; parameters and multiply-adds come from the engine's own model summary;
// class names from the ImageFolder paths of the stored predictions.
import AblateCore
import Datasets
import ExperimentFile
import Foundation
import Models
import Report
import Store

public enum ReportSourceError: Error, CustomStringConvertible {
    case noExperiments(String)
    case ambiguous([String])
    case empty(String)
    case unknownClass(name: String, experiment: String, known: [String])
    case unknownBaseline(name: String, experiment: String, known: [String])

    public var description: String {
        switch self {
        case .noExperiments(let db): return "\(db) holds no experiments yet: run `ablate run FILE --db \(db)` first"
        case .ambiguous(let names):
            return "the store holds several experiments (\(names.joined(separator: ", "))): choose one with --experiment NAME"
        case .empty(let name): return "experiment '\(name)' has no runs: nothing to report"
        case let .unknownBaseline(name, experiment, known):
            return "--baseline \(name): experiment '\(experiment)' has no configuration of that name; its "
                + "configurations are \(known.joined(separator: ", ")) (choose one of them, or leave --baseline out)"
        case let .unknownClass(name, experiment, known):
            return "--positive \(name): experiment '\(experiment)' has no class of that name; its classes are "
                + "\(known.joined(separator: ", ")) (choose one of them, or leave --positive out)"
        }
    }
}

public struct StoreReport {
    public let experimentName: String
    public let input: ReportInput
    /// The experiment's target (nil when its stored file no longer parses; the report then checks `Target.course`).
    public let target: Target?

    /// Reads one experiment (by name, or the only one in the store) into a report input.
    public init(store: RunStore, databasePath: String, experiment name: String?, baseline: String? = nil,
                positiveClass: String? = nil) throws {
        let experiments = try store.experiments()
        guard !experiments.isEmpty else { throw ReportSourceError.noExperiments(databasePath) }
        let record: ExperimentRecord
        if let name {
            record = try store.experiment(named: name)
        } else {
            guard experiments.count == 1 else { throw ReportSourceError.ambiguous(experiments.map(\.name)) }
            record = experiments[0]
        }
        experimentName = record.name
        var options = Experiment.LoadOptions(checkDataExists: false)
        options.storedText = true
        let parsed: Experiment?
        var unreadable: String?
        do {
            parsed = try Experiment.parse(text: record.fileText, file: record.filePath ?? record.name, options: options)
        } catch {
            parsed = nil
            unreadable = "The experiment file kept with these runs no longer reads (\("\(error)".replacingOccurrences(of: "\n", with: " "))); this report checks "
                + "the course's target (test accuracy ≥ \(Target.course.testAccuracy)) and counts only the runs present."
        }
        target = parsed?.target
        let summaries = try store.listRuns(experiment: record.name)
        guard !summaries.isEmpty else { throw ReportSourceError.empty(record.name) }

        var runs: [ReportRun] = [], order: [String] = [], labelsByClass: [Int: String] = [:]
        var splits: [String: DataSplitNote] = [:]
        var closestPairs: [NearDuplicatePairPicture] = []
        var sizeCache: [String: (Int, Int)] = [:]
        var matchers: [GroupKeyRule: GroupKeyMatcher] = [:]
        for s in summaries {
            let config = try RunConfig.decode(json: s.run.configJSON)
            let configuration = Self.configurationName(label: s.run.label, model: config.model.name)
            if !order.contains(configuration) { order.append(configuration) }
            let predictions = try store.predictions(runID: s.run.id, kind: .last).map(\.prediction)
            // A run that selects on validation reports its selected epoch: the `selected` predictions and their epoch.
            let selected = config.training.selection == .last ? [] : try store.predictions(runID: s.run.id, kind: .selected)
            for p in predictions where labelsByClass[p.label] == nil {
                labelsByClass[p.label] = URL(fileURLWithPath: p.file).deletingLastPathComponent().lastPathComponent
            }
            let classes = config.model.classes ?? max(2, (predictions.first?.probabilities.count) ?? 2)
            let sizeKey = "\(config.model.jsonValue.canonical)|\(classes)|\(config.data.size)"
            if sizeCache[sizeKey] == nil { sizeCache[sizeKey] = try Self.modelSize(config, classes: classes) }
            let (params, macs) = sizeCache[sizeKey]!
            let epochs = try store.epochs(runID: s.run.id).map(\.metrics)
            let grouping = try Self.testGrouping(of: predictions, config: config.data, matchers: &matchers)
            var run = ReportRun(configuration: configuration, seed: config.seed, parameters: params, multiplyAdds: macs,
                                status: s.run.status, epochs: epochs, predictions: predictions,
                                externalTests: try store.externalTests(runID: s.run.id).map {
                                    var result = try Self.externalResult($0)
                                    result.grouping = try Self.testGrouping(of: result.predictions, config: config.data,
                                                                            matchers: &matchers)
                                    return result
                                },
                                testGrouping: grouping, machines: try s.run.machines())
            run.selection = config.training.selection
            run.selectedEpoch = selected.first?.epoch
            run.selectedPredictions = selected.map(\.prediction)
            run.stoppedEarlyAt = s.run.stoppedEarlyAt
            run.fold = Self.fold(of: config.data.split)
            runs.append(run)
            if let json = s.run.dataAuditJSON, let audit = try? JSONDecoder().decode(LeakageAudit.self, from: Data(json.utf8)) {
                let split = config.data.split
                var desc = split.protocol.rawValue
                if let fold = Self.fold(of: split) { desc += " \(fold.folds) folds, fold \(fold.fold)" }
                if let f = split.testFraction, split.protocol != .kfold { desc += ", test \(Int((f * 100).rounded()))%" }
                if let f = split.validationFraction { desc += ", validation \(Int((f * 100).rounded()))%" }
                if let g = split.group { desc += ", by \(g.jsonValue.canonical.replacingOccurrences(of: "\"", with: ""))" }
                if let seed = split.seed { desc += ", seed \(seed)" }
                splits[desc] = DataSplitNote(description: desc, trainFiles: audit.trainFiles, testFiles: audit.testFiles,
                                             testByteIdenticalInTrain: audit.testByteIdenticalInTrain,
                                             testGroupSharedWithTrain: audit.testGroupSharedWithTrain,
                                             groupKey: audit.groupKey, skippedFiles: audit.skippedFiles,
                                             testGroups: grouping.map { Set($0.groupOfFile.values).count } ?? splits[desc]?.testGroups,
                                             testNearDuplicateInTrain: audit.nearDuplicates?.testAgainstTrain?.flagged
                                                 ?? splits[desc]?.testNearDuplicateInTrain,
                                             nearDuplicateRule: audit.nearDuplicates?.thresholds.summary
                                                 ?? splits[desc]?.nearDuplicateRule)
                if closestPairs.isEmpty, let closest = audit.nearDuplicates?.testAgainstTrain?.closest {
                    closestPairs = closest.prefix(Self.contactSheetPairs).map(Self.pairPicture)
                }
            }
        }
        // Configurations in the experiment file's matrix order, not in the order runs reached this store (merged
        // shards, reused runs); names the file no longer has go last.
        if let parsed {
            var rank: [String: Int] = [:]
            for run in parsed.runs {
                let name = Self.configurationName(label: run.label, model: run.config.model.name)
                if rank[name] == nil { rank[name] = rank.count }
            }
            order = order.enumerated().sorted { (rank[$0.element] ?? Int.max, $0.offset) < (rank[$1.element] ?? Int.max, $1.offset) }
                .map(\.element)
        }
        let classCount = (labelsByClass.keys.max() ?? 1) + 1
        let classNames = (0..<max(2, classCount)).map { labelsByClass[$0] ?? "class \($0)" }
        // --positive, else the file's report.positive_class, else PositiveClass's standard choice.
        let wanted = positiveClass ?? parsed?.report.positiveClass
        guard let positive = PositiveClass.index(wanted, in: classNames) else {
            throw ReportSourceError.unknownClass(name: wanted ?? "", experiment: record.name, known: classNames)
        }
        // --baseline, else the file's report.baseline, else the first configuration that is a model without SE.
        let baseline = baseline ?? parsed?.report.baseline
        if let baseline, !order.contains(baseline) {
            throw ReportSourceError.unknownBaseline(name: baseline, experiment: record.name, known: order)
        }
        let chosenBaseline = baseline ?? order.first(where: ModelSpec.isBackboneWithoutSE) ?? order.first
        // The plan: seeds per configuration and configurations of the experiment file (when its stored text still
        // parses), else what the store holds.
        // Seeds are counted, not runs: a k-fold configuration has a run per fold and seed.
        var plannedPerConfiguration: [String: Set<Int>] = [:]
        for run in parsed?.runs ?? [] {
            plannedPerConfiguration[Self.configurationName(label: run.label, model: run.config.model.name), default: []]
                .insert(run.config.seed)
        }
        let seeds = plannedPerConfiguration.values.map(\.count).max() ?? Set(summaries.compactMap(\.run.seed)).count
        var input = ReportInput(title: "ablate report: \(record.name)", runs: runs, configurationOrder: order,
                                baseline: order.count > 1 ? chosenBaseline : nil,
                                plannedSeedsPerConfiguration: seeds > 0 ? seeds : nil,
                                targetAccuracy: (target ?? .course).testAccuracy,
                                classNames: classNames, positiveClass: positive)
        input.description = parsed?.description
        input.warnings = unreadable.map { [$0] } ?? []
        input.plannedRuns = parsed?.runs.count
        input.notYetRun = (parsed?.runs ?? []).map { Self.configurationName(label: $0.label, model: $0.config.model.name) }
            .reduce(into: [String]()) { names, name in if !order.contains(name) && !names.contains(name) { names.append(name) } }
        input.dataSplits = splits.keys.sorted().map { splits[$0]! }
        input.nearDuplicatePairs = closestPairs
        // Without --baseline, each SE model is compared with its own backbone when the experiment has it (SE-ResNet-50
        // with ResNet-50, SE-DenseNet with DenseNet): the "does SE help this network?" pairs.
        if baseline == nil {
            input.comparisons = order.compactMap { name in
                ModelSpec.backboneWithoutSE(of: name).flatMap { order.contains($0) ? ComparisonPair(candidate: name, baseline: $0) : nil }
            }
            if Set(input.comparisons.map(\.baseline)).count <= 1 { input.comparisons = [] }
        }
        self.input = input
    }

    /// Which of a run's test images are copies of one original, by its split's group key (the one its leakage
    /// audit used: the split's `group`, else `photo`); nil when the key groups nothing (every image its own case)
    /// or the split cannot be rebuilt from the stored configuration.
    static func testGrouping(of predictions: [Prediction], config: DataSection,
                             matchers: inout [GroupKeyRule: GroupKeyMatcher]) throws -> TestGrouping? {
        guard !predictions.isEmpty, let rule = try? RunPlan.split(config.split).effectiveGroupKey else { return nil }
        if matchers[rule] == nil { matchers[rule] = try rule.matcher() }
        let matcher = matchers[rule]!
        var groupOfFile: [String: String] = [:]
        for p in predictions { groupOfFile[p.file] = matcher.key(forFileName: (p.file as NSString).lastPathComponent) }
        guard Set(groupOfFile.values).count < groupOfFile.count else { return nil }
        return TestGrouping(unit: rule.name, groupOfFile: groupOfFile)
    }

    /// Pairs on the report's contact sheet (the first split's closest test–training pairs).
    static let contactSheetPairs = 9

    /// A stored near-duplicate pair with both pictures read from where the run found them (nil when a file is not
    /// readable on this machine), shrunk to 128 pixels on the longer side.
    static func pairPicture(_ pair: NearDuplicatePair) -> NearDuplicatePairPicture {
        func picture(_ path: String) -> Thumbnail? {
            guard let image = try? ImageDecoder.decodeFile(path, minimumShorterSide: 128) else { return nil }
            let scale = 128 / Double(max(image.width, image.height))
            let small = Resize.resize(image, width: max(1, Int((Double(image.width) * scale).rounded())),
                                        height: max(1, Int((Double(image.height) * scale).rounded())))
            return Thumbnail(width: small.width, height: small.height, rgb: small.pixels)
        }
        let caption = "Hamming \(pair.hamming) · r \(String(format: "%.3f", pair.similarity))"
            + (pair.isNearDuplicate ? " · flagged (\(pair.signal))" : " · not flagged")
        return NearDuplicatePairPicture(query: (pair.query as NSString).lastPathComponent,
                                        reference: (pair.reference as NSString).lastPathComponent,
                                        queryPicture: picture(pair.query), referencePicture: picture(pair.reference),
                                        caption: caption, flagged: pair.isNearDuplicate)
    }

    /// The fold a k-fold run tests on; nil for every other split.
    static func fold(of split: SplitSection) -> CrossValidationFold? {
        guard split.protocol == .kfold else { return nil }
        return CrossValidationFold(fold: split.fold ?? 0, folds: split.folds ?? SplitSection.defaultFolds)
    }

    /// `model=densenet121-se8 seed=2` → `densenet121-se8`; other axes stay as `key=value`. The seed and the k-fold
    /// fold are not part of a configuration: its runs differ by them.
    static func configurationName(label: String, model: String) -> String {
        let parts = label.split(separator: " ").map(String.init)
            .filter { !$0.hasPrefix("seed=") && !$0.hasPrefix("data.split.fold=") }
        if parts.isEmpty { return model }
        if parts.count == 1, let eq = parts[0].firstIndex(of: "="), ["model", "model.name"].contains(String(parts[0][..<eq])) {
            return String(parts[0][parts[0].index(after: eq)...])
        }
        return parts.joined(separator: " ")
    }

    /// A stored `ablate evaluate` result as the report sees it.
    static func externalResult(_ t: ExternalTest) throws -> ExternalTestResult {
        let audit = try JSONDecoder().decode(ExternalLeakageAudit.self, from: Data(t.auditJSON.utf8))
        return ExternalTestResult(
            name: t.name, weights: t.weights, epoch: t.epoch,
            predictions: t.predictions,
            audit: ExternalAudit(trainFiles: audit.trainFiles, testFiles: audit.testFiles,
                                 byteIdentical: audit.testByteIdenticalInTrain, samePhotograph: audit.testPhotoSharedWithTrain,
                                 samePatient: audit.testPatientSharedWithTrain,
                                 nearDuplicate: audit.nearDuplicates?.flagged))
    }

    static func modelSize(_ c: RunConfig, classes: Int) throws -> (Int, Int) {
        let net = try RunPlan(c).model(classes: classes).build(seed: 0)
        let s = try net.summary(inputSize: c.data.size)
        return (s.parameters, s.multiplyAdds)
    }
}
