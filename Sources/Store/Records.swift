import AblateCore
import Foundation

/// One experiment file as it was when runs were queued from it.
public struct ExperimentRecord: Equatable, Sendable {
    public var id: Int64
    public var name: String
    public var fileText: String
    public var filePath: String?
    public var created: Date
    public var updated: Date
}

/// A run to queue. `configJSON` is the canonical JSON of its resolved configuration and `configHash` its
/// SHA-256 (both made by Runner); within one experiment a hash is queued at most once.
public struct NewRun: Equatable, Sendable {
    public var configJSON: String
    public var configHash: String
    public var label: String
    public var seed: Int?
    public var epochsTotal: Int

    public init(configJSON: String, configHash: String, label: String, seed: Int?, epochsTotal: Int) {
        self.configJSON = configJSON
        self.configHash = configHash
        self.label = label
        self.seed = seed
        self.epochsTotal = epochsTotal
    }
}

/// A run as stored: a row of `runs` (`RunRow`) without the token of the process that holds it.
public struct RunRecord: Equatable, Sendable {
    public var id: Int64
    public var experimentID: Int64
    public var configJSON: String
    public var configHash: String
    public var label: String
    public var seed: Int?
    public var status: RunStatus
    public var epochsTotal: Int
    public var queuedAt: Date
    public var heartbeat: Date?
    public var host: String?
    public var gitCommit: String?
    public var ablateVersion: String?
    public var threads: Int?
    public var startedAt: Date?
    public var endedAt: Date?
    public var errorMessage: String?
    public var checkpointPath: String?
    public var dataAuditJSON: String?
    /// How many times the run was claimed (1 on the first start, more after resumes).
    public var attempts: Int
    /// The process holding a `running` run (nil when none is recorded: not running, or claimed by an older ablate).
    public var leaseHolder: LeaseHolder? = nil
    /// The machines the run trained on, in order, as stored (`Machine.encode`); nil for runs of an ablate that did
    /// not record them. `machines` reads it.
    public var hardwareJSON: String? = nil
    /// The epoch after which early stopping ended the run (fewer epochs than `epochsTotal`, by design); nil when it
    /// trained every epoch.
    public var stoppedEarlyAt: Int? = nil
    /// What loading the run's `model.init_from` weights did (JSON, as the Checkpoints load report writes it); nil
    /// for a run that started from fresh weights.
    public var initReportJSON: String? = nil

    /// The machines the run trained on, in order; empty for runs of an ablate that did not record them.
    public func machines() throws -> [Machine] {
        do { return try Machine.decode(hardwareJSON) } catch {
            throw StoreError.invalidArgument("run \(id) (\(label)): \(error)")
        }
    }

    /// True for a `running` run whose process has certainly exited, as seen from this process on `host`: the next
    /// `ablate run` on this machine resumes it without waiting for its heartbeat to go stale.
    public func holderHasExited(seenFrom host: String) -> Bool {
        guard status == .running, let leaseHolder, let me = LeaseHolder.current(host: host) else { return false }
        return leaseHolder.isGone(seenFrom: me)
    }

    /// True for a `running` run whose process certainly still runs on this machine (`LeaseHolder.isAlive`): no
    /// other process takes it, however old its heartbeat.
    public func holderIsAlive(seenFrom host: String) -> Bool {
        guard status == .running, let leaseHolder, let me = LeaseHolder.current(host: host) else { return false }
        return leaseHolder.isAlive(seenFrom: me)
    }
}

/// Proof that this process holds a claimed run. Every write about the run checks it, so a process whose run was
/// reclaimed by another one (after a stale heartbeat) gets `StoreError.leaseLost` instead of corrupting it.
public struct RunLease: Equatable, Sendable {
    public let runID: Int64
    public let token: String
}

/// What `claimNextRun` hands to the trainer.
public struct ClaimedRun: Equatable, Sendable {
    public var lease: RunLease
    public var run: RunRecord
    /// Epochs already recorded (non-zero when resuming a killed or interrupted run).
    public var epochsDone: Int
    /// True when the run had been started before (stale `running` reclaimed, or an interrupted run re-queued).
    public var isResume: Bool
}

/// One stored epoch row.
public struct EpochRecord: Equatable, Sendable {
    public var runID: Int64
    public var metrics: EpochMetrics
    public var recordedAt: Date
}

/// A run with its progress, as `ablate status` shows it.
public struct RunSummary: Equatable, Sendable {
    public var run: RunRecord
    public var experimentName: String
    public var epochsDone: Int
    /// Best test accuracy over the evaluated epochs, nil before the first evaluation.
    public var bestTestAcc: Double?
    public var bestEpoch: Int?
    public var lastTestAcc: Double?
}

/// Outcome of `enqueue`.
public struct EnqueueResult: Equatable, Sendable {
    /// Newly inserted run ids.
    public var inserted: [Int64] = []
    /// Existing interrupted (or, with retryFailed, failed) runs put back in the queue; they resume.
    public var requeued: [Int64] = []
    /// Existing runs left alone: already queued, running or finished (a finished configuration is never re-run).
    public var skipped: [(id: Int64, status: RunStatus)] = []
    /// Never-started queued runs of the experiment that were not in the list, deleted (with `pruneQueued`).
    public var pruned: [Int64] = []

    public static func == (a: EnqueueResult, b: EnqueueResult) -> Bool {
        a.inserted == b.inserted && a.requeued == b.requeued && a.pruned == b.pruned
            && a.skipped.map(\.id) == b.skipped.map(\.id) && a.skipped.map(\.status) == b.skipped.map(\.status)
    }
}
