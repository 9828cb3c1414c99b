// `ablate run`: claim runs from the store one at a time, train each with checkpoints after every epoch, record
// every epoch and the best / last predictions, and leave the store consistent whatever happens (divergence
// fails one run and the matrix goes on; a stop request interrupts the run and keeps its checkpoint).
import AblateCore
import Checkpoints
import Datasets
import Engine
import ExperimentFile
import Foundation
import Models
import Store
import Training

/// What the executor tells its caller (the CLI renders it; the executor never prints).
public enum RunEvent {
    case enqueued(EnqueueResult, total: Int)
    case dataPrepared(directory: String, synthesized: Bool, audit: LeakageAudit, skipped: [SkippedFile])
    case checkpointSetAside(runID: Int64, label: String, SetAsideCheckpoint)
    /// A fresh run loaded its starting weights (`model.init_from`): the load report's lines.
    case weightsLoaded(runID: Int64, label: String, lines: [String])
    case started(run: RunRecord, label: String, resumedAtEpoch: Int, queueLeft: Int)
    case batch(runID: Int64, BatchProgress)
    case epoch(runID: Int64, label: String, EpochResult, totalEpochs: Int)
    /// The epoch's checkpoint is written: a resume no longer redoes it (trackers log epochs from here).
    case epochSaved(runID: Int64, epoch: Int)
    /// `testAccuracy`: the selected epoch's (`training.select`; the last epoch's by default), the run's headline.
    case finished(runID: Int64, label: String, testAccuracy: Double?, reachedTarget: Bool?)
    case failed(runID: Int64, label: String, message: String)
    case interrupted(runID: Int64, label: String, epochsDone: Int)
}

public struct ExecutorOptions {
    public var databasePath: String
    public var runsDirectory: String
    public var host: String
    /// A running run whose heartbeat is older than this was killed; it is resumed from its checkpoint.
    public var staleAfter: TimeInterval
    public var heartbeatEvery: TimeInterval
    public var threads: Int?
    public var retryFailed: Bool
    public var gitCommit: String?
    public var ablateVersion: String

    public init(databasePath: String, runsDirectory: String = "runs", host: String = Provenance.host,
                staleAfter: TimeInterval = 600, heartbeatEvery: TimeInterval = 10, threads: Int? = nil,
                retryFailed: Bool = false, gitCommit: String? = nil, ablateVersion: String = ablateVersionString) {
        self.databasePath = databasePath; self.runsDirectory = runsDirectory; self.host = host
        self.staleAfter = staleAfter; self.heartbeatEvery = heartbeatEvery; self.threads = threads
        self.retryFailed = retryFailed; self.gitCommit = gitCommit; self.ablateVersion = ablateVersion
    }
}

/// Outcome of one `ablate run`.
public struct ExecutionSummary {
    /// Each finished run's selected-epoch test accuracy and whether it reaches the target (seed by seed; the
    /// report judges the target with intervals).
    public var finished: [(label: String, testAccuracy: Double?, reachedTarget: Bool?)] = []
    public var failed: [(label: String, message: String)] = []
    public var interrupted: (runID: Int64, label: String, epochsDone: Int)?
    /// Selected runs not finished when this process stopped: running in another process, failed earlier (left
    /// alone without --retry-failed), or still queued.
    public var unfinished: [RunSummary] = []
}

public final class RunExecutor {
    let experiment: Experiment
    let selected: [ResolvedRun]
    /// The process's one connection to the store: whatever else in this process reads the store while it trains
    /// (the live trackers) reads through it, since a second open of the file can drop this connection's locks.
    public let store: RunStore
    let options: ExecutorOptions
    let datasets = DatasetCache()
    /// This store's id, written into every checkpoint (see `ForeignCheckpoints`).
    let storeID: String

