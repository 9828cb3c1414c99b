// `ablate evaluate`: score finished runs on a labelled image folder that was never part of their split, with the
// run's own preprocessing (decode, resize, normalisation of its test split), audit the folder against the run's
// training files, and store per-image predictions and metrics with the run.
import AblateCore
import Datasets
import Engine
import ExperimentFile
import Foundation
import Models
import Report
import Store
import Training

/// What `ablate evaluate` was asked to do.
public struct ExternalEvaluationRequest: Sendable {
    /// The labelled folder (ImageFolder layout: one sub-folder per class, named like the run's classes).
    public var directory: String
    /// The name results are stored under; default: the folder's name.
    public var name: String?
    /// Which weights of each run to score.
    public var weights: [PredictionKind]
    /// The folder the runs trained on, when not at the path their configuration names (another machine).
    public var dataOverride: String?
    /// Positive class for sensitivity, specificity and ROC-AUC (default: `PositiveClass`'s standard choice).
    public var positiveClass: String?
    public var threads: Int?

    public init(directory: String, name: String? = nil, weights: [PredictionKind] = [.last, .best],
                dataOverride: String? = nil, positiveClass: String? = nil, threads: Int? = nil) {
        self.directory = directory; self.name = name; self.weights = weights; self.dataOverride = dataOverride
        self.positiveClass = positiveClass; self.threads = threads
    }

    /// The stored name: `name`, or the folder's last path component.
    public var testSetName: String {
        name ?? URL(fileURLWithPath: directory).standardizedFileURL.lastPathComponent
    }
}

/// One run's weights on the folder, as stored.
public struct ExternalEvaluationResult: Sendable {
    public var runID: Int64
    public var label: String
    public var test: ExternalTest
    public var audit: ExternalLeakageAudit
    /// Images of the folder that could not be decoded (left out of every number).
    public var skipped: [SkippedFile]
}

public enum ExternalEvaluationError: Error, CustomStringConvertible {
    case notFinished(runID: Int64, label: String, status: RunStatus)
    case noWeights(runID: Int64, label: String, path: String)
    case trainingDataMissing(runID: Int64, path: String)
    case classMismatch(directory: String, runClasses: [String], folderClasses: [String])
    case noImages(directory: String, skipped: [SkippedFile])

    public var description: String {
        switch self {
        case let .notFinished(id, label, status):
            return "run \(id) (\(label)) is \(status.rawValue): only finished runs are evaluated (see `ablate status`)"
        case let .noWeights(id, label, path):
            return "run \(id) (\(label)) has no weights at \(path): evaluate on the machine (and runs folder) that "
                + "trained it; runs merged from an export carry results, not weights"
        case let .trainingDataMissing(id, path):
            return "run \(id) trained on \(path), which is not here: pass --data PATH (the folder the run trained on), "
                + "so its classes can be matched and the test folder audited against its training files"
        case let .classMismatch(directory, runs, folder):
            let missing = runs.filter { !folder.contains($0) }, extra = folder.filter { !runs.contains($0) }
            var parts: [String] = []
            if !missing.isEmpty { parts.append("it has no folder for \(missing.joined(separator: ", "))") }
            if !extra.isEmpty { parts.append("its folder(s) \(extra.joined(separator: ", ")) are not classes of the run") }
            return "\(directory): class folders must be named like the run's classes (\(runs.joined(separator: ", "))); "
                + parts.joined(separator: " and ") + ". Rename or remove folders so the names match exactly"
        case let .noImages(directory, skipped):
            let shown = skipped.prefix(3).map { "\($0.path) (\($0.reason))" }.joined(separator: "; ")
            return "\(directory) has no readable image" + (skipped.isEmpty ? "" : ": \(shown)")
        }
    }
}

