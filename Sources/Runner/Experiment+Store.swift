// Where the experiment language meets the run store: a resolved run as the store queues it, and queueing.
import AblateCore
import ExperimentFile
import Store

extension ResolvedRun {
    /// What the run store queues for this run.
    public var newRun: NewRun {
        NewRun(configJSON: canonicalJSON, configHash: configHash, label: label, seed: config.seed,
               epochsTotal: config.training.epochs)
    }
}

extension Experiment {
    /// Records the experiment and queues `runs` (default: all) in the run store, deduplicated by config hash.
    /// `pruneQueued` drops never-started queued runs of this experiment that are not among them (see
    /// `RunStore.enqueue`).
    public func enqueue(into store: RunStore, runs selected: [ResolvedRun]? = nil, retryFailed: Bool = false,
                        pruneQueued: Bool = false) throws -> (experimentID: Int64, result: EnqueueResult) {
        let id = try store.upsertExperiment(name: name, fileText: fileText, filePath: filePath)
        let result = try store.enqueue(experimentID: id, runs: (selected ?? runs).map(\.newRun),
                                       retryFailed: retryFailed, pruneQueued: pruneQueued)
        return (id, result)
    }
}