    public init(experiment: Experiment, runs: [ResolvedRun], options: ExecutorOptions) throws {
        self.experiment = experiment; self.selected = runs; self.options = options
        store = try RunStore(path: options.databasePath)
        storeID = try store.storeID()
    }

    /// Creates a folder for checkpoints, or says which path is in the way and what to do.
    static func createFolder(_ url: URL) throws {
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            let why = ErrorText.obstacle(creatingFolder: url.path) ?? ErrorText.reason(error)
            throw RunnerError.io("cannot create the folder \(url.path) for checkpoints: \(why); "
                + "--runs-dir must name a writable folder (or a path where one can be created)")
        }
    }

    /// Enqueues the selected runs and works through them until none is left or `shouldStop` says so.
    public func execute(shouldStop: @escaping () -> Bool, events: (RunEvent) -> Void) throws -> ExecutionSummary {
        // A runs folder that cannot exist (a file in the way, no permission) would fail every run: stop first.
        try Self.createFolder(URL(fileURLWithPath: options.runsDirectory).appendingPathComponent(experiment.name))
        let (experimentID, enqueued) = try experiment.enqueue(into: store, runs: selected, retryFailed: options.retryFailed)
        events(.enqueued(enqueued, total: selected.count))
        let wanted = selected.map(\.configHash)
        var summary = ExecutionSummary()
        while !shouldStop() {
            guard let claim = try store.claimNextRun(host: options.host, staleAfter: options.staleAfter,
                                                     experimentID: experimentID, configHashes: wanted,
                                                     gitCommit: options.gitCommit, ablateVersion: options.ablateVersion)
            else { break }
            let left = try store.listRuns(experiment: experiment.name).filter { $0.run.status == .queued }.count
            do {
                let outcome = try runOne(claim, queueLeft: left, shouldStop: shouldStop, events: events)
                summary.finished.append(outcome)
                events(.finished(runID: claim.run.id, label: claim.run.label, testAccuracy: outcome.testAccuracy,
                                 reachedTarget: outcome.reachedTarget))
            } catch TrainingError.interrupted(let done) {
                try store.interrupt(claim.lease, message: "stopped by a signal after \(done) epoch(s); run again to resume")
                summary.interrupted = (claim.run.id, claim.run.label, done)
                events(.interrupted(runID: claim.run.id, label: claim.run.label, epochsDone: done))
                break
            } catch let e as StoreError {
                throw e // the store itself is in trouble (e.g. lease lost): stop this process
            } catch {
                let message = ErrorText.describe(error)
                try store.fail(claim.lease, message: message)
                summary.failed.append((claim.run.label, message))
                events(.failed(runID: claim.run.id, label: claim.run.label, message: message))
            }
        }
        summary.unfinished = try store.listRuns(experiment: experiment.name)
            .filter { wanted.contains($0.run.configHash) && $0.run.status != .finished }
        return summary
    }

    /// Folder of one run's checkpoint and best weights: `<runs>/<experiment>/run-<id>-<config hash, 12 digits>/`.
    ///
    /// The hash is in the name because run ids are per store: shards and sittings run with their own `--db` and
    /// often one `--runs-dir`, and every store's first run is run 1. With the id alone, shard 1's run 1 would find
    /// shard 0's run-1 checkpoint, set it aside as foreign and start over, and shard 0 would then lose its resume
    /// point the same way. The id stays in the name for people looking for "run 3".
    public static func runDirectory(_ runsDirectory: String, experiment: String, runID: Int64, configHash: String) -> URL {
        URL(fileURLWithPath: runsDirectory).appendingPathComponent(experiment)
            .appendingPathComponent("run-\(runID)-\(configHash.prefix(12))")
    }

    /// The folder a run had before the config hash was part of the name (`run-<id>`): a run whose checkpoint there
    /// is its own (same store, run and configuration) goes on using it, so an interrupted run still resumes.
    static func existingRunDirectory(_ runsDirectory: String, experiment: String, owner: CheckpointOwner) -> URL {
        let current = runDirectory(runsDirectory, experiment: experiment, runID: owner.runID, configHash: owner.configHash)
        let legacy = URL(fileURLWithPath: runsDirectory).appendingPathComponent(experiment)
            .appendingPathComponent("run-\(owner.runID)")
        let legacyCheckpoint = legacy.appendingPathComponent(RunFiles.checkpoint)
        guard !FileManager.default.fileExists(atPath: current.appendingPathComponent(RunFiles.checkpoint).path),
              let state = try? Checkpoint.readState(from: legacyCheckpoint), state.owner == owner else { return current }
        return legacy
    }

    /// Loads `model.init_from` into a fresh network: the file must be the one the run was queued with (its SHA-256
    /// is in the configuration), so a run never starts from weights other than those its hash names.
    static func loadStartingWeights(_ path: String, sha256: String?, into net: any Network) throws -> LoadReport {
        let resolved = Experiment.resolve(path, against: FileManager.default.currentDirectoryPath)
        let file: CheckpointFile
        do { file = try CheckpointFile(contentsOf: URL(fileURLWithPath: resolved)) } catch {
            throw RunnerError.model("model.init_from: \(resolved): \(ErrorText.describe(error))")
        }
        if let sha256, file.sha256 != sha256 {
            throw RunnerError.model("model.init_from: \(resolved) is not the file this run was queued with (its SHA-256 "
                + "is \(file.sha256.prefix(12))…, the configuration's \(sha256.prefix(12))…); put the original file back, "
                + "or give the new one another name and run the experiment again (a new configuration)")
        }
        do { return try Pretrained.load(file, into: net) } catch {
            throw RunnerError.model("model.init_from: \(resolved): \(ErrorText.describe(error))")
        }
    }

    func runOne(_ claim: ClaimedRun, queueLeft: Int, shouldStop: @escaping () -> Bool,
                events: (RunEvent) -> Void) throws -> (label: String, testAccuracy: Double?, reachedTarget: Bool?) {
        let config = try RunConfig.decode(json: claim.run.configJSON)
        let plan = try RunPlan(config)
        // Each run sets the pool itself: a run without a setting must not inherit the previous run's count.
        let threads = options.threads ?? config.training.threads ?? ProcessInfo.processInfo.activeProcessorCount
        Threads.set(threads)
        try store.recordMachine(claim.lease, Provenance.machine(threads: threads))
        // The folder the experiment file resolved (`~`, relative paths, `--data`): resolved once, when it was read.
        let directory = selected.first { $0.configHash == claim.run.configHash }?.dataDirectory
            ?? Experiment.resolve(config.data.path, against: FileManager.default.currentDirectoryPath)
        let (dataset, synthesized, isNew) = try datasets.prepared(plan, directory: directory)
        if isNew {
            events(.dataPrepared(directory: directory, synthesized: synthesized, audit: dataset.audit, skipped: dataset.cache.skipped))
        }
        try store.setDataAudit(claim.lease, json: String(decoding: try JSONEncoder().encode(dataset.audit), as: UTF8.self))

        let net = try plan.model(classNames: dataset.classNames, directory: directory).build(seed: plan.seed)
        let owner = CheckpointOwner(storeID: storeID, runID: claim.run.id, configHash: claim.run.configHash)
        let dir = Self.existingRunDirectory(options.runsDirectory, experiment: experiment.name, owner: owner)
        try Self.createFolder(dir)
        let checkpoint = dir.appendingPathComponent(RunFiles.checkpoint)
        let best = dir.appendingPathComponent(RunFiles.bestWeights)
        if let moved = try ForeignCheckpoints.setAsideIfForeign(
            checkpoint: checkpoint, best: best, owner: owner, configJSON: claim.run.configJSON,
            epochsRecorded: { try store.epochs(runID: claim.run.id).count }) {
            events(.checkpointSetAside(runID: claim.run.id, label: claim.run.label, moved))
        }
        if !FileManager.default.fileExists(atPath: checkpoint.path), let path = config.model.initFrom {
            let report = try Self.loadStartingWeights(path, sha256: config.model.initFromSHA256, into: net)
            try store.setInitReport(claim.lease, json: String(decoding: try JSONEncoder().encode(report), as: UTF8.self))
            events(.weightsLoaded(runID: claim.run.id, label: claim.run.label, lines: report.lines))
        }
        let selectsOnValidation = plan.training.selection != .last
        let trainer = try Trainer(net: net, config: plan.training, configJSON: claim.run.configJSON,
                                  checkpointURL: checkpoint, bestWeightsURL: best,
                                  selectedWeightsURL: selectsOnValidation ? dir.appendingPathComponent(RunFiles.selectedWeights) : nil,
                                  owner: owner)
        try store.setCheckpoint(claim.lease, path: checkpoint.path)
        events(.started(run: claim.run, label: claim.run.label, resumedAtEpoch: trainer.state.epochsDone, queueLeft: queueLeft))

        if plan.training.needsValidation && dataset.split.validation.isEmpty {
            throw RunnerError.data("training.select / training.early_stop need a validation part, and the split of "
                + "\(directory) has none: set data.split.validation_fraction (or, for a folders split, add a val/ folder)")
        }
        let trainImages = dataset.split.train.count
        guard trainImages == 0 || trainImages >= config.training.batchSize else {
            throw RunnerError.data("training.batch_size is \(config.training.batchSize) but the training split of "
                + "\(directory) has \(trainImages) image(s); every epoch drops its last partial batch, so nothing would "
                + "be trained. Set training.batch_size to at most \(trainImages), or give the training split more images "
                + "(a smaller data.split.test_fraction, or more data)")
        }
        let data = try LoaderEpochData(dataset, plan: plan)
        let files = dataset.cache.files
        var lastBeat = Date()
        let runID = claim.run.id
        // The selected epoch's test accuracy, from the store on a resume (the epochs before it are not redone).
        var selectedAccuracy = try trainer.state.selectedEpoch.flatMap { epoch in
            try store.epochs(runID: runID).first { $0.metrics.epoch == epoch }?.metrics.testAccuracy
        }
        try trainer.run(data, shouldStop: shouldStop, onBatch: { progress in
            events(.batch(runID: runID, progress))
            if Date().timeIntervalSince(lastBeat) >= options.heartbeatEvery {
                try? store.heartbeat(claim.lease)
                lastBeat = Date()
            }
        }, onEpoch: { result in
            try store.recordEpoch(claim.lease, result.metrics)
            let predictions = result.predictions.map {
                Prediction(file: files[$0.index].path, label: $0.label, probabilities: $0.probabilities.map(Double.init))
            }
            try store.recordPredictions(claim.lease, epoch: result.metrics.epoch, kind: .last, predictions)
            if result.isBest { try store.recordPredictions(claim.lease, epoch: result.metrics.epoch, kind: .best, predictions) }
            // With `last`, the last epoch's predictions are the selected ones: nothing is stored twice.
            if result.isSelected { selectedAccuracy = result.metrics.testAccuracy }
            if selectsOnValidation && result.isSelected {
                try store.recordPredictions(claim.lease, epoch: result.metrics.epoch, kind: .selected, predictions)
            }
            lastBeat = Date()
            events(.epoch(runID: runID, label: claim.run.label, result, totalEpochs: config.training.epochs))
        }, onSaved: { epoch in
            events(.epochSaved(runID: runID, epoch: epoch))
        })
        try store.finish(claim.lease, stoppedEarlyAt: trainer.state.stoppedEarlyAt)
        let reached = selectedAccuracy.map(experiment.target.isMet(byTestAccuracy:))
        return (claim.run.label, selectedAccuracy, reached)
    }
}

