import AblateCore
import Foundation
import GRDB

/// What `RunStore.merge` did, run by run.
public struct MergeSummary: Equatable, Sendable {
    public enum Action: Equatable, Sendable {
        /// The target did not have this configuration: copied.
        case added
        /// The target had an unfinished copy; the finished one replaced it.
        case replacedUnfinished
        /// Both were finished: the target's copy stays (`identical`: same per-epoch metrics).
        case keptFinished(identical: Bool)
        /// The target already had a copy (finished or not) and the source's is unfinished: the target's stays.
        case keptExisting
        /// Unfinished and `includeUnfinished` was off.
        case skippedUnfinished
    }

    public struct Entry: Equatable, Sendable {
        public var source: String
        public var experiment: String
        public var label: String
        public var configHash: String
        public var action: Action
        /// The run's id in the target database (nil when skipped).
        public var targetID: Int64?
    }

    public var entries: [Entry] = []
    /// Experiments the target did not have.
    public var experimentsAdded: [String] = []

    public var changed: Bool { !experimentsAdded.isEmpty || entries.contains { $0.action == .added || $0.action == .replacedUnfinished } }
}

extension RunStore {
    /// Copies runs from other stores or export documents into this store, in ONE transaction: an error (or a
    /// crash) anywhere leaves this store exactly as it was.
    ///
    /// Runs are matched by experiment name + config hash. A configuration the store lacks is added with its
    /// epochs, predictions, data audit and provenance; a finished run replaces an unfinished copy; of two finished
    /// copies the store's stays (and the entry says whether they were identical; external test results it lacks are
    /// added); unfinished runs are copied only with `includeUnfinished`, as `interrupted` (no process here holds
    /// them). Merging the same source twice changes nothing. An experiment whose definition differs
    /// (`sameDefinition` of the two file texts is false) is refused with `StoreError.definitionConflict`.
    ///
    /// - Parameter afterEachRun: called inside the transaction after each copied run (tests use it to crash
    ///   mid-merge).
    public func merge(_ sources: [(name: String, archive: RunArchive)], includeUnfinished: Bool,
                      sameDefinition: (String, String) -> Bool,
                      afterEachRun: (() -> Void)? = nil) throws -> MergeSummary {
        let now = clock()
        return try write { db in
            var summary = MergeSummary()
            for (source, archive) in sources {
                var experimentIDs: [String: Int64] = [:]
                for e in archive.experiments {
                    if let mine = try ExperimentRow.filter(ExperimentRow.Columns.name == e.name).fetchOne(db) {
                        guard sameDefinition(mine.fileText, e.fileText) else {
                            throw StoreError.definitionConflict(experiment: e.name, source: source, target: path)
                        }
                        experimentIDs[e.name] = mine.id
                    } else {
                        var added = ExperimentRow(name: e.name, fileText: e.fileText, filePath: e.filePath,
                                                  created: e.created, updated: e.updated)
                        try added.insert(db)
                        experimentIDs[e.name] = added.id
                        summary.experimentsAdded.append(e.name)
                    }
                }
                for run in archive.runs {
                    guard let experimentID = experimentIDs[run.experimentName] else {
                        throw StoreError.invalidArchive(path: source, reason: "run '\(run.record.label)' belongs to "
                            + "experiment '\(run.experimentName)', which the source does not define")
                    }
                    let entry = try mergeRun(db, run, experimentID: experimentID, includeUnfinished: includeUnfinished,
                                             now: now)
                    summary.entries.append(MergeSummary.Entry(
                        source: source, experiment: run.experimentName, label: run.record.label,
                        configHash: run.record.configHash, action: entry.action, targetID: entry.id))
                    afterEachRun?()
                }
            }
            return summary
        }
    }

    private func mergeRun(_ db: Database, _ run: RunArchive.Run, experimentID: Int64, includeUnfinished: Bool,
                          now: Date) throws -> (action: MergeSummary.Action, id: Int64?) {
        let incomingFinished = run.record.status == .finished
        let existing = try RunStore.fetchRun(db, experimentID: experimentID, configHash: run.record.configHash)
        guard let existing, let id = existing.id else {
            guard incomingFinished || includeUnfinished else { return (.skippedUnfinished, nil) }
            let id = try insertRun(db, run, experimentID: experimentID)
            return (.added, id)
        }
        switch (existing.status == .finished, incomingFinished) {
        case (true, true):
            // Identical: the same losses and accuracies epoch by epoch (times and throughput may differ).
            func results(_ e: EpochRecord) -> [Double?] {
                [Double(e.metrics.epoch), e.metrics.trainLoss, e.metrics.trainAccuracy, e.metrics.testLoss,
                 e.metrics.testAccuracy]
            }
            let mine = try RunStore.fetchEpochs(db, runID: id).map(results)
            let theirs = run.epochs.map(results)
            // Results of `evaluate` the store lacks are added (a result it has, by name and weights, stays).
            for test in run.externalTests { try RunStore.writeExternalTest(db, runID: id, test, replacing: false) }
            return (.keptFinished(identical: mine == theirs), id)
        case (false, true):
            // A process may still be training the unfinished copy here: it loses its lease at its next write.
            try existing.delete(db)
            return (.replacedUnfinished, try insertRun(db, run, experimentID: experimentID))
        case (_, false):
            return (.keptExisting, id)
        }
    }

    /// Inserts an archived run with its epochs and predictions; returns its new id. A run that was `running` where
    /// it came from is stored as `interrupted`: no process in this store holds it.
    private func insertRun(_ db: Database, _ run: RunArchive.Run, experimentID: Int64) throws -> Int64 {
        let r = run.record
        let status: RunStatus = r.status == .running || r.status == .queued && r.attempts > 0 ? .interrupted : r.status
        var row = RunRow(r, experimentID: experimentID, status: status)
        try row.insert(db)
        let id = row.id!
        for e in run.epochs { try RunStore.writeEpoch(db, runID: id, e.metrics, recordedAt: e.recordedAt) }
        for kind in PredictionKind.allCases {
            let rows = run.predictions.filter { $0.kind == kind }
            guard let epoch = rows.first?.epoch else { continue }
            try RunStore.writePredictions(db, runID: id, kind: kind, epoch: epoch, rows.map(\.prediction))
        }
        for test in run.externalTests { try RunStore.writeExternalTest(db, runID: id, test, replacing: false) }
        return id
    }
}
