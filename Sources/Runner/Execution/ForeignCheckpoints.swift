// A runs folder outlives its database: delete `runs/ablate.sqlite` to start over and the new store's run 1 finds
// `runs/<experiment>/run-1/checkpoint.safetensors` of the old store's run 1. Resuming from it would skip epochs
// this store never recorded, so before a run starts its checkpoint must prove it belongs to this store's run;
// one that does not is renamed aside (never deleted) and the run starts from scratch.
import Foundation
import Store
import Training

/// A checkpoint (and the best weights next to it) moved out of a run's way.
public struct SetAsideCheckpoint: Sendable {
    public let path: String
    public let movedTo: String
    /// Whose it is, in words ("it belongs to another run store (…)").
    public let reason: String
}

enum ForeignCheckpoints {
    /// Checks the checkpoint at `checkpoint` against `owner`; a foreign one (and `best`, written by the same run)
    /// is renamed to `<name>.foreign-<UTC time>`. Returns what was moved, nil when the checkpoint is this run's or
    /// there is none.
    static func setAsideIfForeign(checkpoint: URL, best: URL, owner: CheckpointOwner, configJSON: String,
                                  epochsRecorded: () throws -> Int, now: Date = Date()) throws -> SetAsideCheckpoint? {
        guard FileManager.default.fileExists(atPath: checkpoint.path) else { return nil }
        // An unreadable checkpoint is left where it is: the trainer refuses it with the file's own error.
        guard let state = try? Checkpoint.readState(from: checkpoint),
              let reason = try foreignReason(state, owner: owner, configJSON: configJSON,
                                             epochsRecorded: epochsRecorded) else { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let suffix = ".foreign-" + formatter.string(from: now)
        let moved = URL(fileURLWithPath: checkpoint.path + suffix)
        try move(checkpoint, to: moved)
        if FileManager.default.fileExists(atPath: best.path) {
            try move(best, to: URL(fileURLWithPath: best.path + suffix))
        }
        return SetAsideCheckpoint(path: checkpoint.path, movedTo: moved.path, reason: reason)
    }

    /// Why a checkpoint with `state` is not the run `owner`'s, in words; nil when it is.
    static func foreignReason(_ state: CheckpointState, owner: CheckpointOwner, configJSON: String,
                              epochsRecorded: () throws -> Int) throws -> String? {
        switch state.owner {
        case .some(let found) where found == owner:
            return nil
        case .some(let found) where found.storeID != owner.storeID:
            return "it belongs to another run store (\(found)); this run is \(owner)"
        case .some(let found):
            return "it belongs to another run of this store (\(found)); this run is \(owner)"
        case .none:
            // Written before checkpoints named their owner: still this run's only if the configuration matches
            // and this store already recorded every epoch the checkpoint claims to have finished.
            let recorded = try epochsRecorded()
            if state.configJSON == configJSON && recorded >= state.epochsDone { return nil }
            return "it names no run store, and this store has \(recorded) of its \(state.epochsDone) epoch(s) "
                + (state.configJSON == configJSON ? "recorded" : "recorded and a different configuration")
        }
    }

    /// Refuses to score with weights that are not `run`'s: `ablate evaluate` and `ablate predict` read the files
    /// in the folder the store recorded, and files of another configuration copied there would otherwise be scored
    /// and stored as this run's. Scoring asks less than resuming does: weights of the same configuration with as
    /// many epochs as the store recorded are the run's result, whichever store trained them (a run merged from a
    /// shard still points at the shard's folder, whose checkpoint names the shard's store and run id). The best
    /// weights are written by the run that writes the checkpoint beside them, so the checkpoint answers for both.
    static func requireOwned(checkpoint: String, run: RunRecord, store: RunStore) throws {
        let url = URL(fileURLWithPath: checkpoint)
        let state: CheckpointState
        do { state = try Checkpoint.readState(from: url) } catch {
            throw RunnerError.io("run \(run.id) (\(run.label)): cannot tell whose weights are in "
                + "\(url.deletingLastPathComponent().path): its checkpoint cannot be read (\(error)); score runs on "
                + "the machine and runs folder that trained them")
        }
        let recorded = try store.epochs(runID: run.id).count
        let reason: String
        switch state.owner {
        case .some(let found) where found.configHash == run.configHash && state.epochsDone == recorded:
            return
        case .some(let found) where found.configHash != run.configHash:
            reason = "they are the weights of another configuration (\(found)); this run's config hash is "
                + "\(run.configHash.prefix(12))"
        case .some:
            reason = "they hold \(state.epochsDone) epoch(s) and this run recorded \(recorded)"
        case .none:
            let owner = CheckpointOwner(storeID: try store.storeID(), runID: run.id, configHash: run.configHash)
            guard let why = try foreignReason(state, owner: owner, configJSON: run.configJSON,
                                              epochsRecorded: { recorded }) else { return }
            reason = why
        }
        throw RunnerError.io("run \(run.id) (\(run.label)): the weights in \(url.deletingLastPathComponent().path) "
            + "are not this run's: \(reason). Score the run with the store and runs folder that trained it, or "
            + "train it again")
    }

    static func move(_ from: URL, to: URL) throws {
        guard rename(from.path, to.path) == 0 else {
            throw RunnerError.io("cannot move the foreign checkpoint \(from.path) aside to \(to.path): "
                                 + String(cString: strerror(errno)) + "; move it away by hand and run again")
        }
    }
}