public enum ExternalEvaluation {
    /// Scores every run in `runIDs` with each requested kind of weights and stores the results.
    /// `progress` receives one line per step (the CLI prints it).
    public static func evaluate(store: RunStore, runIDs: [Int64], request: ExternalEvaluationRequest,
                                progress: (String) -> Void = { _ in }) throws -> [ExternalEvaluationResult] {
        let directory = Experiment.resolve(request.directory, against: FileManager.default.currentDirectoryPath)
        let folder = try ImageFolder.scan(directory, minimumClasses: 1)
        let datasets = DatasetCache()
        var results: [ExternalEvaluationResult] = []
        for id in runIDs {
            let run = try store.run(id: id)
            guard run.status == .finished else { throw ExternalEvaluationError.notFinished(runID: id, label: run.label, status: run.status) }
            let config = try RunConfig.decode(json: run.configJSON)
            let plan = try RunPlan(config)
            let trainedOn = request.dataOverride.map { Experiment.resolve($0, against: FileManager.default.currentDirectoryPath) }
                ?? Experiment.resolve(config.data.path, against: FileManager.default.currentDirectoryPath)
            guard FileManager.default.fileExists(atPath: trainedOn) else {
                throw ExternalEvaluationError.trainingDataMissing(runID: id, path: trainedOn)
            }
            let (dataset, _, _) = try datasets.prepared(plan, directory: trainedOn)
            let classNames = dataset.classNames
            guard Set(classNames) == Set(folder.classNames) else {
                throw ExternalEvaluationError.classMismatch(directory: directory, runClasses: classNames, folderClasses: folder.classNames)
            }
            // Labels in the run's class order (the folder's sorted order may differ only if names differ in case).
            let relabelled = folder.files.map {
                ImageFile(path: $0.path, label: classNames.firstIndex(of: folder.classNames[$0.label])!)
            }
            var audit = try ExternalLeakageAudit(test: relabelled, train: dataset.split.train.map { dataset.cache.files[$0] })
            let cache = try ImageCache(files: relabelled, classNames: classNames, options: plan.load,
                                       alreadySkipped: folder.skipped, minimumClasses: 0)
            guard cache.count > 0 else { throw ExternalEvaluationError.noImages(directory: directory, skipped: cache.skipped) }
            // Names prove nothing about a folder from elsewhere: compare how the images look too.
            audit.compareAppearance(test: cache, train: dataset.cache, trainIndices: dataset.split.train)
            let positive = try positiveIndex(request.positiveClass, classNames: classNames)

            var kinds: [PredictionKind] = []
            for kind in request.weights.map({ resolved($0, config: config) }) where !kinds.contains(kind) { kinds.append(kind) }
            for kind in kinds {
                let (net, epoch) = try loadWeights(run, store: store, config: config, classes: classNames.count, kind: kind)
                Threads.set(request.threads ?? config.training.threads ?? ProcessInfo.processInfo.activeProcessorCount)
                progress("run \(id) \(run.label): \(kind.rawValue) weights (epoch \(epoch)) on \(cache.count) images")
                let predictions = try predict(net, cache: cache, plan: plan)
                let test = try summarize(name: request.testSetName, weights: kind, epoch: epoch, directory: directory,
                                         predictions: predictions, classNames: classNames, positive: positive,
                                         audit: audit)
                try store.recordExternalTest(runID: id, test)
                results.append(ExternalEvaluationResult(runID: id, label: run.label, test: test, audit: audit,
                                                        skipped: cache.skipped))
            }
        }
        return results
    }

    /// `selected` for a run that keeps its last epoch is `last` (the same weights, stored and reported as such).
    public static func resolved(_ kind: PredictionKind, config: RunConfig) -> PredictionKind {
        kind == .selected && config.training.selection == .last ? .last : kind
    }

    /// The run's model with its last-epoch (checkpoint), best-epoch (on test) or selected-epoch (on validation)
    /// weights, and the epoch they come from.
    static func loadWeights(_ run: Store.RunRecord, store: RunStore, config: RunConfig, classes: Int,
                            kind: PredictionKind) throws -> (any Network, Int) {
        guard let checkpoint = run.checkpointPath else {
            throw ExternalEvaluationError.noWeights(runID: run.id, label: run.label, path: "(no checkpoint recorded)")
        }
        guard FileManager.default.fileExists(atPath: checkpoint) else {
            throw ExternalEvaluationError.noWeights(runID: run.id, label: run.label, path: checkpoint)
        }
        try ForeignCheckpoints.requireOwned(checkpoint: checkpoint, run: run, store: store)
        let net = try RunPlan(config).model(classes: config.model.classes ?? classes).build(seed: 0)
        switch kind {
        case .last:
            return (net, try Checkpoint.loadWeights(net, from: URL(fileURLWithPath: checkpoint)).epochsDone)
        case .best, .selected:
            guard resolved(kind, config: config) == kind else { return try loadWeights(run, store: store, config: config, classes: classes, kind: .last) }
            let folder = URL(fileURLWithPath: checkpoint).deletingLastPathComponent()
            let file = folder.appendingPathComponent(kind == .best ? RunFiles.bestWeights : RunFiles.selectedWeights)
            guard FileManager.default.fileExists(atPath: file.path) else {
                throw ExternalEvaluationError.noWeights(runID: run.id, label: run.label, path: file.path)
            }
            let (tensors, metadata) = try Safetensors.read(file)
            try net.store.load(stateDict: tensors)
            return (net, Int(metadata["epoch"] ?? "") ?? 0)
        }
    }

    /// Eval-mode class probabilities for every cached image, in batches of the run's batch size.
    static func predict(_ net: any Network, cache: ImageCache, plan: RunPlan) throws -> [Prediction] {
        let size = plan.load.size, batch = max(1, min(plan.training.batchSize, cache.count))
        let input = Tensor([batch, size, size, 3])
        var labels = [Int32](repeating: 0, count: batch)
        var predictions: [Prediction] = []
        for start in stride(from: 0, to: cache.count, by: batch) {
            let members = Array(start..<min(start + batch, cache.count))
            labels.withUnsafeMutableBufferPointer {
                cache.assembleBatch(members, epoch: 0, augmentation: nil, normalization: plan.normalization,
                                    images: input.data, labels: $0.baseAddress!)
            }
            let chunk: Tensor
            if members.count == batch { chunk = input } else {
                chunk = Tensor([members.count, size, size, 3])
                chunk.data.update(from: input.data, count: chunk.count)
            }
            let logits = try net.forward(chunk, training: false)
            let probabilities = CrossEntropy.softmax(logits.data, batch: members.count, classes: net.classes)
            for (n, i) in members.enumerated() {
                predictions.append(Prediction(file: cache.files[i].path, label: cache.files[i].label,
                                                    probabilities: probabilities[n].map(Double.init)))
            }
        }
        return predictions
    }

    /// Accuracy and positive-vs-rest metrics (the report's own functions), packed as a stored result.
    static func summarize(name: String, weights: PredictionKind, epoch: Int, directory: String,
                          predictions: [Prediction], classNames: [String], positive: Int,
                          audit: ExternalLeakageAudit) throws -> ExternalTest {
        let correct = predictions.filter { $0.predicted == $0.label }.count
        let binary = try ClassificationMetrics.binary(
            predictions: predictions, positiveClass: positive)
        let auditJSON = String(decoding: try JSONEncoder().encode(audit), as: UTF8.self)
        return ExternalTest(name: name, weights: weights, epoch: epoch, directory: directory,
                            accuracy: Double(correct) / Double(predictions.count), positiveClass: classNames[positive],
                            sensitivity: binary.sensitivity, specificity: binary.specificity, rocAUC: binary.rocAUC,
                            auditJSON: auditJSON, evaluatedAt: Date(), predictions: predictions)
    }

    /// The positive class by name (case-insensitive), else `PositiveClass`'s standard choice.
    static func positiveIndex(_ wanted: String?, classNames: [String]) throws -> Int {
        guard let index = PositiveClass.index(wanted, in: classNames) else {
            throw RunnerError.data("--positive \(wanted ?? ""): the run's classes are \(classNames.joined(separator: ", "))")
        }
        return index
    }
}
